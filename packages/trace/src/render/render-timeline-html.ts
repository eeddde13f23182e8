import { checkOptionsObject } from "@weft/core/validate";
import type { TraceFile } from "../trace-format.ts";
import { escapeMarkup } from "./escape-markup.ts";
import { formatMs } from "./format-ms.ts";
import { renderTimeline, type TimelineOptions } from "./render-timeline-svg.ts";

/** Options of {@link renderTimelineHtml}. */
export interface TimelineHtmlOptions extends TimelineOptions {
  /** The trace's file name, shown in the header and the page title. */
  readonly fileName?: string;
}

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #f8fafc; color: #1f2937;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { padding: 14px 20px 10px; background: #ffffff; border-bottom: 1px solid #e5e7eb; }
h1 { margin: 0 0 4px; font-size: 18px; }
dl { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0; }
dl div { display: flex; gap: 6px; }
dt { color: #4b5563; }
dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
.note { margin: 6px 0 0; color: #a63d00; font-weight: 600; }
main { padding: 14px 20px 40px; }
.timeline { overflow-x: auto; background: #ffffff; border: 1px solid #e5e7eb; border-radius: 6px; }
.timeline svg { display: block; }
#weft-details { position: fixed; z-index: 10; max-width: 420px; padding: 6px 9px; pointer-events: none;
  background: #111827; color: #f9fafb; border-radius: 5px; font-size: 12px; white-space: pre-line;
  box-shadow: 0 2px 8px rgb(0 0 0 / 0.25); }
#weft-details[hidden] { display: none; }
.hint { color: #4b5563; font-size: 12px; margin: 8px 0 0; }
`;

// Shows a mark's <title> in a tooltip that follows the pointer (the native
// tooltip shows it too, late); the <title> is kept for accessibility.
const SCRIPT = `
(() => {
  const tip = document.getElementById("weft-details");
  const svg = document.querySelector(".timeline svg");
  if (!tip || !svg) return;
  const titleOf = (target) => {
    for (let node = target; node && node !== svg; node = node.parentNode) {
      const title = node.firstElementChild;
      if (title && title.tagName.toLowerCase() === "title") return title.textContent;
    }
    return null;
  };
  svg.addEventListener("pointermove", (event) => {
    const text = titleOf(event.target);
    if (text === null) { tip.hidden = true; return; }
    tip.textContent = text;
    tip.hidden = false;
    const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = event.clientY + 16 + tip.offsetHeight > window.innerHeight
      ? event.clientY - tip.offsetHeight - 10 : event.clientY + 16;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  });
  svg.addEventListener("pointerleave", () => { tip.hidden = true; });
})();
`;

/**
 * Renders a trace file as a static, self-contained HTML page: a header (the
 * file name, task and nursery counts, duration, dropped events, notes on
 * what was left out), the {@link renderTimelineSvg} timeline inline, and a
 * small inline script that shows a mark's details in a tooltip on hover. No
 * network: no external scripts, styles or fonts.
 */
export function renderTimelineHtml(trace: TraceFile, options: TimelineHtmlOptions = {}): string {
  checkOptionsObject("options", options);
  const { svg, summary } = renderTimeline(trace, {
    ...options,
    subtitle: options.subtitle ?? options.fileName,
  });
  const title = options.title ?? "weft trace timeline";
  const pageTitle = options.fileName === undefined ? title : `${options.fileName} — ${title}`;
  const facts: [string, string][] = [
    ...(options.fileName === undefined ? [] : ([["file", options.fileName]] as [string, string][])),
    ["tasks", String(summary.tasks)],
    ["nurseries", String(summary.nurseries)],
    ["duration", formatMs(summary.durationMs)],
    ["dropped events", String(summary.dropped)],
  ];
  const dl = facts
    .map(
      ([term, value]) => `<div><dt>${escapeMarkup(term)}</dt><dd>${escapeMarkup(value)}</dd></div>`,
    )
    .join("");
  const notes = summary.notes.map((note) => `<p class="note">${escapeMarkup(note)}</p>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeMarkup(pageTitle)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeMarkup(title)}</h1>
<dl>${dl}</dl>
${notes}
</header>
<main>
<div class="timeline">${svg}</div>
<p class="hint">Hover a bar, cross, outline or arrow for its details. Steps are full bars, waits thin bars.</p>
</main>
<div id="weft-details" role="tooltip" hidden></div>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
