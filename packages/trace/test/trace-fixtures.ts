/**
 * Hand-built trace files for the renderer's tests, written from the format's
 * conventions (src/trace-format.ts) alone: a process per nursery (pid 0 the
 * root task's track), a thread per task, metadata naming and ordering them,
 * `X` step/wait/scope slices, `i` cancel instants, spawn and wake flows.
 */
import type { TraceEvent, TraceFile } from "../src/trace-format.ts";

/** Builds a trace file event by event; times in microseconds. */
export class TraceBuilder {
  readonly events: TraceEvent[] = [];
  #flowId = 0;

  nursery(pid: number, name: string, sortIndex: number): this {
    this.events.push(
      { ph: "M", name: "process_name", pid, args: { name } },
      { ph: "M", name: "process_sort_index", pid, args: { sort_index: sortIndex } },
    );
    return this;
  }

  task(pid: number, tid: number, name: string, sortIndex: number): this {
    this.events.push(
      { ph: "M", name: "thread_name", pid, tid, args: { name: `${name} #${tid}` } },
      { ph: "M", name: "thread_sort_index", pid, tid, args: { sort_index: sortIndex } },
    );
    return this;
  }

  step(pid: number, tid: number, ts: number, dur: number, clock = ts / 1000): this {
    this.events.push({ ph: "X", cat: "step", name: "running", pid, tid, ts, dur, args: { clock } });
    return this;
  }

  wait(pid: number, tid: number, ts: number, dur: number, what: string, clock = ts / 1000): this {
    this.events.push({ ph: "X", cat: "wait", name: what, pid, tid, ts, dur, args: { clock } });
    return this;
  }

  scope(
    pid: number,
    tid: number,
    ts: number,
    dur: number,
    deadline?: number,
    clock = ts / 1000,
  ): this {
    const args = deadline === undefined ? { clock } : { clock, deadline };
    this.events.push({ ph: "X", cat: "scope", name: "cancel scope", pid, tid, ts, dur, args });
    return this;
  }

  cancel(pid: number, tid: number, ts: number, reason: string, source: string): this {
    this.events.push({
      ph: "i",
      s: "t",
      cat: "cancel",
      name: "cancelled",
      pid,
      tid,
      ts,
      args: { reason, source },
    });
    return this;
  }

  flow(
    cat: "spawn" | "wake",
    from: readonly [pid: number, tid: number, ts: number],
    to: readonly [pid: number, tid: number, ts: number],
  ): this {
    const id = ++this.#flowId;
    this.events.push(
      { ph: "s", cat, name: cat, id, pid: from[0], tid: from[1], ts: from[2] },
      { ph: "f", bp: "e", cat, name: cat, id, pid: to[0], tid: to[1], ts: to[2] },
    );
    return this;
  }

  build(dropped = 0): TraceFile {
    return {
      traceEvents: [...this.events],
      displayTimeUnit: "ms",
      otherData: { weft: { version: 1, dropped } },
    };
  }
}

/** Task names of {@link sampleTrace}, with ids, in tree order. */
export const sampleTasks = [
  "main #1",
  "fetch users #2",
  "fetch orders #3",
  "watchdog #4",
  "retry <orders> & co #5",
] as const;

/** What the waits of {@link sampleTrace} wait for. */
export const sampleWaits = [
  "nursery to close",
  "sleep",
  "a segment on socket #7",
  "Event.wait",
  "Semaphore.acquire",
] as const;

/**
 * A small run: `main` opens a nursery with two fetchers and a watchdog; the
 * orders fetcher opens a nursery for a retry under a deadline, which cancels
 * it. Virtual clock = real time here (ms).
 */
export function sampleTrace(dropped = 0): TraceFile {
  const b = new TraceBuilder()
    .nursery(0, "root task", 0)
    .task(0, 1, "main", 0)
    .nursery(1, 'nursery #1 in task "main"', 1)
    .task(1, 2, "fetch users", 1)
    .task(1, 3, "fetch orders", 2)
    .task(1, 4, "watchdog", 3)
    .nursery(2, 'nursery #2 in task "fetch orders"', 2)
    .task(2, 5, "retry <orders> & co", 4);
  // main
  b.step(0, 1, 0, 800).wait(0, 1, 800, 38_000, sampleWaits[0]).step(0, 1, 38_800, 400);
  b.scope(0, 1, 100, 38_900);
  // fetch users
  b.step(1, 2, 900, 1_500).wait(1, 2, 2_400, 12_000, sampleWaits[1]).step(1, 2, 14_400, 2_000);
  b.wait(1, 2, 16_400, 9_000, sampleWaits[2]).step(1, 2, 25_400, 1_200);
  // fetch orders
  b.step(1, 3, 1_000, 1_000).scope(1, 3, 1_500, 30_000, 31.5);
  b.wait(1, 3, 2_000, 29_000, sampleWaits[0]).step(1, 3, 31_000, 700);
  // watchdog
  b.step(1, 4, 1_100, 300).wait(1, 4, 1_400, 13_600, sampleWaits[3]).step(1, 4, 15_000, 500);
  b.wait(1, 4, 15_500, 22_400, sampleWaits[1]).step(1, 4, 37_900, 300);
  // retry
  b.step(2, 5, 2_100, 900).wait(2, 5, 3_000, 28_400, sampleWaits[4]);
  b.cancel(2, 5, 31_400, "deadline", "scope #9 in fetch orders #3").step(2, 5, 31_400, 300);
  // flows
  b.flow("spawn", [0, 1, 500], [1, 2, 900])
    .flow("spawn", [0, 1, 600], [1, 3, 1_000])
    .flow("spawn", [0, 1, 700], [1, 4, 1_100])
    .flow("spawn", [1, 3, 1_800], [2, 5, 2_100])
    .flow("wake", [1, 2, 15_000], [1, 4, 15_000])
    .flow("wake", [1, 3, 31_600], [0, 1, 38_800]);
  return b.build(dropped);
}

/** A big run: `tasks` tasks over `nurseries` nurseries, each alternating `slicesPerTask` steps and waits. */
export function bigTrace(tasks: number, nurseries: number, slicesPerTask: number): TraceFile {
  const b = new TraceBuilder();
  for (let n = 0; n < nurseries; n++) b.nursery(n, `nursery #${n}`, n);
  for (let t = 0; t < tasks; t++) {
    const pid = t % nurseries;
    const tid = t + 1;
    b.task(pid, tid, `worker ${t}`, t);
    let ts = t * 7;
    for (let s = 0; s < slicesPerTask; s++) {
      const dur = 5 + ((s * 31 + t * 17) % 40);
      if (s % 2 === 0) b.step(pid, tid, ts, dur);
      else b.wait(pid, tid, ts, dur, `sleep ${s}`);
      ts += dur;
    }
  }
  return b.build(123);
}
