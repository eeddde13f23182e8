import { escapeMarkup } from "./escape-markup.ts";
import { timelinePalette as palette } from "./timeline-palette.ts";

/** The kinds of mark a timeline legend can explain. */
export type LegendEntry =
  | "running"
  | "blocked"
  | "cancelled"
  | "scope"
  | "deadline"
  | "spawn"
  | "wake"
  | "merged";

const labels: Record<LegendEntry, string> = {
  running: "running (a step)",
  blocked: "blocked (a wait, labelled with what it waits for)",
  cancelled: "cancelled",
  scope: "cancel scope",
  deadline: "cancel scope with a deadline",
  spawn: "spawn",
  wake: "wake-up",
  merged: "short slices merged",
};

function swatch(entry: LegendEntry): string {
  switch (entry) {
    case "running":
      return `<rect x="0" y="-9" width="20" height="12" fill="${palette.running}"/>`;
    case "blocked":
      return `<rect x="0" y="-6" width="20" height="6" fill="${palette.blocked}" fill-opacity="0.55"/>`;
    case "cancelled":
      return (
        `<line x1="10" y1="-11" x2="10" y2="5" stroke="${palette.cancelled}" stroke-width="1.5"/>` +
        `<path d="M6,-7L14,1M6,1L14,-7" stroke="${palette.cancelled}" stroke-width="2.5"/>`
      );
    case "scope":
      return `<rect x="0.5" y="-10" width="20" height="14" fill="none" stroke="${palette.scope}" stroke-dasharray="4,2"/>`;
    case "deadline":
      return `<rect x="0.5" y="-10" width="20" height="14" fill="none" stroke="${palette.deadline}" stroke-width="1.6"/>`;
    case "spawn":
    case "wake": {
      const colour = entry === "spawn" ? palette.spawn : palette.wake;
      const dash = entry === "wake" ? ` stroke-dasharray="3,2"` : "";
      return (
        `<path d="M0,-3L18,-3" stroke="${colour}"${dash}/>` +
        `<path d="M14,-6L19,-3L14,0" fill="none" stroke="${colour}"/>`
      );
    }
    case "merged":
      return `<rect x="0" y="-9" width="20" height="12" fill="${palette.running}" fill-opacity="0.45" stroke="${palette.running}" stroke-width="0.5"/>`;
  }
}

/**
 * The legend as SVG: a swatch drawn like the mark it explains and its label
 * per entry, flowing left to right from (`x`, `y`) and wrapping at `width`.
 */
export function timelineLegend(
  entries: readonly LegendEntry[],
  x: number,
  y: number,
  width: number,
): { svg: string; height: number } {
  const lineHeight = 20;
  let dx = 0;
  let line = 0;
  const items: string[] = [];
  for (const entry of entries) {
    const label = labels[entry];
    const itemWidth = 26 + label.length * 6 + 18;
    if (dx > 0 && dx + itemWidth > width) {
      dx = 0;
      line++;
    }
    items.push(
      `<g class="weft-legend-item" transform="translate(${x + dx},${y + 12 + line * lineHeight})">` +
        `${swatch(entry)}<text x="26" y="0" font-size="12" fill="${palette.text}">${escapeMarkup(label)}</text></g>`,
    );
    dx += itemWidth;
  }
  return {
    svg: `<g class="weft-legend" aria-label="legend">${items.join("")}</g>`,
    height: (line + 1) * lineHeight,
  };
}
