/**
 * The raw task scenarios, shared by impl/raw.ts and impl/raw-context.ts: the
 * same async functions, differing only in how a "task" is started — by
 * calling its async function (raw), or by calling it inside its own
 * `AsyncLocalStorage` context (raw-context). A {@link Start} does that one
 * thing; everything else (the bodies, the joining, the timing and the heap
 * measurement) is written once, here.
 */
import { type Runner, sleepMs } from "../scenario.ts";
import { assert } from "./check.ts";
import { settledHeapUsed } from "./memory.ts";

/** Starts task `i`, whose code is `body`, and returns its promise. */
export type Start = (body: (i: number) => Promise<void>, i: number) => Promise<void>;

/** The raw way: a task is a call of its async function. */
export const callDirectly: Start = (body, i) => body(i);

/** Milliseconds to start `body(0..n-1)` as n concurrent tasks (by `start`) and await them all. */
export async function timeAll(
  n: number,
  body: (i: number) => Promise<void>,
  start: Start = callDirectly,
): Promise<number> {
  const t0 = performance.now();
  const tasks: Promise<void>[] = new Array(n);
  for (let i = 0; i < n; i++) tasks[i] = start(body, i);
  await Promise.all(tasks);
  return performance.now() - t0;
}

/** spawn-join: n tasks that count themselves, all joined. */
export function spawnJoin(start: Start): Runner {
  return async ({ n }) => {
    let count = 0;
    const body = async (): Promise<void> => {
      count++;
    };
    const measured = await timeAll(n, body, start);
    return { check: count, measured };
  };
}

/** sleep-many: task i sleeps `sleepMs(i)` ms (`setTimeout` in a promise), all joined. */
export function sleepMany(start: Start): Runner {
  return async ({ n }) => {
    let woken = 0;
    const body = async (i: number): Promise<void> => {
      const ms = sleepMs(i);
      await new Promise<void>((resolve) => setTimeout(resolve, ms));
      woken++;
    };
    const measured = await timeAll(n, body, start);
    return { check: woken, measured };
  };
}

/** memory-per-task: the heap held by n tasks blocked on a promise, then woken and joined. */
export function memoryPerTask(start: Start): Runner {
  return async ({ n }) => {
    const wakers: (() => void)[] = [];
    let woken = 0;
    const body = async (): Promise<void> => {
      await new Promise<void>((resolve) => {
        wakers.push(resolve);
      });
      woken++;
    };
    const tasks: Promise<void>[] = new Array(n);
    const before = settledHeapUsed();
    for (let i = 0; i < n; i++) tasks[i] = start(body, i);
    const during = settledHeapUsed();
    assert(wakers.length === n, `memory-per-task: ${wakers.length} of ${n} blocked`);
    for (const wake of wakers) wake();
    await Promise.all(tasks);
    return { check: woken, measured: during - before };
  };
}
