/**
 * The scenario of docs/guides/testing-distributed-systems.md: the replicated
 * key-value store of examples/replicated-kv.ts on a simulated network — a
 * primary, a backup, and a client that writes ten keys and reads back every
 * write it saw acknowledged — under a fault plan and a schedule. Its tests
 * are packages/testing/test/simulation/replicated-kv.test.ts; the benchmark
 * `pnpm bench:simulation` runs it under load.
 *
 * Run it: `node --conditions=weft-source examples/replicated-kv-simulation.ts`
 * replays the lost write that the guide's property finds.
 */
import type { Instrument } from "@weft/core";
import { DeterministicScheduler } from "@weft/testing";
import { type FaultPlan, Simulation } from "@weft/testing/simulation";
import { KvClient, type Replication, runBackup, runPrimary } from "./replicated-kv.ts";

/** What the client saw: writes acknowledged, acknowledged writes missing afterwards, reads nobody answered. */
export interface Outcome {
  acknowledged: number;
  lost: string[];
  unavailable: number;
}

export interface ScenarioOptions {
  replication: Replication;
  seed?: number;
  faults?: FaultPlan;
  scheduler?: DeterministicScheduler;
  /** Instruments of the run (a `CancellationInjector`, say). */
  instruments?: readonly Instrument[];
}

/** The simulation of one run, and (after `sim.run()`) what its client saw. */
export function replicatedKv(options: ScenarioOptions): { sim: Simulation; outcome: Outcome } {
  const outcome: Outcome = { acknowledged: 0, lost: [], unavailable: 0 };
  const sim = new Simulation({
    seed: options.seed ?? 1,
    // 1 to 4 ms per segment, drawn from the seed: a reply can overtake a copy.
    latency: (random) => 1 + Math.floor(random() * 4),
    faults: options.faults ?? [],
    ...(options.scheduler !== undefined ? { scheduler: options.scheduler } : {}),
    ...(options.instruments !== undefined ? { instruments: options.instruments } : {}),
  });
  // Each server's disk outlives its crashes and restarts.
  const primaryDisk = new Map<string, string>();
  const backupDisk = new Map<string, string>();
  sim.host("primary", () =>
    runPrimary({
      port: 7000,
      backup: { host: "backup", port: 7000 },
      replication: options.replication,
      disk: primaryDisk,
    }),
  );
  sim.host("backup", () => runBackup({ port: 7000, disk: backupDisk }));
  sim.client("client", async () => {
    Object.assign(outcome, { acknowledged: 0, lost: [], unavailable: 0 });
    const client = new KvClient([
      { host: "primary", port: 7000 },
      { host: "backup", port: 7000 },
    ]);
    try {
      const acknowledged: string[] = [];
      for (let i = 1; i <= 10; i++) {
        if (await client.set(`k${i}`, `v${i}`)) acknowledged.push(`k${i}`);
      }
      outcome.acknowledged = acknowledged.length;
      for (const key of acknowledged) {
        const value = await client.get(key);
        if (value === null) outcome.unavailable++;
        else if (value !== `v${key.slice(1)}`) outcome.lost.push(key);
      }
    } finally {
      await client.close(); // even when cancelled: no connection outlives the client
    }
  });
  return { sim, outcome };
}

if (import.meta.main) {
  // The counterexample of the guide: seed 0, one bounce of the primary at
  // 8 ms, the scheduler in plain FIFO order.
  const { sim, outcome } = replicatedKv({
    replication: "asynchronous",
    seed: 0,
    faults: [{ at: 8, kind: "bounce", host: "primary" }],
    scheduler: new DeterministicScheduler({ choices: [], afterChoices: "fifo" }),
  });
  await sim.run();
  const failover = sim.trace.findIndex((line) => line.includes("connect client → backup"));
  console.log(sim.trace.slice(0, failover + 1).join("\n"));
  console.log(outcome);
}
