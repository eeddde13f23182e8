/**
 * The Effection 4 implementations of the benchmark scenarios (see
 * ../scenario.ts for the contract), written the way an Effection user would
 * write them: generator operations, `spawn` + `yield* task` to join, `halt()`
 * to cancel, `suspend()` to block, channels and `each`/`on` for messages.
 *
 * Notes on the choices that Effection's API forces or leaves open:
 *
 * - Yielding to the scheduler (`checkpoint`, and the yields of
 *   `effection-events`). Effection has no yield/checkpoint operation: its
 *   reducer runs a resumed routine synchronously, in priority order (a parent
 *   before its children), so an effect that resolves synchronously does not
 *   let children run, and `sleep(0)` is a `setTimeout` (≥ 1 ms in Node). The
 *   cheapest yield that lets every other ready task run is to wait for an
 *   already-resolved promise: `yield* call(() => Promise.resolve())`, the
 *   unit of async work of Effection's own recursion benchmark. It is the
 *   same microtask turn as raw's `await null`.
 * - `spawn-join`, `checkpoint`, `sleep-many`, `map-limit`: Effection halts the
 *   children of an operation that returns, so the parent joins every task
 *   explicitly with `yield* task` (the idiom; `all(tasks)` does the same).
 * - `cancel-many` / `memory-per-task`: the blocked tasks are the children of
 *   one "group" task and block in `suspend()`; cancelling is `yield*
 *   group.halt()`, which returns once every child has run its `finally`.
 * - Channels. Effection's `createChannel` is a broadcast stream: `send` never
 *   blocks (each subscriber has an unbounded queue) and drops the message when
 *   nobody is subscribed, so both sides subscribe before anything is sent.
 *   `channel-unbuffered` is a ping-pong over two channels (the rendezvous is
 *   the reply itself, so the missing bound does not matter).
 *   `channel-buffered` EMULATES the bound of 1024: the producer counts the
 *   messages in flight and, at the bound, waits on a `withResolvers()` that
 *   the consumer resolves when it takes a message.
 * - `map-limit`: Effection has no limiter, so the idiomatic pattern is a pool
 *   of `m` workers pulling indices from a shared counter; each item is the
 *   shared async item function (../support/map-item.ts) entered with `call()`,
 *   Effection's way of awaiting a promise-returning function.
 * - `effection-recursion` and `effection-events` are Effection's own published
 *   benchmark scenarios, ported from thefrontside/effection
 *   `tasks/bench/scenarios/effection.recursion.ts` and
 *   `tasks/bench/scenarios/effection.events.ts` (the same code is in `bench/`
 *   of the v4 branch and in taras/effection-benchmarks `cli/scenarios/`).
 *   Each repetition is one `run()`, as their `bench/codspeed.bench.ts` does.
 *   The only change: the events scenario's `sleep(0)` before each dispatch
 *   (and before the halt) is the checkpoint yield above, because 101 timers of
 *   ≥ 1 ms would dominate the run and every implementation must do the same
 *   work (Effection's plain-JS baseline, `add-event-listener.events.ts`, uses
 *   `await Promise.resolve()` there too). The exact definitions are in
 *   ../scenario.ts (`expectedCheck`).
 * - `tcp-echo` is not implemented: Effection has no socket API of its own, so
 *   it would measure Node's `net` wrapped in `call()`, not Effection.
 */
import {
  call,
  createChannel,
  each,
  type Operation,
  on,
  run,
  sleep,
  spawn,
  suspend,
  type Task,
  type WithResolvers,
  withResolvers,
} from "effection";
import { type Implementation, type RunResult, type Size, sleepMs } from "../scenario.ts";
import { assert } from "../support/check.ts";
import { hostReply } from "../support/host-reply.ts";
import { mapItem } from "../support/map-item.ts";
import { settledHeapUsed } from "../support/memory.ts";

// ------------------------------------------------------------------ helpers

const resolvedPromise = (): Promise<void> => Promise.resolve();

/** Effection's cheapest yield to the other tasks: one microtask turn (see the file comment). */
function yieldNow(): Operation<void> {
  return call(resolvedPromise);
}

/** Joins every task, in order (a task's error propagates through `yield*`). */
function* joinAll<T>(tasks: readonly Task<T>[]): Operation<void> {
  for (const task of tasks) yield* task;
}

// ------------------------------------------------------------------ scenarios

/** Milliseconds of a `run()` that spawns `body` as n tasks and joins them. */
async function timeTasks(n: number, body: () => Operation<void>): Promise<number> {
  const t0 = performance.now();
  await run(function* () {
    const tasks: Task<void>[] = [];
    for (let i = 0; i < n; i++) tasks.push(yield* spawn(body));
    yield* joinAll(tasks);
  });
  return performance.now() - t0;
}

/** n tasks, each yielding to the scheduler m times. */
async function checkpointScenario({ n, m }: Size): Promise<RunResult> {
  let count = 0;
  function* body(): Operation<void> {
    for (let s = 0; s < m; s++) {
      yield* yieldNow();
      count++;
    }
  }
  const measured = await timeTasks(n, body); // before reading count: the work is done then
  return { check: count, measured };
}

/** n tasks, each m times awaiting a host-settled promise through `call()`, then yielding. */
async function foreignAwaitScenario({ n, m }: Size): Promise<RunResult> {
  let count = 0;
  function* body(): Operation<void> {
    for (let s = 0; s < m; s++) {
      yield* call(hostReply);
      yield* yieldNow();
      count++;
    }
  }
  const measured = await timeTasks(n, body); // before reading count: the work is done then
  return { check: count, measured };
}

/** Spawns n trivial tasks and joins them. */
async function spawnJoinScenario({ n }: Size): Promise<RunResult> {
  let count = 0;
  // biome-ignore lint/correctness/useYield: the trivial task is an operation that never waits
  function* body(): Operation<void> {
    count++;
  }
  const measured = await timeTasks(n, body); // before reading count: the work is done then
  return { check: count, measured };
}

/** n tasks, task i sleeping `sleepMs(i)` ms; measured from spawning to all done. */
async function sleepManyScenario({ n }: Size): Promise<RunResult> {
  const durations = Array.from({ length: n }, (_, i) => sleepMs(i));
  let woken = 0;
  const t0 = performance.now();
  await run(function* () {
    const tasks: Task<void>[] = [];
    for (let i = 0; i < n; i++) {
      const ms = durations[i]!;
      tasks.push(
        yield* spawn(function* () {
          yield* sleep(ms);
          woken++;
        }),
      );
    }
    yield* joinAll(tasks);
  });
  return { check: woken, measured: performance.now() - t0 };
}

/**
 * Spawns n tasks blocked in `suspend()` as children of one group task, and
 * resolves the returned `allBlocked` once the last of them has blocked.
 * `finished` counts the children whose `finally` ran (each was halted: a
 * suspended operation can only end that way).
 */
function blockedTasks(n: number): {
  group: () => Operation<void>;
  allBlocked: WithResolvers<void>;
  finished: () => number;
} {
  const allBlocked = withResolvers<void>();
  let blocked = 0;
  let finished = 0;
  function* blockedTask(): Operation<void> {
    try {
      // The resolve wakes the parent only after this step has reached suspend().
      if (++blocked === n) allBlocked.resolve();
      yield* suspend();
    } finally {
      finished++;
    }
  }
  function* group(): Operation<void> {
    for (let i = 0; i < n; i++) yield* spawn(blockedTask);
    yield* suspend();
  }
  return { group, allBlocked, finished: () => finished };
}

/** Halts n blocked tasks: measured from all blocked to all finished. */
async function cancelManyScenario({ n }: Size): Promise<RunResult> {
  const { group, allBlocked, finished } = blockedTasks(n);
  let measured = 0;
  let check = 0;
  await run(function* () {
    const task = yield* spawn(group);
    yield* allBlocked.operation;
    const t0 = performance.now();
    yield* task.halt();
    measured = performance.now() - t0;
    check = finished(); // counted when halt() returned, not later
  });
  return { check, measured };
}

/** Heap bytes of n tasks blocked in `suspend()` (the harness divides by n). */
async function memoryPerTaskScenario({ n }: Size): Promise<RunResult> {
  const { group, allBlocked, finished } = blockedTasks(n);
  let measured = 0;
  let check = 0;
  await run(function* () {
    const before = settledHeapUsed();
    const task = yield* spawn(group);
    yield* allBlocked.operation;
    measured = settledHeapUsed() - before;
    yield* task.halt();
    check = finished();
  });
  return { check, measured };
}

/** n round trips: ping sends i, pong replies i + 1. */
async function channelUnbufferedScenario({ n }: Size): Promise<RunResult> {
  let correct = 0;
  const t0 = performance.now();
  await run(function* () {
    const ping = createChannel<number>();
    const pong = createChannel<number>();
    // Subscribe before anything is sent: a channel drops what nobody listens to.
    const pings = yield* ping;
    const pongs = yield* pong;
    const ponger = yield* spawn(function* () {
      for (let i = 0; i < n; i++) {
        const next = yield* pings.next();
        if (next.done === true) return;
        yield* pong.send(next.value + 1);
      }
    });
    const pinger = yield* spawn(function* () {
      for (let i = 0; i < n; i++) {
        yield* ping.send(i);
        const reply = yield* pongs.next();
        if (reply.done !== true && reply.value === i + 1) correct++;
      }
    });
    yield* pinger;
    yield* ponger;
  });
  return { check: correct, measured: performance.now() - t0 };
}

/**
 * One producer sends 0..n-1, one consumer sums them (checking the order);
 * at most m are in flight (the bound is emulated, see the file comment).
 */
async function channelBufferedScenario({ n, m: capacity }: Size): Promise<RunResult> {
  let sum = 0;
  let outOfOrder = 0;
  let inFlight = 0;
  let peak = 0;
  let space: WithResolvers<void> | undefined;
  const t0 = performance.now();
  await run(function* () {
    const channel = createChannel<number>();
    const received = yield* channel;
    const consumer = yield* spawn(function* () {
      for (let i = 0; i < n; i++) {
        const next = yield* received.next();
        if (next.done === true) return;
        inFlight--;
        if (space !== undefined) {
          const waiting = space;
          space = undefined;
          waiting.resolve();
        }
        if (next.value !== i) outOfOrder++;
        sum += next.value;
      }
    });
    const producer = yield* spawn(function* () {
      for (let i = 0; i < n; i++) {
        if (inFlight >= capacity) {
          space = withResolvers<void>();
          yield* space.operation;
        }
        inFlight++;
        if (inFlight > peak) peak = inFlight;
        yield* channel.send(i);
      }
    });
    yield* producer;
    yield* consumer;
  });
  const measured = performance.now() - t0;
  assert(outOfOrder === 0, `effection buffered: ${outOfOrder} messages out of order`);
  assert(peak <= capacity, `effection buffered: ${peak} messages in flight > ${capacity}`);
  return { check: sum, measured };
}

/** Maps `mapItem` over 0..n-1 with at most m items in progress; results in input order. */
async function mapLimitScenario({ n, m: concurrency }: Size): Promise<RunResult> {
  const results = new Array<number>(n);
  let next = 0;
  let active = 0;
  let peak = 0;
  function* worker(): Operation<void> {
    while (next < n) {
      const i = next++;
      active++;
      if (active > peak) peak = active;
      results[i] = yield* call(() => mapItem(i));
      active--;
    }
  }
  const t0 = performance.now();
  await run(function* () {
    const workers: Task<void>[] = [];
    for (let w = 0; w < concurrency; w++) workers.push(yield* spawn(worker));
    yield* joinAll(workers);
  });
  const measured = performance.now() - t0;
  assert(peak <= concurrency, `effection map-limit: ${peak} items in progress > ${concurrency}`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    assert(results[i] === i * 2, `effection map-limit: result ${i} is ${results[i]}`);
    sum += results[i]!;
  }
  return { check: sum, measured };
}

/** The bottom of `effection-recursion`: awaits of a resolved promise (upstream: 100). */
const RECURSION_AWAITS = 100;

/** Events dispatched per run of `effection-events` (upstream: 100). */
const EVENTS_PER_RUN = 100;

/**
 * Effection's recursion scenario (see the file comment): `depth` nested
 * operations entered with `yield*`, the innermost awaiting a resolved promise
 * 100 times. Counts one per operation entered and one per await.
 */
function* recurse(depth: number, counter: { count: number }): Operation<void> {
  counter.count++;
  if (depth > 1) {
    yield* recurse(depth - 1, counter);
  } else {
    for (let i = 0; i < RECURSION_AWAITS; i++) {
      yield* call(resolvedPromise);
      counter.count++;
    }
  }
}

/** m runs of the recursion scenario at depth n. */
async function recursionScenario({ n, m }: Size): Promise<RunResult> {
  const counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) await run(() => recurse(n, counter));
  return { check: counter.count, measured: performance.now() - t0 };
}

/**
 * Effection's events scenario (see the file comment): a chain of `depth` tasks,
 * each listening with `on()` + `each()` to its own EventTarget and
 * re-dispatching every event to the next one's; the root dispatches 100 events,
 * yielding before each, then yields once more and halts the chain. Counts one
 * per event a listener in the chain received.
 */
function* eventsRun(depth: number, counter: { count: number }): Operation<void> {
  const target = new EventTarget();
  const chain = yield* spawn(() => listen(target, depth, counter));
  for (let i = 0; i < EVENTS_PER_RUN; i++) {
    yield* yieldNow();
    target.dispatchEvent(new Event("foo"));
  }
  yield* yieldNow();
  yield* chain.halt();
}

function* listen(target: EventTarget, depth: number, counter: { count: number }): Operation<void> {
  const events = on(target, "foo");
  if (depth > 1) {
    const subTarget = new EventTarget();
    yield* spawn(() => listen(subTarget, depth - 1, counter));
    for (const _ of yield* each(events)) {
      counter.count++;
      subTarget.dispatchEvent(new Event("foo"));
      yield* each.next();
    }
  } else {
    for (const _ of yield* each(events)) {
      counter.count++;
      yield* each.next();
    }
  }
}

/** m runs of the events scenario with a chain of n listeners. */
async function eventsScenario({ n, m }: Size): Promise<RunResult> {
  const counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) await run(() => eventsRun(n, counter));
  return { check: counter.count, measured: performance.now() - t0 };
}

/** The Effection runners, by scenario (no `tcp-echo`: see the file comment). */
export const scenarios: Implementation = {
  checkpoint: checkpointScenario,
  "foreign-await": foreignAwaitScenario,
  "spawn-join": spawnJoinScenario,
  "sleep-many": sleepManyScenario,
  "cancel-many": cancelManyScenario,
  "channel-unbuffered": channelUnbufferedScenario,
  "channel-buffered": channelBufferedScenario,
  "map-limit": mapLimitScenario,
  "effection-recursion": recursionScenario,
  "effection-events": eventsScenario,
  "memory-per-task": memoryPerTaskScenario,
};
