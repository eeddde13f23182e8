/**
 * Formats a time in milliseconds for people: up to three decimals (trace
 * times are whole microseconds), trailing zeros dropped, seconds above 10 s.
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) >= 10_000) return `${trim((ms / 1000).toFixed(3))} s`;
  return `${trim(ms.toFixed(3))} ms`;
}

function trim(fixed: string): string {
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}
