/**
 * The series the soak watches, each drawn in a panel of the chart and judged
 * by the trend test: how to read it from a sample, its unit and resolution.
 */
import type { Sample } from "../protocol.ts";

export interface SeriesSpec {
  readonly key: "heap" | "buffers" | "rss" | "fds" | "tasks" | "eld";
  readonly label: string;
  readonly unit: string;
  readonly value: (sample: Sample) => number;
  /** The smallest step it can take (the trend test's least noise). */
  readonly resolution: number;
  /** It rises in steps that are not leaks (the trend test's `steps`). */
  readonly steps?: boolean;
}

export const SERIES: readonly SeriesSpec[] = [
  {
    key: "heap",
    label: "heap used after GC",
    unit: "MB",
    value: (s) => s.heapUsedBytes / 1e6,
    resolution: 0,
  },
  {
    key: "buffers",
    label: "ArrayBuffers after GC",
    unit: "MB",
    // Buffers' memory lives outside the JS heap: a leak of retained chunks
    // barely moves heapUsed (a small wrapper each) and, since RSS is judged
    // by quarters, shows first here.
    value: (s) => s.arrayBuffersBytes / 1e6,
    // A 64 KiB read buffer of each of a few connections in flight at the
    // sample: four of them are not a trend.
    resolution: 0.25,
  },
  {
    key: "rss",
    label: "RSS",
    unit: "MB",
    value: (s) => s.rssBytes / 1e6,
    // RSS moves in the allocators' steps (V8's 256 KiB pages, glibc's 128 KiB
    // top pad and more): a few of them are not a trend.
    resolution: 1,
    // And it keeps part of a burst: a spike of buffers in flight often leaves
    // it a few MB higher (steps of 2-6 MB, every 10-20 s in the first minute,
    // minutes apart later; now and then 2-4 MB lower when the allocators give
    // memory back), a high-water mark rather than a leak.
    steps: true,
  },
  { key: "fds", label: "open file descriptors", unit: "", value: (s) => s.fds, resolution: 1 },
  { key: "tasks", label: "live weft tasks", unit: "", value: (s) => s.tasks, resolution: 1 },
  {
    key: "eld",
    label: "event-loop delay p99 (per second)",
    unit: "ms",
    value: (s) => s.eldP99Ms,
    // monitorEventLoopDelay samples with a 10 ms timer, and a second's p99 is
    // its one or two longest delays (a GC pause, another process taking the
    // core): steps under 10 ms are within what it can tell apart.
    resolution: 10,
  },
];
