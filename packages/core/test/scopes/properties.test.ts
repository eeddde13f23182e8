/**
 * Property-based tests: random trees of tasks, nurseries and cancel scopes
 * (see support/task-tree.ts) run on a virtual clock (MockClock, autojump 0),
 * half of them under a scheduler that steps one random task at a time, and
 * the invariants that structured concurrency promises checked on each.
 *
 * A failure prints the shrunk tree (S = scope, N = nursery, T = task, E =
 * error ids), the outcome and the event log. To replay it, pass fast-check's
 * seed and path: `WEFT_PROPERTY_SEED=… WEFT_PROPERTY_PATH=… vitest run …`.
 * To hunt, raise the number of runs: `WEFT_PROPERTY_RUNS=20000`.
 */
import {
  Cancelled,
  CancelScope,
  cancelShieldedCheckpoint,
  checkpoint,
  currentEffectiveDeadline,
  currentTime,
  DeadlockError,
  ExceptionGroup,
  failAfter,
  isCancelled,
  lowlevel,
  openNursery,
  sleep,
  sleepForever,
  type TaskStatus,
  TooSlowError,
} from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";
import { propertyParameters } from "../support/property-parameters.ts";
import {
  describeError,
  expectationFor,
  leafErrors,
  multiset,
  NOTHING,
  normalize,
  type RawAction,
  type RunReport,
  rawTreeArbitrary,
  runTree,
  showTree,
} from "../support/task-tree.ts";

const { numRuns: NUM_RUNS, parameters: PARAMETERS, timeout: TIMEOUT } = propertyParameters(1000);

interface Case {
  readonly raw: RawAction[];
  /** null: the default FIFO batches; else the seed of a scheduler running one random task per batch. */
  readonly schedulerSeed: number | null;
  /** The run's strictErrors option. */
  readonly strictErrors: boolean | undefined;
}

function caseArbitrary(options: { foreign: boolean }): fc.Arbitrary<Case> {
  return fc.record({
    raw: rawTreeArbitrary(options),
    schedulerSeed: fc.option(fc.nat(), { freq: 2 }),
    strictErrors: fc.constantFrom(undefined, true, false),
  });
}

/** Runs the case's tree and checks `check` on the report; the tree is printed when it fails. */
function property(check: (report: RunReport) => void) {
  return fc.asyncProperty(
    caseArbitrary({ foreign: true }),
    async ({ raw, schedulerSeed, strictErrors }) => {
      const tree = normalize(raw);
      const report = await runTree(tree, { schedulerSeed, strictErrors });
      try {
        check(report);
      } catch (error) {
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}\n` +
            `tree:\n${showTree(tree)}\nscheduler seed: ${schedulerSeed}, strictErrors: ${strictErrors}\n` +
            `outcome: ${report.settled} ${describeError(report.rejection)}\nlog:\n  ${report.log.join("\n  ")}`,
          { cause: error },
        );
      }
    },
  );
}

function assertProperty(check: (report: RunReport) => void): Promise<void> {
  return fc.assert(property(check), { numRuns: NUM_RUNS, ...PARAMETERS });
}

describe("properties of random task trees on a virtual clock", () => {
  test(
    "1. every run terminates: run() resolves or rejects (never with a deadlock) within 5 s of real time",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled, "run() did not settle within 5 s of real time").not.toBe("timeout");
        expect(report.rejection).not.toBeInstanceOf(DeadlockError);
      });
    },
  );

  test(
    "2. no task outlives its nursery, and nursery.childTasks is empty once openNursery returns",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        const byNursery = new Map([...report.nurseries.values()].map((n) => [n.nursery, n]));
        for (const n of report.nurseries.values()) {
          expect(n.exitSeq, `N${n.id} never exited`).not.toBeNull();
          expect(n.childTasksAfterExit, `N${n.id}.childTasks after openNursery returned`).toBe(0);
        }
        for (const t of report.tasks.values()) {
          if (t.how === "main") continue;
          expect(t.task, `T${t.id} never ran`).not.toBeNull();
          const exit = report.exits.get(t.task!);
          expect(exit, `T${t.id} never exited`).toBeDefined();
          const target = report.nurseries.get(t.target)!;
          expect(
            exit!.seq,
            `T${t.id} exited after N${t.target}, the nursery it was spawned into`,
          ).toBeLessThan(target.exitSeq!);
          const home =
            exit!.parentNursery === null ? undefined : byNursery.get(exit!.parentNursery);
          if (t.how === "soon") {
            expect(home?.id, `T${t.id}.parentNursery at exit`).toBe(t.target);
          } else if (home === undefined) {
            // Never moved: it lived in start()'s own nursery, which closes before start() settles.
            expect(exit!.seq, `T${t.id} exited after its start() settled`).toBeLessThan(
              report.startSettledSeq.get(t.id)!,
            );
            expect(
              t.home === target.location,
              `T${t.id}: started() reported a move, yet it is not in N${t.target}`,
            ).toBe(false);
          } else {
            expect(home.id, `T${t.id} moved to a nursery other than its target`).toBe(t.target);
            expect(t.home, `T${t.id} is in N${t.target} but started() did not report a move`).toBe(
              target.location,
            );
          }
        }
      });
    },
  );

  test(
    "3. every finally runs exactly once, and its shielded cleanup sleep completes",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        for (const [id, f] of report.finallies) {
          expect({ id, entered: f.entered, ran: f.ran, cleanupDone: f.done }).toEqual({
            id,
            entered: 1,
            ran: 1,
            cleanupDone: 1,
          });
          expect(
            f.elapsed[0],
            `finally#${id}: shielded sleep(${f.ms}) was cut short`,
          ).toBeGreaterThanOrEqual(f.ms);
        }
        for (const t of report.tasks.values()) {
          expect({ task: t.id, starts: t.starts, ends: t.ends }).toEqual({
            task: t.id,
            starts: 1,
            ends: 1,
          });
        }
      });
    },
  );

  test(
    "4. every error a task throws reaches the caller of run exactly once, unless the tree's own code catches it",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        const aborted = report.abortReason !== null && report.rejection === report.abortReason;
        const leaves =
          report.settled === "rejected" && !aborted ? leafErrors(report.rejection) : [];
        // Cancelled leaves are property 5's business.
        const untracked = leaves.filter(
          (leaf) => !report.thrown.has(leaf) && !(leaf instanceof Cancelled),
        );
        expect(untracked.map(describeError), "errors out of run() that no action threw").toEqual(
          [],
        );
        const leafCounts = multiset(leaves);
        const actual: Record<string, unknown> = {};
        const expected: Record<string, unknown> = {};
        for (const [error, record] of report.thrown) {
          const name = `${describeError(error)} (${record.kind} E${record.errorId} in T${record.task.id})`;
          const expectation = expectationFor(record, report.tree.masks);
          const seenBy = [...report.seen].filter(([, errors]) => errors.includes(error));
          const caughtBy = [...report.caught].filter(([, errors]) => errors.includes(error));
          actual[name] = {
            seenBy: seenBy
              .map(([h, errors]) => `${h}×${errors.filter((e) => e === error).length}`)
              .sort(),
            caughtBy: caughtBy.map(
              ([h, errors]) => `${h}×${errors.filter((e) => e === error).length}`,
            ),
            outOfRun: leafCounts.get(error) ?? 0,
          };
          expected[name] = {
            seenBy: expectation.seenBy.map((h) => `${h}×1`).sort(),
            caughtBy: expectation.caughtBy === null ? [] : [`${expectation.caughtBy}×1`],
            outOfRun: expectation.caughtBy === null ? 1 : 0,
          };
        }
        expect(actual).toEqual(expected);
        if (leaves.length === 0) {
          // Nothing escaped: run() resolves, or rejects with the reason the run was aborted for.
          expect(describeError(report.rejection)).toBe(
            describeError(report.abortReason ?? undefined),
          );
          expect(report.settled).toBe(report.abortReason === null ? "resolved" : "rejected");
        }
      });
    },
  );

  test("5. a Cancelled never escapes run", TIMEOUT, async () => {
    await assertProperty((report) => {
      expect(report.settled).not.toBe("timeout");
      if (report.settled !== "rejected") return;
      expect(isCancelled(report.rejection)).toBe(false);
      expect(leafErrors(report.rejection).filter(isCancelled).map(describeError)).toEqual([]);
      const message = report.rejection instanceof Error ? report.rejection.message : "";
      expect(message).not.toMatch(/Cancelled escaped/);
    });
  });

  test(
    "6. nothing leaks: no host timer is left behind, and tasksLiving matches the tasks spawned and exited",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        expect(
          report.timersAfter,
          "host timers/immediates pending after run() settled",
        ).toBeLessThanOrEqual(report.timersBefore);
        expect(report.livingMismatches).toEqual([]);
        expect(report.instrumentProblems).toEqual([]);
        // The root task and main are all that is left once main's nurseries have closed.
        expect(report.tasksLivingAtEndOfMain).toBe(2);
      });
    },
  );

  test(
    "7. determinism: the same tree run twice on a MockClock logs the same events in the same order",
    TIMEOUT,
    async () => {
      await fc.assert(
        // No foreign waits here: host immediates race the kernel in real time.
        fc.asyncProperty(
          caseArbitrary({ foreign: false }),
          async ({ raw, schedulerSeed, strictErrors }) => {
            const tree = normalize(raw);
            const first = await runTree(tree, { schedulerSeed, strictErrors });
            const second = await runTree(tree, { schedulerSeed, strictErrors });
            expect(second.settled).toBe(first.settled);
            expect(describeError(second.rejection)).toBe(describeError(first.rejection));
            expect(second.log).toEqual(first.log);
          },
        ),
        { numRuns: NUM_RUNS / 2, ...PARAMETERS },
      );
    },
  );

  test(
    "8. time and level-triggered cancellation: sleeps and deadlines are exact, checkpoints in a cancelled scope raise",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        const times = report.log.map((line) => Number(line.slice(line.lastIndexOf("@") + 1)));
        expect(times, "virtual time went backwards").toEqual([...times].sort((a, b) => a - b));
        for (const w of report.waits) {
          const name = `T${w.task} ${w.what}(${w.what === "sleep" ? w.ms : ""}) at ${w.t0} under deadline ${w.deadline} -> ${describeError(w.outcome)} at ${w.t1}`;
          const cancelled = w.outcome instanceof Cancelled;
          if (w.outcome !== "ok")
            expect(cancelled, `${name}: raised something other than Cancelled`).toBe(true);
          expect(
            w.msToNextDeadline,
            `${name}: msToNextDeadline is negative`,
          ).toBeGreaterThanOrEqual(0);
          if (!w.disturbed && w.deadline !== -Infinity && w.deadline !== Infinity) {
            // Every pending deadline of an enclosing scope is registered with the kernel.
            expect(
              w.msToNextDeadline,
              `${name}: msToNextDeadline is past the effective deadline`,
            ).toBeLessThanOrEqual(w.deadline - w.t0);
          }
          if (w.what === "cancellable") {
            // Foreign work takes real time, during which the virtual clock may jump.
            if (w.deadline === -Infinity)
              expect(cancelled, `${name}: cancellable in a cancelled scope did not raise`).toBe(
                true,
              );
            continue;
          }
          if (w.what !== "sleep" && w.what !== "sleepForever") {
            expect(w.t1, `${name}: a checkpoint let virtual time pass`).toBe(w.t0);
          }
          if (w.what === "cancelShieldedCheckpoint") {
            expect(cancelled, `${name}: cancelShieldedCheckpoint raised`).toBe(false);
            continue;
          }
          if (w.what === "checkpointIfCancelled") {
            expect(
              cancelled,
              `${name}: checkpointIfCancelled raises exactly when already cancelled`,
            ).toBe(w.deadline === -Infinity);
          }
          if (w.deadline === -Infinity) {
            // Level-triggered: already cancelled, so every checkpoint raises, at once.
            expect(cancelled, `${name}: a checkpoint in a cancelled scope did not raise`).toBe(
              true,
            );
            expect(w.t1, name).toBe(w.t0);
            continue;
          }
          if (w.what === "sleepForever")
            expect(cancelled, `${name}: sleepForever returned`).toBe(true);
          if (!cancelled) {
            expect(w.t1, `${name}: sleep returned at the wrong time`).toBe(w.t0 + w.ms);
            if (!w.disturbed) {
              expect(w.t0 + w.ms, `${name}: slept through a deadline`).toBeLessThanOrEqual(
                w.deadline,
              );
            }
          } else if (w.what === "sleep" || w.what === "sleepForever") {
            expect(w.t1, `${name}: cancelled after it should have returned`).toBeLessThanOrEqual(
              w.t0 + w.ms,
            );
            if (!w.disturbed && (w.outcome as Cancelled).source === "deadline") {
              expect(w.t1, `${name}: a deadline fired at the wrong time`).toBe(w.deadline);
            } else if (!w.disturbed) {
              expect(w.t1, `${name}: cancelled after the deadline`).toBeLessThanOrEqual(w.deadline);
            }
          }
        }
      });
    },
  );

  test(
    "9. a cancel scope catches a Cancelled only if it was cancelled itself and no cancelled enclosing scope is visible; it keeps every other error",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        for (const x of report.scopeExits) {
          const name = `S${x.scope} (${x.kind}${x.shield ? ", shield" : ""}): body ${describeError(x.bodyError)} -> ${describeError(x.outcome)}, cancelCalled ${x.cancelCalled}, cancelledCaught ${x.cancelledCaught}, outer cancelled ${x.outerCancelledAfter}`;
          const bodyLeaves = x.bodyError === NOTHING ? [] : leafErrors(x.bodyError);
          const bodyCancelled = bodyLeaves.some((e) => e instanceof Cancelled);
          if (x.cancelledCaught) {
            expect(x.cancelCalled, `${name}: caught a cancellation but was never cancelled`).toBe(
              true,
            );
            expect(
              bodyCancelled,
              `${name}: cancelledCaught without a Cancelled from the body`,
            ).toBe(true);
            const rest = bodyLeaves.filter((e) => !(e instanceof Cancelled));
            const out = x.outcome === NOTHING ? [] : leafErrors(x.outcome);
            const fails = x.kind === "failAfter" || x.kind === "failAt";
            if (fails && rest.length === 0) {
              expect(
                x.outcome,
                `${name}: a fail* scope that caught its cancellation raises TooSlowError`,
              ).toBeInstanceOf(TooSlowError);
            } else {
              expect(
                out.map(describeError),
                `${name}: the scope must remove its Cancelled and keep the rest`,
              ).toEqual(rest.map(describeError));
            }
          } else {
            // Not caught: what the body raised goes on, the same errors (a group may be rebuilt).
            const out = x.outcome === NOTHING ? [] : leafErrors(x.outcome);
            expect(
              out.length === bodyLeaves.length && out.every((e, i) => e === bodyLeaves[i]),
              `${name}: a scope that caught nothing changed what its body raised`,
            ).toBe(true);
            if (!(x.bodyError instanceof ExceptionGroup)) expect(x.outcome, name).toBe(x.bodyError);
            if (bodyCancelled) {
              expect(
                !x.shield && x.outerCancelledAfter,
                `${name}: let a Cancelled through with no cancelled scope outside`,
              ).toBe(true);
            }
          }
        }
      });
    },
  );

  test(
    "10. start(): started() moves the child and start() resolves with its value, unless start() was cancelled",
    TIMEOUT,
    async () => {
      await assertProperty((report) => {
        expect(report.settled).not.toBe("timeout");
        for (const s of report.starts) {
          const child = report.tasks.get(s.task)!;
          const name = `start(T${s.task}): started() ${child.started ?? "never called"}, start() ${s.resolved ? "resolved" : "rejected"} with ${describeError(s.value)}`;
          if (child.started === null) {
            expect(s.resolved, `${name}: resolved without started()`).toBe(false);
            continue;
          }
          if (s.resolved) expect(s.value, name).toBe(s.task);
          if (child.started === "moved") expect(s.resolved, name).toBe(true);
          else
            expect(
              s.callerCancelledAfter,
              `${name}: not moved although the caller was not cancelled`,
            ).toBe(true);
        }
      });
    },
  );
});

describe("regressions found by the properties", () => {
  test("aborting the run's signal while a child's error is in flight: run rejects with the error, and no Cancelled inside", async () => {
    // Found by property 5: main's group held both the child's error and the
    // Cancelled(signal) of the run-wide cancellation, and run() passed it on.
    const controller = new AbortController();
    const boom = new Error("boom");
    const error = await rejection(
      runVirtual(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              throw boom;
            });
            controller.abort(new Error("stop"));
            await sleep(0); // raises Cancelled(signal) in the body
          }),
        { signal: controller.signal },
      ),
    );
    expect(error).toBeInstanceOf(ExceptionGroup);
    expect(leafErrors(error)).toEqual([boom]);
    expect(isCancelled(error)).toBe(false);
  });

  test("aborting the run's signal with nothing else failing: run rejects with signal.reason", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    let cleanedUp = false;
    const error = await rejection(
      runVirtual(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              try {
                await sleepForever();
              } finally {
                cleanedUp = true;
              }
            });
            await sleep(1);
            controller.abort(reason);
            await sleep(0);
          }),
        { signal: controller.signal },
      ),
    );
    expect(error).toBe(reason);
    expect(cleanedUp).toBe(true);
  });

  test("a failAfter that timed out while its body raised lets the error through, with no TooSlowError", async () => {
    const boom = new Error("boom");
    const error = await rejection(
      runVirtual(() =>
        failAfter(5, async () => {
          try {
            await sleep(10);
          } finally {
            // biome-ignore lint/correctness/noUnsafeFinally: the error replaces the Cancelled on purpose
            throw boom;
          }
        }),
      ),
    );
    expect(error).toBe(boom);
  });

  test("a scope that owns its cancellation removes the Cancelled from a nursery's group and keeps the other errors", async () => {
    const boom = new Error("boom");
    const scope = new CancelScope();
    const error = await rejection(
      runVirtual(() =>
        scope.run(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              // Turns its Cancelled into another error.
              await sleepForever().catch(() => {
                throw boom;
              });
            });
            await sleep(1);
            scope.cancel();
            await sleepForever();
          }),
        ),
      ),
    );
    expect(scope.cancelledCaught).toBe(true);
    expect(leafErrors(error)).toEqual([boom]);
  });

  test("cancellation is level-triggered: swallowing a Cancelled does not uncancel, the next checkpoint raises again", async () => {
    const log: string[] = [];
    const scope = new CancelScope();
    await runVirtual(() =>
      scope.run(async () => {
        scope.cancel();
        try {
          await checkpoint();
        } catch (error) {
          log.push(`swallowed ${describeError(error)}`);
        }
        await sleep(1).catch((error: unknown) => {
          log.push(`again ${describeError(error)}`);
          throw error;
        });
        log.push("not reached");
      }),
    );
    expect(log).toEqual(["swallowed Cancelled(explicit)", "again Cancelled(explicit)"]);
    expect(scope.cancelledCaught).toBe(true);
  });

  test("started() while the scope around start() is cancelled: the child stays under the caller, and start() settles only after it exits", async () => {
    const log: string[] = [];
    await runVirtual(() =>
      openNursery(async (outer) => {
        await new CancelScope().run(async (scope) => {
          const value = await outer.start(async (status: TaskStatus<number>) => {
            scope.cancel();
            await new CancelScope({ shield: true }).run(async () => {
              await sleep(1);
              status.started(7);
              log.push(`moved: ${lowlevel.currentTask().parentNursery === outer}`);
              await sleep(5);
            });
            log.push(`child exits at ${currentTime()}`);
          });
          log.push(`start() resolved ${value} at ${currentTime()}`);
          expect(currentEffectiveDeadline()).toBe(-Infinity);
          await checkpoint().catch((error: unknown) => {
            log.push(`then ${describeError(error)}`);
            throw error;
          });
        });
      }),
    );
    expect(log).toEqual([
      "moved: false",
      "child exits at 6",
      "start() resolved 7 at 6",
      "then Cancelled(explicit)",
    ]);
  });

  test("a sleep in a scope whose deadline moves earlier is woken at the new deadline", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        const scope = new CancelScope({ relativeDeadline: 100 });
        nursery.startSoon(async () => {
          await sleep(3);
          scope.deadline = currentTime() + 2;
        });
        await scope.run(() => sleep(50));
        expect(scope.cancelledCaught).toBe(true);
        expect(currentTime()).toBe(5);
      });
    });
  });

  test("clearing shield wakes a task blocked in a shielded scope inside a cancelled one", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      await outer.run(async () => {
        const inner = new CancelScope({ shield: true });
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await sleep(1);
            outer.cancel();
            await cancelShieldedCheckpoint();
            inner.shield = false;
          });
          await inner.run(() => sleepForever());
        });
      });
      expect(outer.cancelledCaught).toBe(true);
      expect(currentTime()).toBe(1);
    });
  });
});
