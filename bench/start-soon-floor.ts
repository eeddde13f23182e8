/**
 * The floor of spawn-join under weft's semantics (issue 19):
 *
 *   pnpm bench:floor [--quick]      (node start-soon-floor.ts in bench/)
 *
 * raw-context (impl/raw-context.ts) starts each task at once: its body runs
 * to completion inside `storage.run` before the next task is spawned, so
 * nothing outlives its spawn and the garbage dies young. weft's `startSoon`
 * (like Trio's `start_soon`) only queues the task: it runs after the spawner's
 * step, so spawn-join's 100,000 tasks are all alive at once — each with its
 * own context frame and a start waiting to run — and the GC has to move them
 * out of the young generation. This measures that same pattern with nothing
 * but Node: raw-context where every task's start is a promise reaction
 * registered in its own context and released only once all are spawned
 * ("deferred"), next to raw-context as the bench runs it ("at once"). Medians
 * of interleaved runs, in ns per task, with weft's spawn-join for reference.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { parseArgs } from "node:util";
import { ensureBenchNode } from "./support/bench-node.ts";
import { describeMachine, formatMachine } from "./support/machine.ts";
import { summarize } from "./support/stats.ts";
import { formatValue } from "./support/table.ts";

ensureBenchNode(import.meta.filename);

// After ensureBenchNode: only now does @weft/* resolve to its sources.
const { openNursery, run } = await import("@weft/core");

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const TASKS = values.quick === true ? 5_000 : 100_000;
const ROUNDS = values.quick === true ? 2 : 11;

const storage = new AsyncLocalStorage<{ readonly index: number }>();

/** ns per task of spawning `TASKS` tasks that each count once, and joining them. */
type Variant = () => Promise<number>;

/** A raw-context variant: `spawn(body)` starts one task running `body` and returns its promise. */
function rawContext(name: string, spawn: (body: () => Promise<void>) => Promise<void>): Variant {
  return async () => {
    let count = 0;
    const body = async (): Promise<void> => {
      count++;
    };
    const t0 = performance.now();
    const tasks: Promise<void>[] = new Array(TASKS);
    for (let i = 0; i < TASKS; i++) tasks[i] = storage.run({ index: i }, spawn, body);
    release();
    await Promise.all(tasks);
    if (count !== TASKS) throw new Error(`${name}: ${count} of ${TASKS} ran`);
    return ((performance.now() - t0) * 1e6) / TASKS;
  };
}

// The deferred variant's gate: opened (and re-armed) once every task of a round exists.
let release: () => void = () => {};
let gate: Promise<void> = Promise.resolve();
function armGate(): void {
  gate = new Promise<void>((resolve) => {
    release = () => {
      resolve();
      armGate();
    };
  });
}
armGate();

/** Each task runs at once, inside its `storage.run` (raw-context as the bench runs it). */
const atOnce = rawContext("at once", (body) => body());
/** Each start is a reaction registered in the task's own context, run once every task exists. */
const deferred = rawContext("deferred", (body) => gate.then(body));

const weft: Variant = async () => {
  let count = 0;
  const body = async (): Promise<void> => {
    count++;
  };
  const t0 = performance.now();
  await run(() =>
    openNursery(async (nursery) => {
      for (let i = 0; i < TASKS; i++) nursery.startSoon(body);
    }),
  );
  if (count !== TASKS) throw new Error(`weft: ${count} of ${TASKS} ran`);
  return ((performance.now() - t0) * 1e6) / TASKS;
};

const variants: [string, Variant][] = [
  ["raw-context, at once", atOnce],
  ["raw-context, deferred", deferred],
  ["weft startSoon", weft],
];

console.log(formatMachine(describeMachine()));
console.log(
  `spawn + join of ${TASKS.toLocaleString("en-US")} tasks, ${ROUNDS} rounds (+1 warm-up)`,
);
const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, variant] of variants) {
    globalThis.gc?.();
    const ns = await variant();
    if (round > 0) samples.get(name)!.push(ns);
  }
}
for (const [name, values] of samples) {
  const { median, p95 } = summarize(values);
  console.log(
    `  ${name.padEnd(22)} median ${formatValue(median).padStart(7)} ns/task  p95 ${formatValue(p95).padStart(7)}`,
  );
}
