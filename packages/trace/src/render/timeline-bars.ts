import type { TimelineSlice } from "./timeline-model.ts";

/** A bar the timeline draws: one step or wait, or several short ones merged. */
export interface TimelineBar {
  /** The dominant kind (by time) for merged bars. */
  readonly kind: "step" | "wait";
  readonly row: string;
  readonly task: string;
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly clock: number | undefined;
  /** How many slices were merged into this bar (1 for a single slice). */
  readonly count: number;
  readonly runningMs: number;
  readonly blockedMs: number;
}

/** The bars to draw and how many slices were merged to stay within the budget. */
export interface TimelineBars {
  readonly bars: TimelineBar[];
  /** Slices merged into multi-slice bars (0 when every slice is drawn on its own). */
  readonly merged: number;
}

const single = (slice: TimelineSlice): TimelineBar => {
  const duration = slice.end - slice.start;
  return {
    kind: slice.kind === "wait" ? "wait" : "step",
    row: slice.row,
    task: slice.task,
    name: slice.name,
    start: slice.start,
    end: slice.end,
    clock: slice.clock,
    count: 1,
    runningMs: slice.kind === "step" ? duration : 0,
    blockedMs: slice.kind === "wait" ? duration : 0,
  };
};

function merge(group: TimelineSlice[]): TimelineBar {
  if (group.length === 1) return single(group[0]!);
  let runningMs = 0;
  let blockedMs = 0;
  let steps = 0;
  for (const slice of group) {
    const duration = slice.end - slice.start;
    if (slice.kind === "step") {
      runningMs += duration;
      steps++;
    } else blockedMs += duration;
  }
  const first = group[0]!;
  const last = group[group.length - 1]!;
  return {
    kind: runningMs >= blockedMs ? "step" : "wait",
    row: first.row,
    task: first.task,
    name: `${steps} steps and ${group.length - steps} waits merged`,
    start: first.start,
    end: last.end,
    clock: first.clock,
    count: group.length,
    runningMs,
    blockedMs,
  };
}

/**
 * Turns steps and waits into bars, at most about `budget` of them: when
 * there are more slices than that, consecutive short slices on a row
 * (shorter than a threshold that starts at one pixel, `msPerPx`, and doubles
 * until the bars fit) are merged into bars spanning at most the threshold.
 */
export function timelineBars(
  slices: readonly TimelineSlice[],
  budget: number,
  msPerPx: number,
): TimelineBars {
  const drawn = slices.filter((slice) => slice.kind !== "scope");
  if (drawn.length <= budget) return { bars: drawn.map(single), merged: 0 };
  const byRow = new Map<string, TimelineSlice[]>();
  for (const slice of drawn) {
    const list = byRow.get(slice.row) ?? [];
    list.push(slice);
    byRow.set(slice.row, list);
  }
  for (const list of byRow.values()) list.sort((a, b) => a.start - b.start);
  let threshold = Math.max(msPerPx, Number.MIN_VALUE);
  for (;;) {
    const bars: TimelineBar[] = [];
    let merged = 0;
    for (const list of byRow.values()) {
      let group: TimelineSlice[] = [];
      const flush = (): void => {
        if (group.length === 0) return;
        if (group.length > 1) merged += group.length;
        bars.push(merge(group));
        group = [];
      };
      for (const slice of list) {
        const short = slice.end - slice.start < threshold;
        if (!short) {
          flush();
          bars.push(single(slice));
          continue;
        }
        const first = group[0];
        const previous = group[group.length - 1];
        if (
          previous !== undefined &&
          (slice.start - previous.end >= threshold || slice.end - first!.start > threshold)
        ) {
          flush();
        }
        group.push(slice);
      }
      flush();
    }
    // Bounded: once the threshold exceeds the whole span, each row is one bar
    // plus its long slices, which cannot all be long.
    if (bars.length <= budget || threshold > 1e12) return { bars, merged };
    threshold *= 2;
  }
}
