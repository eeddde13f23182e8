/**
 * Fault injection in-process (issue 20) on the examples: each runs
 * unmodified under generated schedules with cancellations injected into any
 * cancel scope or nursery open at a generated step (`CancellationInjector`),
 * on a `MockClock` — and the ones that do network I/O (the HTTP service, the
 * replicated key-value store, the chat server) on the closed-world `Simulation`, whose
 * connections must all be closed when it ends. After each run: no task or
 * scope outlives it, no `Cancelled` escapes, and what the example makes
 * observable of its `finally` blocks (its live-task counter, its cleanup
 * log, the client's own try blocks) says they all ran.
 *
 * `pnpm test:faults` for a long run (WEFT_FAULT_RUNS, default 2000).
 */

import { fc, test } from "@fast-check/vitest";
import { generatorChannel, moveOnAfter } from "@weft/core";
import { afterEach, beforeEach, describe, expect, vi } from "vitest";
import { ticker } from "../../../../examples/generator-channel.ts";
import { replicatedKv } from "../../../../examples/replicated-kv-simulation.ts";
import { liveTreeTasks, supervisor } from "../../../../examples/timeout-tree.ts";
import { CancellationInjector, cancellationFaults, schedules } from "../../src/index.ts";
import type { Simulation } from "../../src/network-simulation.ts";
import {
  checkHostResources,
  checkRunInvariants,
  faultRuns,
  faultTimeout,
  hostResources,
  Ledger,
  type RunResult,
  runWithFaults,
  withReport,
} from "../support/fault-runs.ts";
import { chatScenario, httpScenario, notEnteredByNet } from "../support/fault-scenarios.ts";

// The examples log what they do; the properties only look at what they count.
beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => {});
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs a simulation and says how it ended. */
async function simulate(sim: Simulation): Promise<RunResult> {
  const before = hostResources();
  let result: RunResult;
  try {
    await sim.run();
    result = { ok: true, value: undefined };
  } catch (error) {
    result = { ok: false, error };
  }
  checkHostResources(before);
  return result;
}

/** The simulated network is empty again: every connection's both ends were closed. */
function checkNoSocketLeft(sim: Simulation): void {
  expect(sim.resourcesLeft, "connections left open in the simulated network").toEqual({
    connections: 0,
    links: 0,
    connectionPorts: 0,
  });
}

describe("cancellation faults injected into the examples", () => {
  test.prop([schedules(), cancellationFaults({ maxStep: 45 })], faultRuns(25))(
    "timeout-tree: the supervisor's tree under moveOnAfter — every worker's finally ran (live tasks 0)",
    async (scheduler, faults) => {
      const { result, injector } = await runWithFaults(
        () => moveOnAfter(400, () => supervisor(3)),
        scheduler,
        faults,
      );
      withReport(injector, () => {
        checkRunInvariants(result, injector);
        expect(result).toEqual({ ok: true, value: undefined });
        expect(liveTreeTasks(), "tasks of the tree that did not finish their cleanup").toBe(0);
      });
    },
    faultTimeout,
  );

  test.prop(
    [schedules(), cancellationFaults({ maxStep: 20 }), fc.integer({ min: 0, max: 5 })],
    faultRuns(25),
  )(
    "generator-channel: a consumer of the ticker that stops early — the ticker's finally ran once it had started",
    async (scheduler, faults, stopAfter) => {
      let received = 0;
      let cleanups = 0;
      vi.mocked(console.log).mockImplementation((line: unknown) => {
        if (String(line).includes("ticker: cleaned up")) cleanups++;
      });
      const { result, injector } = await runWithFaults(
        () =>
          generatorChannel(
            () => ticker(10, 45),
            async (ticks) => {
              for await (const _ of ticks) if (++received >= stopAfter) break;
            },
          ),
        scheduler,
        faults,
      );
      withReport(injector, () => {
        checkRunInvariants(result, injector);
        expect(result.ok, String(!result.ok && result.error)).toBe(true);
        // The ticker's body ran (a tick came) → its finally ran, once.
        if (received > 0) expect(cleanups).toBe(1);
        else expect(cleanups).toBeLessThanOrEqual(1);
      });
    },
    faultTimeout,
  );

  test.prop([schedules(), cancellationFaults({ maxStep: 250 })], faultRuns(15))(
    "http-service on the simulation: every request's finally ran, no connection is left open, no Cancelled escapes",
    async (scheduler, faults) => {
      const ledger = new Ledger();
      const injector = new CancellationInjector(faults, { filter: notEnteredByNet });
      const failures: unknown[] = [];
      const sim = httpScenario(scheduler, injector, ledger, failures);
      const result = await simulate(sim);
      withReport(injector, () => {
        checkRunInvariants(result, injector);
        expect(result.ok, String(!result.ok && result.error)).toBe(true);
        expect(ledger.finished).toBe(ledger.entered);
        checkNoSocketLeft(sim);
        if (injector.injected.length === 0) expect(failures).toEqual([]);
      });
    },
    faultTimeout,
  );

  test.prop([schedules(), cancellationFaults({ maxStep: 160 })], faultRuns(10))(
    "replicated-kv on the simulation: no connection is left open, no Cancelled escapes",
    async (scheduler, faults) => {
      const injector = new CancellationInjector(faults, { filter: notEnteredByNet });
      const { sim, outcome } = replicatedKv({
        replication: "synchronous",
        scheduler,
        instruments: [injector],
      });
      const result = await simulate(sim);
      withReport(injector, () => {
        checkRunInvariants(result, injector);
        expect(result.ok, String(!result.ok && result.error)).toBe(true);
        expect(outcome.lost).toEqual([]);
        checkNoSocketLeft(sim);
      });
    },
    faultTimeout,
  );

  test.prop([schedules(), cancellationFaults({ maxStep: 100 })], faultRuns(15))(
    "chat-server on the simulation: every member who joined has left (the handler's finally ran), no connection is left open",
    async (scheduler, faults) => {
      const lines: string[] = [];
      vi.mocked(console.log).mockImplementation((line: unknown) => {
        lines.push(String(line));
      });
      const ledger = new Ledger();
      const injector = new CancellationInjector(faults, { filter: notEnteredByNet });
      const failures: unknown[] = [];
      const sim = chatScenario(scheduler, injector, ledger, failures);
      const result = await simulate(sim);
      withReport(injector, () => {
        checkRunInvariants(result, injector);
        expect(result.ok, String(!result.ok && result.error)).toBe(true);
        expect(ledger.finished).toBe(ledger.entered);
        const joined = lines.flatMap((l) => /server: (\w+) joined$/.exec(l)?.[1] ?? []);
        const left = lines.flatMap(
          (l) => /server: (\w+) (left|was disconnected)/.exec(l)?.[1] ?? [],
        );
        expect(left.toSorted()).toEqual(joined.toSorted());
        checkNoSocketLeft(sim);
        if (injector.injected.length === 0) {
          expect(failures).toEqual([]);
          expect(joined.toSorted()).toEqual(["alice", "bob", "carol"]);
        }
      });
    },
    faultTimeout,
  );
});
