/**
 * The server's once-a-second measurements (a Sample): heap and ArrayBuffers
 * after a forced GC, RSS, open file descriptors, live weft tasks, event-loop
 * delay.
 *
 * The heap is read right after `gc()` (the child runs with --expose-gc), so
 * that it is the live heap: without it, heapUsed swings by tens of MB with
 * V8's collection schedule, and a slow leak hides in the swing. The GC's
 * pause falls in the next second's event-loop delay; its longest is reported
 * in the totals, so that the ELD series can be read against it.
 */
import { readdirSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Sample } from "../protocol.ts";

declare const gc: (() => void) | undefined;

/** Open descriptors of this process (Linux; elsewhere -1). */
function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1;
  }
}

export interface SamplerSources {
  /** Live weft tasks. */
  tasks(): number;
  requests(): number;
  connections(): number;
}

export class Sampler {
  readonly #sources: SamplerSources;
  readonly #delay = monitorEventLoopDelay({ resolution: 10 });
  /** The same over the whole run (never reset). */
  readonly #wholeRun = monitorEventLoopDelay({ resolution: 10 });
  readonly #start = performance.now();
  slowestGcMs = 0;

  constructor(sources: SamplerSources) {
    if (typeof gc !== "function") throw new Error("the soak server needs --expose-gc");
    this.#sources = sources;
    this.#delay.enable();
    this.#wholeRun.enable();
  }

  /** Event-loop delay over the whole run so far, p99 and max (ms). */
  wholeRunDelay(): { p99: number; max: number } {
    return { p99: this.#wholeRun.percentile(99) / 1e6, max: this.#wholeRun.max / 1e6 };
  }

  /** The sample of the second since the last one. */
  take(): Sample {
    const eldP99Ms = this.#delay.percentile(99) / 1e6;
    const eldMaxMs = this.#delay.max / 1e6;
    this.#delay.reset();
    const before = performance.now();
    gc!();
    this.slowestGcMs = Math.max(this.slowestGcMs, performance.now() - before);
    const memory = process.memoryUsage();
    return {
      t: (performance.now() - this.#start) / 1000,
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
      fds: openFds(),
      tasks: this.#sources.tasks(),
      eldP99Ms: Number.isFinite(eldP99Ms) ? eldP99Ms : 0,
      eldMaxMs: Number.isFinite(eldMaxMs) ? eldMaxMs : 0,
      requests: this.#sources.requests(),
      connections: this.#sources.connections(),
    };
  }

  close(): void {
    this.#delay.disable();
    this.#wholeRun.disable();
  }
}
