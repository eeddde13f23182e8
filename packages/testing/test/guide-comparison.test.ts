/**
 * The "Finding a race" section of docs/guides/testing.md, runnable: a
 * check-then-act bug in a small cache, hunted with `schedules()` (through
 * `weftAsyncProperty`) and, for comparison, with fast-check's own
 * `fc.scheduler()`. Run with `GUIDE_OUTPUT=1` to print the reports the guide
 * quotes.
 */
import { checkpoint, Event, openNursery, run } from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DeterministicScheduler, MockClock } from "../src/index.ts";
import { weftAsyncProperty } from "../src/vitest.ts";

const show = (title: string, text: unknown) => {
  if (process.env.GUIDE_OUTPUT) console.log(`--- ${title}\n${String(text)}`);
};

type Fetch = (key: string) => Promise<string>;

/** The buggy cache: check, then (after the slow fetch) act. */
class Cache {
  readonly #values = new Map<string, string>();
  readonly #fetch: Fetch;
  constructor(fetchFromOrigin: Fetch) {
    this.#fetch = fetchFromOrigin;
  }
  async get(key: string): Promise<string> {
    const hit = this.#values.get(key);
    if (hit !== undefined) return hit;
    const value = await this.#fetch(key); // other tasks run here
    this.#values.set(key, value);
    return value;
  }
}

/** The fix: the first caller fetches; later callers wait for its Event. */
class FixedCache {
  readonly #values = new Map<string, string>();
  readonly #inFlight = new Map<string, Event>();
  readonly #fetch: Fetch;
  constructor(fetchFromOrigin: Fetch) {
    this.#fetch = fetchFromOrigin;
  }
  async get(key: string): Promise<string> {
    for (;;) {
      const hit = this.#values.get(key);
      if (hit !== undefined) return hit;
      const pending = this.#inFlight.get(key);
      if (pending === undefined) break;
      await pending.wait(); // then look again: the fetch may have failed
    }
    const done = new Event();
    this.#inFlight.set(key, done);
    try {
      const value = await this.#fetch(key);
      this.#values.set(key, value);
      return value;
    } finally {
      this.#inFlight.delete(key);
      done.set();
    }
  }
}

/** An origin that counts its fetches; a fetch takes one checkpoint. */
function origin() {
  const origin = {
    fetches: 0,
    fetch: async (key: string) => {
      origin.fetches++;
      await checkpoint();
      return `value of ${key}`;
    },
  };
  return origin;
}

/**
 * Two requests for the same key; the second parses its request first (two
 * checkpoints), so in plain FIFO order it arrives after the first has stored
 * the value and the bug hides.
 */
async function twoRequests(cache: { get(key: string): Promise<string> }): Promise<void> {
  await openNursery(async (nursery) => {
    nursery.startSoon(() => cache.get("user:1"), { name: "request1" });
    nursery.startSoon(
      async () => {
        await checkpoint(); // parse the request
        await checkpoint();
        await cache.get("user:1");
      },
      { name: "request2" },
    );
  });
}

const autojump = () => new MockClock({ autojumpThreshold: 0 });

describe("finding a race with schedules()", () => {
  test("FIFO order hides the bug", async () => {
    const o = origin();
    await run(() => twoRequests(new Cache(o.fetch)), { clock: autojump() });
    expect(o.fetches).toBe(1);
  });

  test("schedules() finds it, shrinks it, and the printed choices replay it", async () => {
    const details = await fc.check(
      weftAsyncProperty([], async () => {
        const o = origin();
        await twoRequests(new Cache(o.fetch));
        expect(o.fetches).toBe(1);
      }),
      { seed: 42 },
    );
    expect(details.failed).toBe(true);
    const report = fc.defaultReportMessage(details)!;
    show("schedules() report", report);
    expect(report).toContain(
      'new DeterministicScheduler({ choices: [1, 1], afterChoices: "fifo" })',
    );

    // Replay: paste the printed scheduler.
    const o = origin();
    await run(() => twoRequests(new Cache(o.fetch)), {
      scheduler: new DeterministicScheduler({ choices: [1, 1], afterChoices: "fifo" }),
      clock: autojump(),
    });
    expect(o.fetches).toBe(2);
  });

  test("the fixed cache holds under every explored schedule", async () => {
    for (const mode of ["uniform", "pct"] as const)
      await fc.assert(
        weftAsyncProperty(
          [],
          async () => {
            const o = origin();
            await twoRequests(new FixedCache(o.fetch));
            expect(o.fetches).toBe(1);
          },
          { schedules: { mode } },
        ),
        { seed: 42, numRuns: 500 },
      );
  });
});

describe("the same bug with fast-check's fc.scheduler()", () => {
  test("plain promises: fc.scheduler() orders the fetch against the second arrival", async () => {
    const details = await fc.check(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        let fetches = 0;
        const cache = new Cache(
          s.scheduleFunction(async function fetchFromOrigin(key: string) {
            fetches++;
            return `value of ${key}`;
          }),
        );
        const requests = Promise.all([
          cache.get("user:1"),
          s.schedule(Promise.resolve(), "request2 parsed").then(() => cache.get("user:1")),
        ]);
        await s.waitAll();
        await requests;
        expect(fetches).toBe(1);
      }),
      { seed: 42 },
    );
    show("fc.scheduler() report (plain promises)", fc.defaultReportMessage(details));
    expect(details.failed).toBe(true);
    expect(details.numShrinks).toBe(0); // fc.scheduler() does not shrink
  });

  /** The weft cache and requests, with the fetch's resolution under `s`'s control. */
  const weftRunUnder = (s: fc.Scheduler, counter: { fetches: number }, signal?: AbortSignal) => {
    const cache = new Cache(
      s.scheduleFunction(async function fetchFromOrigin(key: string) {
        counter.fetches++;
        await checkpoint();
        return `value of ${key}`;
      }),
    );
    return { cache, signal };
  };

  test("inside a weft run, s.waitAll() from a task: the run hangs", async () => {
    const [s] = fc.sample(fc.scheduler(), { seed: 42, numRuns: 1 }) as [fc.Scheduler];
    const counter = { fetches: 0 };
    const { cache } = weftRunUnder(s, counter);
    const running = run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => twoRequests(cache), { name: "requests" });
          nursery.startSoon(() => s.waitAll(), { name: "waitAll" });
        });
      },
      { clock: autojump() },
    );
    // s.waitAll() ran before any fetch was scheduled and returned; the fetch is
    // then never released, and request1 awaits it forever: a task awaiting a
    // foreign promise turns off autojump and deadlock detection.
    const state = await Promise.race([
      running.then(() => "finished"),
      new Promise<string>((resolve) =>
        setTimeout(() => resolve("still running after 500 ms"), 500),
      ),
    ]);
    const observed = `${state}; ${counter.fetches} fetch(es); ${s.count()} scheduled task(s) pending`;
    show("s.waitAll() inside weft", observed);
    expect(state).toBe("still running after 500 ms");
    // Release the fetch from outside so the run can end.
    await s.waitIdle();
    await running;
    expect(counter.fetches).toBe(2);
  });

  test("inside a weft run, s.waitFor(run(...)) from outside", async () => {
    const outcomes = new Map<string, number>();
    const details = await fc.check(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const counter = { fetches: 0 };
        const { cache } = weftRunUnder(s, counter);
        await s.waitFor(
          run(() => twoRequests(cache), {
            clock: autojump(),
            signal: AbortSignal.timeout(2_000),
          }),
        );
        const key = `${counter.fetches} fetch(es)`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        expect(counter.fetches).toBe(1);
      }),
      { seed: 42, numRuns: 200 },
    );
    show("s.waitFor inside weft: outcomes", JSON.stringify([...outcomes]));
    show("s.waitFor inside weft: report", fc.defaultReportMessage(details) ?? "passed 200 runs");
    // fc.scheduler() only orders what it wraps; the checkpoints of request2 are
    // weft task steps it cannot see, and the fetch is released before them.
    expect(details.failed).toBe(false);
    expect([...outcomes]).toEqual([["1 fetch(es)", 200]]);
  });

  test("inside a weft run, with request2's parse steps routed through fc.scheduler too", async () => {
    const property = fc.asyncProperty(fc.scheduler(), async (s) => {
      const counter = { fetches: 0 };
      const { cache } = weftRunUnder(s, counter);
      await s.waitFor(
        run(
          async () => {
            await openNursery(async (nursery) => {
              nursery.startSoon(() => cache.get("user:1"), { name: "request1" });
              nursery.startSoon(
                async () => {
                  await s.schedule(Promise.resolve(), "request2 parsed"); // was: two checkpoints
                  await cache.get("user:1");
                },
                { name: "request2" },
              );
            });
          },
          { clock: autojump(), signal: AbortSignal.timeout(2_000) },
        ),
      );
      expect(counter.fetches).toBe(1);
    });
    const details = await fc.check(property, { seed: 42, numRuns: 200 });
    show("fc.scheduler() inside weft, instrumented: report", fc.defaultReportMessage(details));
    expect(details.failed).toBe(true);
    // fast-check's replay: the seed and path (the printed ordering is a description).
    const replay = await fc.check(property, {
      seed: details.seed,
      path: details.counterexamplePath!,
      endOnFailure: true,
    });
    expect(replay.failed).toBe(true);
  });
});
