/**
 * The worked example of docs/guides/testing-distributed-systems.md: the
 * replicated store of examples/replicated-kv.ts, run on real sockets and on
 * the simulated network. fast-check finds the lost write of asynchronous
 * replication and shrinks it to one fault; the synchronous store keeps every
 * acknowledged write under generated faults and schedules, and 1,000 seeds of
 * it pass and replay identically. The guide quotes the report printed here,
 * and a test below checks that it still does.
 */
import { readFileSync } from "node:fs";
import { run } from "@weft/core";
import { DeterministicScheduler, schedules } from "@weft/testing";
import {
  checkDeterminism,
  describeFaultPlan,
  type FaultPlan,
  faultPlans,
} from "@weft/testing/simulation";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { main } from "../../../../examples/replicated-kv.ts";
import { type Outcome, replicatedKv } from "../../../../examples/replicated-kv-simulation.ts";

const hosts = ["primary", "backup", "client"];
const plans = faultPlans(hosts, { maxFaults: 3, maxTime: 60 });

/** Every acknowledged write reads back (unavailable reads are allowed: no server answered). */
function keptEveryWrite(outcome: Outcome): boolean {
  return outcome.lost.length === 0;
}

/** What the guide prints for a counterexample: the lost writes, and how to replay the run. */
function report(
  seed: number,
  faults: FaultPlan,
  scheduler: DeterministicScheduler,
  outcome: Outcome,
): string {
  return [
    `acknowledged ${outcome.acknowledged} writes, lost ${outcome.lost.join(", ")}`,
    `seed: ${seed}`,
    "faults:",
    ...describeFaultPlan(faults)
      .split("\n")
      .map((line) => `  ${line}`),
    `schedule: ${scheduler.toString().split("\n")[0]}`,
  ].join("\n");
}

const guide = readFileSync(
  new URL("../../../../docs/guides/testing-distributed-systems.md", import.meta.url),
  "utf8",
);

describe("the replicated key-value store (docs/guides/testing-distributed-systems.md)", () => {
  test("runs on real loopback sockets", async () => {
    expect(await run(() => main())).toEqual(["set greeting: true", "get greeting: hello"]);
  });

  test("the guide's code excerpts are the code as it is", () => {
    const excerpts = [...guide.matchAll(/<!-- excerpt: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
    expect(excerpts.length).toBeGreaterThanOrEqual(3);
    // Compared line by line without indentation: an excerpt is shown dedented.
    const unindented = (text: string) =>
      text
        .split("\n")
        .map((line) => line.trimStart())
        .join("\n");
    for (const [, path, code] of excerpts) {
      const source = readFileSync(new URL(`../../../../${path}`, import.meta.url), "utf8");
      expect(unindented(source), path).toContain(unindented(code!));
    }
  });

  test("without faults, both modes keep every write", async () => {
    for (const replication of ["synchronous", "asynchronous"] as const) {
      const { sim, outcome } = replicatedKv({ replication });
      await sim.run();
      expect(outcome).toEqual({ acknowledged: 10, lost: [], unavailable: 0 });
    }
  });

  test("fast-check finds the lost write of asynchronous replication, shrinks it to one crash (or bounce) of the primary, and the report replays", async () => {
    const property = fc.asyncProperty(
      fc.nat({ max: 1000 }),
      plans,
      schedules(),
      async (seed, faults, scheduler) => {
        const { sim, outcome } = replicatedKv({
          replication: "asynchronous",
          seed,
          faults,
          scheduler,
        });
        await sim.run();
        return keptEveryWrite(outcome);
      },
    );
    const result = await fc.check(property, { numRuns: 300, seed: 10 });
    expect(result.failed).toBe(true);
    const [seed, faults, scheduler] = result.counterexample as [
      number,
      FaultPlan,
      DeterministicScheduler,
    ];
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ host: "primary" });
    expect(["bounce", "crash"]).toContain(faults[0]!.kind);

    // Replayed from the report's seed, faults and choices: the same loss.
    const replay = replicatedKv({
      replication: "asynchronous",
      seed,
      faults,
      scheduler: new DeterministicScheduler({
        choices: [...scheduler.choices],
        afterChoices: "fifo",
      }),
    });
    await replay.sim.run();
    expect(replay.outcome.lost.length).toBeGreaterThan(0);

    const printed = report(seed, faults, scheduler, replay.outcome);
    console.log(printed);
    // The guide shows this very report, and the trace up to the failover.
    expect(guide).toContain(printed);
    const failover = replay.sim.trace.findIndex((line) => line.includes("connect client → backup"));
    expect(failover).toBeGreaterThan(0);
    expect(guide).toContain(replay.sim.trace.slice(0, failover + 1).join("\n"));
  }, 60_000);

  test("two partitions and no crash lose a write of asynchronous replication too, and none of synchronous replication", async () => {
    const faults: FaultPlan = [
      { at: 0, kind: "partition", hosts: ["primary", "backup"] },
      { at: 3, kind: "partition", hosts: ["client", "primary"] },
    ];
    const fifo = () => new DeterministicScheduler({ choices: [], afterChoices: "fifo" });
    const lossy = replicatedKv({ replication: "asynchronous", seed: 0, faults, scheduler: fifo() });
    await lossy.sim.run();
    expect(lossy.outcome.lost.length).toBeGreaterThan(0);
    const safe = replicatedKv({ replication: "synchronous", seed: 0, faults, scheduler: fifo() });
    await safe.sim.run();
    expect(safe.outcome.lost).toEqual([]);
  });

  test("synchronous replication keeps every acknowledged write under generated faults and schedules", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 1000 }),
        plans,
        schedules(),
        async (seed, faults, scheduler) => {
          const { sim, outcome } = replicatedKv({
            replication: "synchronous",
            seed,
            faults,
            scheduler,
          });
          await sim.run();
          return keptEveryWrite(outcome);
        },
      ),
      { numRuns: 300, seed: 16 },
    );
  }, 60_000);

  test("1,000 seeds of the synchronous store, each with faults drawn from its seed: no write lost, and each seed replays byte for byte", async () => {
    const outcomes: Outcome[] = [];
    const seeds = Array.from({ length: 1000 }, (_, i) => i + 1);
    const checked = await checkDeterminism(
      (seed) => {
        const [faults] = fc.sample(plans, { seed, numRuns: 1 });
        const { sim, outcome } = replicatedKv({
          replication: "synchronous",
          seed,
          faults: faults!,
        });
        outcomes.push(outcome);
        return sim;
      },
      { seeds },
    );
    expect(checked).toBe(1000);
    expect(outcomes.filter((o) => !keptEveryWrite(o))).toEqual([]);
    // The faults did strike: some runs failed over or could not read.
    expect(outcomes.some((o) => o.acknowledged < 10 || o.unavailable > 0)).toBe(true);
  }, 120_000);
});
