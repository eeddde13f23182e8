/** Durations on the command line: "600", "90s", "10m", "1h" (seconds when unitless). */
const UNITS: Readonly<Record<string, number>> = { "": 1, s: 1, m: 60, h: 3600 };

/** Seconds, or a RangeError naming the bad value. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  const seconds = match === null ? Number.NaN : Number(match[1]) * UNITS[match[2] ?? ""]!;
  if (!(seconds > 0))
    throw new RangeError(`--duration ${JSON.stringify(text)}: expected e.g. 600, 90s, 10m`);
  return seconds;
}
