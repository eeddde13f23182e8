/**
 * The Effect (effect@4) implementations of the benchmark scenarios.
 *
 * Each runner builds one program in Effect's own idiom — `Effect.gen`, fibers
 * forked by `Effect.forEach` with a `concurrency` option (Effect's documented
 * spawn-and-join) or by `Effect.forkChild` when the fibers are interrupted
 * later, `Queue` for channels, `Effect.acquireRelease` for listeners — and runs
 * it with `Effect.runPromise` on the default runtime (no custom scheduler, no
 * tuning of `MaxOpsBeforeYield`), as an application would. Every runner counts
 * the work its fibers actually did and returns that as `check`.
 *
 * A yield to the scheduler is `Effect.yieldNow`: the fiber is queued on the
 * default scheduler, which runs the queued fibers in batches from
 * `setImmediate` (so it is a macrotask turn, not a microtask like raw's
 * `await null`).
 *
 * `tcp-echo` is not implemented: Effect's socket support for Node
 * (`NodeSocket`) lives in `@effect/platform-node`, a separate package this
 * workspace does not depend on, and hand-wrapping `node:net` would measure our
 * wrapper rather than Effect's.
 */
import { Effect, Fiber, Queue } from "effect";
import { type Implementation, type RunResult, type Size, sleepMs } from "../scenario.ts";
import { assert } from "../support/check.ts";
import { hostReply } from "../support/host-reply.ts";
import { mapItem } from "../support/map-item.ts";
import { settledHeapUsed } from "../support/memory.ts";

/** Runs `program` and times it from before `runPromise` to the settled result. */
async function timed(program: Effect.Effect<number>): Promise<RunResult> {
  const t0 = performance.now();
  const check = await Effect.runPromise(program);
  return { check, measured: performance.now() - t0 };
}

/**
 * n fibers, each yielding to the scheduler m times with `Effect.yieldNow`;
 * `Effect.forEach` with unbounded concurrency forks one fiber per item and joins
 * them all.
 */
function checkpoint({ n, m }: Size): Promise<RunResult> {
  let yields = 0;
  const task = Effect.gen(function* () {
    for (let s = 0; s < m; s++) {
      yield* Effect.yieldNow;
      yields++;
    }
  });
  return timed(
    Effect.forEach(Array.from({ length: n }), () => task, {
      concurrency: "unbounded",
      discard: true,
    }).pipe(Effect.map(() => yields)),
  );
}

/** n fibers, each m times awaiting a host-settled promise (`Effect.promise`), then yielding. */
function foreignAwait({ n, m }: Size): Promise<RunResult> {
  let awaits = 0;
  const task = Effect.gen(function* () {
    for (let s = 0; s < m; s++) {
      yield* Effect.promise(hostReply);
      yield* Effect.yieldNow;
      awaits++;
    }
  });
  return timed(
    Effect.forEach(Array.from({ length: n }), () => task, {
      concurrency: "unbounded",
      discard: true,
    }).pipe(Effect.map(() => awaits)),
  );
}

/**
 * Spawn and join n trivial fibers. `Effect.forEach` with unbounded concurrency
 * is Effect's idiomatic spawn-and-join (the documentation steers away from raw
 * `forkChild` + `Fiber.join` for this); it forks a fiber per item (an
 * `Effect.sync` is not an already-completed `Exit`, so it is not short-cut).
 */
function spawnJoin({ n }: Size): Promise<RunResult> {
  let ran = 0;
  const task = Effect.sync(() => {
    ran++;
  });
  return timed(
    Effect.forEach(Array.from({ length: n }), () => task, {
      concurrency: "unbounded",
      discard: true,
    }).pipe(Effect.map(() => ran)),
  );
}

/** n fibers, fiber i sleeping `sleepMs(i)` ms with `Effect.sleep`; timed from spawning to all done. */
function sleepMany({ n }: Size): Promise<RunResult> {
  let woken = 0;
  const indices = Array.from({ length: n }, (_, i) => i);
  return timed(
    Effect.forEach(
      indices,
      (i) =>
        Effect.sleep(sleepMs(i)).pipe(
          Effect.andThen(
            Effect.sync(() => {
              woken++;
            }),
          ),
        ),
      { concurrency: "unbounded", discard: true },
    ).pipe(Effect.map(() => woken)),
  );
}

/**
 * Counters shared by the blocked fibers of cancel-many and memory-per-task: a
 * fiber counts itself `blocked` just before it parks on `Effect.never`, and
 * `cancelled` when its interruption finalizer runs.
 */
interface BlockedCounters {
  blocked: number;
  cancelled: number;
}

/** A fiber body that parks forever and counts its interruption. */
function blockedTask(counters: BlockedCounters): Effect.Effect<never> {
  return Effect.suspend(() => {
    counters.blocked++;
    return Effect.never;
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        counters.cancelled++;
      }),
    ),
  );
}

/**
 * Forks n fibers that park on `Effect.never` and yields until every one of
 * them has started and parked (forked fibers start on a later scheduler turn).
 */
function forkBlocked(
  n: number,
  counters: BlockedCounters,
): Effect.Effect<Array<Fiber.Fiber<never>>> {
  return Effect.gen(function* () {
    const task = blockedTask(counters);
    const fibers: Array<Fiber.Fiber<never>> = new Array(n);
    for (let i = 0; i < n; i++) fibers[i] = yield* Effect.forkChild(task);
    while (counters.blocked < n) yield* Effect.yieldNow;
    return fibers;
  });
}

/**
 * n fibers blocked on `Effect.never`; measured from "all blocked" until
 * `Fiber.interruptAll` (which interrupts them and awaits their exit) returns.
 */
async function cancelMany({ n }: Size): Promise<RunResult> {
  const counters: BlockedCounters = { blocked: 0, cancelled: 0 };
  const measured = await Effect.runPromise(
    Effect.gen(function* () {
      const fibers = yield* forkBlocked(n, counters);
      const t0 = performance.now();
      yield* Fiber.interruptAll(fibers);
      return performance.now() - t0;
    }),
  );
  return { check: counters.cancelled, measured };
}

/**
 * Heap growth with n fibers blocked on `Effect.never` (their `Fiber` handles
 * included: keeping them is how Effect code interrupts them later), after two
 * full collections on each side; then all are interrupted and counted.
 */
async function memoryPerTask({ n }: Size): Promise<RunResult> {
  const counters: BlockedCounters = { blocked: 0, cancelled: 0 };
  const measured = await Effect.runPromise(
    Effect.gen(function* () {
      const before = settledHeapUsed();
      const fibers = yield* forkBlocked(n, counters);
      const bytes = settledHeapUsed() - before;
      yield* Fiber.interruptAll(fibers);
      return bytes;
    }),
  );
  return { check: counters.cancelled, measured };
}

/**
 * Ping-pong over two rendezvous queues: Effect 4's `Queue` with capacity 0 has
 * no buffer, so `offer` suspends until a `take` receives the value — the same
 * handshake as an unbuffered channel. The pinger sends i and expects i + 1;
 * check counts the verified round trips.
 */
function channelUnbuffered({ n }: Size): Promise<RunResult> {
  return timed(
    Effect.gen(function* () {
      const ping = yield* Queue.bounded<number>(0);
      const pong = yield* Queue.bounded<number>(0);
      let trips = 0;
      const pinger = Effect.gen(function* () {
        for (let i = 0; i < n; i++) {
          yield* Queue.offer(ping, i);
          const reply = yield* Queue.take(pong);
          assert(reply === i + 1, `effect ping-pong: reply ${reply} to ${i}`);
          trips++;
        }
      });
      const ponger = Effect.gen(function* () {
        for (let i = 0; i < n; i++) {
          const value = yield* Queue.take(ping);
          yield* Queue.offer(pong, value + 1);
        }
      });
      yield* Effect.all([pinger, ponger], { concurrency: "unbounded", discard: true });
      return trips;
    }),
  );
}

/**
 * One producer offering 0..n-1 into `Queue.bounded(m)` (backpressure: `offer`
 * suspends while the queue is full), one consumer taking n values, checking
 * their order and summing them.
 */
function channelBuffered({ n, m }: Size): Promise<RunResult> {
  return timed(
    Effect.gen(function* () {
      const queue = yield* Queue.bounded<number>(m);
      let sum = 0;
      const producer = Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* Queue.offer(queue, i);
      });
      const consumer = Effect.gen(function* () {
        for (let i = 0; i < n; i++) {
          const value = yield* Queue.take(queue);
          assert(value === i, `effect buffered: received ${value}, expected ${i}`);
          sum += value;
        }
      });
      yield* Effect.all([producer, consumer], { concurrency: "unbounded", discard: true });
      return sum;
    }),
  );
}

/**
 * `Effect.forEach` over n items with `concurrency: m`: Effect's bounded-
 * concurrency map. Each item wraps the shared async item function
 * (support/map-item.ts) with `Effect.promise`; results come back in input
 * order and are summed.
 */
function mapLimit({ n, m }: Size): Promise<RunResult> {
  const items = Array.from({ length: n }, (_, i) => i);
  return timed(
    Effect.forEach(items, (i) => Effect.promise(() => mapItem(i)), { concurrency: m }).pipe(
      Effect.map((results) => {
        let sum = 0;
        for (const result of results) sum += result;
        return sum;
      }),
    ),
  );
}

/** effection-recursion's awaits at the bottom, and effection-events' events per run (upstream: 100). */
const AWAITS = 100;
const EVENTS = 100;

/** The counter the Effection scenarios increment (see `expectedCheck` in ../scenario.ts). */
interface Counter {
  count: number;
}

const resolvedPromise = (): Promise<void> => Promise.resolve();

/**
 * Effection's recursion scenario as Effection's own Effect port writes it
 * (thefrontside/effection tasks/bench/scenarios/effect.recursion.ts): `depth`
 * nested `Effect.gen` calls entered with `yield*` (no fork), the innermost
 * awaiting a resolved promise 100 times through `Effect.promise`. Counts one
 * per level entered and one per await.
 */
function recurse(depth: number, counter: Counter): Effect.Effect<void> {
  return Effect.gen(function* () {
    counter.count++;
    if (depth > 1) {
      yield* recurse(depth - 1, counter);
    } else {
      for (let i = 0; i < AWAITS; i++) {
        yield* Effect.promise(resolvedPromise);
        counter.count++;
      }
    }
  });
}

/** m runs of the recursion scenario at depth n, each its own `Effect.runPromise`. */
async function effectionRecursion({ n, m }: Size): Promise<RunResult> {
  const counter: Counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) await Effect.runPromise(recurse(n, counter));
  return { check: counter.count, measured: performance.now() - t0 };
}

/**
 * Level `depth` of effection-events' listener chain: a fiber that holds an
 * `EventTarget` listener for as long as it lives — added and removed with
 * `Effect.acquireRelease` in its own scope, so interruption removes it — and
 * forks the next level, whose target the listener re-dispatches every event to,
 * synchronously from the handler (as ../scenario.ts specifies). Interrupting the
 * top fiber interrupts the whole chain (a fiber's children are supervised by
 * it, and it ends only after they have), each level's scope removing its
 * listener.
 *
 * Each level is forked with `startImmediately: true`, so the chain is listening
 * before the root dispatches its first event (a plain `forkChild` only
 * schedules the child: level k would listen one scheduler turn after level
 * k - 1 and miss the first k - 1 events).
 *
 * Not the `Stream.fromEventListener` + `Stream.runForEach` of Effection's own
 * Effect port (tasks/bench/scenarios/effect.events.ts): there the stream's
 * consumer fiber handles each event one scheduler turn after it was
 * dispatched, so an event needs n turns to cross the chain; with one yield
 * between events (rather than upstream's `Effect.sleep(0)`, ≥ 1 ms) the chain
 * is interrupted with events still in flight: level k sees only 101 - k of
 * the 100 events (5,050 of 10,000 per run), failing the check.
 */
function listen(target: EventTarget, depth: number, counter: Counter): Effect.Effect<never> {
  return Effect.scoped(
    Effect.gen(function* () {
      const next = depth > 1 ? new EventTarget() : undefined;
      const handler = (): void => {
        counter.count++;
        next?.dispatchEvent(new Event("foo"));
      };
      yield* Effect.acquireRelease(
        Effect.sync(() => target.addEventListener("foo", handler)),
        () => Effect.sync(() => target.removeEventListener("foo", handler)),
      );
      if (next !== undefined) {
        yield* Effect.forkChild(listen(next, depth - 1, counter), { startImmediately: true });
      }
      return yield* Effect.never;
    }),
  );
}

/**
 * One run of effection-events: start the chain of `depth` listeners, then 100
 * times yield (`Effect.yieldNow`, the checkpoint yield, in place of upstream's
 * `Effect.sleep(0)` — see ../scenario.ts) and dispatch an event; yield once
 * more and interrupt the chain, waiting for it to end.
 */
function eventsRun(depth: number, counter: Counter): Effect.Effect<void> {
  return Effect.gen(function* () {
    const target = new EventTarget();
    const chain = yield* Effect.forkChild(listen(target, depth, counter), {
      startImmediately: true,
    });
    for (let i = 0; i < EVENTS; i++) {
      yield* Effect.yieldNow;
      target.dispatchEvent(new Event("foo"));
    }
    yield* Effect.yieldNow;
    yield* Fiber.interrupt(chain);
  });
}

/** m runs of the events scenario with a chain of n listeners, each its own `Effect.runPromise`. */
async function effectionEvents({ n, m }: Size): Promise<RunResult> {
  const counter: Counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) await Effect.runPromise(eventsRun(n, counter));
  return { check: counter.count, measured: performance.now() - t0 };
}

/** Effect's implementations; see the file comment for the one left out. */
export const scenarios: Implementation = {
  checkpoint,
  "foreign-await": foreignAwait,
  "spawn-join": spawnJoin,
  "sleep-many": sleepMany,
  "cancel-many": cancelMany,
  "channel-unbuffered": channelUnbuffered,
  "channel-buffered": channelBuffered,
  "map-limit": mapLimit,
  "effection-recursion": effectionRecursion,
  "effection-events": effectionEvents,
  "memory-per-task": memoryPerTask,
};
