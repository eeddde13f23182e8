/**
 * Fault injection in-process (issue 20): programs run under generated
 * schedules with cancellations injected at generated steps into any cancel
 * scope or nursery open at that moment (`CancellationInjector`,
 * `cancellationFaults`). After each run: every `finally` ran, no task or
 * scope outlives `run()`, every error raised comes out exactly once, and no
 * `Cancelled` escapes. A failure prints the shrunk schedule and fault list,
 * which replay the run exactly.
 *
 * Runs: a few dozen per property by default (a few seconds in all);
 * `pnpm test:faults` (WEFT_FAULT_RUNS=2000 by default)
 * for a long run.
 */

import { fc, test } from "@fast-check/vitest";
import {
  BrokenResourceError,
  CancelScope,
  ClosedResourceError,
  checkpoint,
  failAfter,
  Lock,
  moveOnAfter,
  openMemoryChannel,
  openNursery,
  Semaphore,
  sleep,
  TooSlowError,
} from "@weft/core";
import { describe, expect } from "vitest";
import { cancellationFaults, schedules } from "../src/index.ts";
import {
  checkLedger,
  checkRunInvariants,
  faultRuns,
  faultTimeout,
  Ledger,
  runWithFaults,
  withReport,
} from "./support/fault-runs.ts";

/** Async cleanup, as the examples write it: a shielded scope lets a cancelled task await. */
async function cleanUp(ledger: Ledger, ms: number): Promise<void> {
  await ledger.guarded(() => new CancelScope({ shield: true }).run(() => sleep(ms)));
}

/** Which of the workload's failing tasks run. */
interface Failures {
  /** One that fails before any checkpoint (and so cancels the rest at once). */
  readonly atOnce: boolean;
  /** One that fails after 30 ms. */
  readonly later: boolean;
}

const failures = fc.record({ atOnce: fc.boolean(), later: fc.boolean() });

/**
 * A program written for the test that uses most of weft's structure: nested
 * nurseries of looping workers with async cleanup, a producer and consumer
 * on a memory channel, a lock and a semaphore, `start()`, timeouts, and
 * workers that fail — one before any checkpoint (always), one later.
 */
async function workload(ledger: Ledger, failures: Failures): Promise<void> {
  const lock = new Lock();
  const slots = new Semaphore(2);
  let shared = 0;
  await ledger.guarded(() =>
    openNursery(async (top) => {
      // A failure before any checkpoint, spawned before any: raised whatever the faults.
      if (failures.atOnce)
        top.startSoon(() => ledger.guarded(async () => ledger.raise("failed at once")));
      // A server-like task: ready after a checkpoint, then serves until cancelled.
      await top.start(async (status) => {
        await ledger.guarded(async () => {
          await checkpoint();
          status.started();
          await sleep(1000);
        });
      });
      // A tree of workers under a timeout, each with async cleanup.
      top.startSoon(() =>
        ledger.guarded(() =>
          moveOnAfter(25, () =>
            openNursery(async (tree) => {
              for (let w = 0; w < 2; w++) {
                tree.startSoon(() =>
                  ledger.guarded(async () => {
                    try {
                      await openNursery(async (sub) => {
                        for (let s = 0; s < 2; s++) {
                          sub.startSoon(() =>
                            ledger.guarded(async () => {
                              try {
                                for (;;) await sleep(3 + s + w);
                              } finally {
                                await cleanUp(ledger, 1);
                              }
                            }),
                          );
                        }
                      });
                    } finally {
                      await cleanUp(ledger, 2);
                    }
                  }),
                );
              }
            }),
          ),
        ),
      );
      // A producer and a consumer on a channel, each closing its end.
      const [send, receive] = openMemoryChannel<number>(1);
      top.startSoon(() =>
        ledger.guarded(async () => {
          try {
            for (let i = 0; i < 6; i++) await send.send(i);
          } finally {
            send.close();
          }
        }),
      );
      top.startSoon(() =>
        ledger.guarded(async () => {
          try {
            for await (const _ of receive) await sleep(1);
          } finally {
            receive.close();
          }
        }),
      );
      // A critical section under a lock, and a limited resource.
      for (let i = 0; i < 3; i++) {
        top.startSoon(() =>
          ledger.guarded(async () => {
            await slots.acquire();
            try {
              await lock.withLock(async () => {
                const seen = shared;
                await sleep(1);
                shared = seen + 1;
              });
            } finally {
              slots.release();
            }
          }),
        );
      }
      // A timeout that raises, caught by its caller.
      top.startSoon(() =>
        ledger.guarded(async () => {
          try {
            await failAfter(4, () => sleep(10));
          } catch (error) {
            if (!(error instanceof TooSlowError)) throw error;
          }
        }),
      );
      // A failure after a few checkpoints.
      if (failures.later) {
        top.startSoon(() =>
          ledger.guarded(async () => {
            await sleep(30);
            ledger.raise("failed after 30 ms");
          }),
        );
      }
    }),
  );
}

/** Errors that cancellation itself may cause in the workload: its channel's ends closing. */
const workloadFaultErrors = [BrokenResourceError, ClosedResourceError];

describe("cancellation faults injected into a program written for the test", () => {
  test.prop([schedules(), cancellationFaults({ maxStep: 80 }), failures], faultRuns(100))(
    "every finally runs, no task or scope outlives run(), each error comes out once, no Cancelled escapes",
    async (scheduler, faults, failures) => {
      const ledger = new Ledger();
      const { result, injector } = await runWithFaults(
        () => workload(ledger, failures),
        scheduler,
        faults,
      );
      withReport(injector, () => {
        checkRunInvariants(result, injector);
        checkLedger(ledger, result, workloadFaultErrors);
        // The error raised before any checkpoint is raised whatever the faults.
        if (failures.atOnce)
          expect(ledger.raised.map((e) => e.message)).toContain("failed at once");
      });
    },
    faultTimeout,
  );
});
