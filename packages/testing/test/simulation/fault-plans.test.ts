/**
 * Fault plans and schedules in one property: a counter service that keeps
 * its count in memory (the bug: a restart loses it) passes without faults,
 * and fast-check finds the fault that breaks it and shrinks the plan to that
 * one fault — replayable from the counterexample.
 */
import { moveOnAfter, sleep } from "@weft/core";
import { openTcpStream, serveTcp } from "@weft/net";
import { type DeterministicScheduler, schedules } from "@weft/testing";
import {
  describeFaultPlan,
  type FaultPlan,
  faultPlans,
  Simulation,
} from "@weft/testing/simulation";
import fc from "fast-check";
import { describe, expect, test } from "vitest";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One request on a fresh connection: the command, then the reply until EOF. */
async function ask(command: string): Promise<string> {
  const stream = await openTcpStream("counter", 1);
  try {
    await stream.sendAll(encoder.encode(command));
    await stream.sendEof();
    let reply = "";
    for await (const chunk of stream) reply += decoder.decode(chunk);
    return reply;
  } finally {
    await stream.aclose();
  }
}

/** Asks until an answer comes (a timeout per try, a pause between tries, 30 tries). */
async function askPatiently(command: string): Promise<string | null> {
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const reply = await moveOnAfter(50, () => ask(command));
      if (reply !== undefined && reply !== "") return reply;
    } catch {
      // refused (down), reset (crashed): try again
    }
    await sleep(10);
  }
  return null;
}

/** The counter after three increments, under `faults` and `scheduler`. */
async function counterAfterThreeIncrements(
  faults: FaultPlan,
  scheduler?: DeterministicScheduler,
): Promise<string | null> {
  let final: string | null = null;
  const sim = new Simulation({ seed: 1, latency: 2, faults, ...(scheduler ? { scheduler } : {}) });
  sim.host("counter", async () => {
    let count = 0; // the bug: in memory, so a restart starts again from 0
    await serveTcp(async (stream) => {
      let command = "";
      for await (const chunk of stream) command += decoder.decode(chunk);
      if (command === "inc") count++;
      await stream.sendAll(encoder.encode(String(count)));
      await stream.sendEof();
    }, 1);
  });
  sim.client("client", async () => {
    await sleep(1);
    for (let i = 0; i < 3; i++) await askPatiently("inc");
    final = await askPatiently("get");
  });
  await sim.run();
  return final;
}

describe("fault plans with schedules", () => {
  test("without faults, under any schedule, the counter reaches 3", async () => {
    await fc.assert(
      fc.asyncProperty(schedules(), async (scheduler) => {
        expect(await counterAfterThreeIncrements([], scheduler)).toBe("3");
      }),
      { numRuns: 20 },
    );
  });

  test("fast-check finds the fault that loses the count and shrinks the plan to one fault; the counterexample replays", async () => {
    const property = fc.asyncProperty(
      faultPlans(["counter"], { maxFaults: 4, maxTime: 60 }),
      schedules(),
      async (faults, scheduler) => {
        return (await counterAfterThreeIncrements(faults, scheduler)) === "3";
      },
    );
    const result = await fc.check(property, { numRuns: 200, seed: 42 });
    expect(result.failed).toBe(true);
    const [plan] = result.counterexample as [FaultPlan, unknown];
    expect(plan).toHaveLength(1);
    expect(["bounce", "crash"]).toContain(plan[0]!.kind);
    expect(describeFaultPlan(plan)).toMatch(/^\d+ ms: (bounce|crash) counter$/);
    // The same plan, replayed by hand, fails the same way.
    expect(await counterAfterThreeIncrements(plan)).not.toBe("3");
  }, 60_000);

  test("plans on several hosts include holds and releases of a pair", () => {
    const plans = fc.sample(faultPlans(["a", "b"], { maxFaults: 5 }), { numRuns: 200, seed: 3 });
    const kinds = new Set(plans.flat().map((fault) => fault.kind));
    expect([...kinds].sort()).toEqual([
      "bounce",
      "crash",
      "hold",
      "partition",
      "release",
      "repair",
    ]);
    const hold = plans.flat().find((fault) => fault.kind === "hold")!;
    expect(describeFaultPlan([hold])).toMatch(/^\d+ ms: hold (a ↔ b|b ↔ a)$/);
  });
});
