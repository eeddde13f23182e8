/**
 * Property-based tests: random trees of tasks, nurseries and cancel scopes
 * (see support/task-tree.ts) run on a virtual clock, and the invariants that
 * structured concurrency promises checked on every one of them.
 */
import { Cancelled, DeadlockError, ExceptionGroup, isCancelled, TooSlowError } from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  describeError,
  expectationFor,
  leafErrors,
  multiset,
  NOTHING,
  normalize,
  type RawAction,
  type RunReport,
  rawTreeArb,
  runTree,
  showTree,
} from "./support/task-tree.ts";

/** Runs per property; raise it to hunt (`WEFT_PROPERTY_RUNS=20000 vitest run …`). */
const NUM_RUNS = Number(process.env.WEFT_PROPERTY_RUNS ?? 600);

interface Case {
  readonly raw: RawAction[];
  /** null: the default FIFO batches; else the seed of a scheduler running one random task per batch. */
  readonly schedulerSeed: number | null;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  raw: rawTreeArb,
  schedulerSeed: fc.option(fc.nat(), { freq: 2 }),
});

/** Runs the case's tree and checks `check` on the report; the tree is printed when it fails. */
function property(check: (report: RunReport) => void) {
  return fc.asyncProperty(caseArb, async ({ raw, schedulerSeed }) => {
    const tree = normalize(raw);
    const report = await runTree(tree, { schedulerSeed });
    try {
      check(report);
    } catch (error) {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\n` +
          `tree:\n${showTree(tree)}\nscheduler seed: ${schedulerSeed}\n` +
          `outcome: ${report.settled} ${describeError(report.rejection)}\nlog:\n  ${report.log.join("\n  ")}`,
        { cause: error },
      );
    }
  });
}

function assertProperty(check: (report: RunReport) => void, numRuns = NUM_RUNS): Promise<void> {
  return fc.assert(property(check), { numRuns });
}

describe("properties of random task trees on a virtual clock", () => {
  test("1. every run terminates: run() resolves or rejects (never with a deadlock) within 5 s of real time", async () => {
    await assertProperty((report) => {
      expect(report.settled, "run() did not settle within 5 s of real time").not.toBe("timeout");
      expect(report.rejection).not.toBeInstanceOf(DeadlockError);
    });
  });

  test("2. no task outlives its nursery, and nursery.childTasks is empty once openNursery returns", async () => {
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
        const home = exit!.parentNursery === null ? undefined : byNursery.get(exit!.parentNursery);
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
  });

  test("3. every finally runs exactly once, and its shielded cleanup sleep completes", async () => {
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
  });

  test("4. every error a task throws reaches the caller of run exactly once, unless the tree's own code catches it", async () => {
    await assertProperty((report) => {
      expect(report.settled).not.toBe("timeout");
      const aborted = report.abortReason !== null && report.rejection === report.abortReason;
      const leaves = report.settled === "rejected" && !aborted ? leafErrors(report.rejection) : [];
      // Cancelled leaves are property 5's business.
      const untracked = leaves.filter(
        (leaf) => !report.thrown.has(leaf) && !(leaf instanceof Cancelled),
      );
      expect(untracked.map(describeError), "errors out of run() that no action threw").toEqual([]);
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
  });

  test("5. a Cancelled never escapes run", async () => {
    await assertProperty((report) => {
      expect(report.settled).not.toBe("timeout");
      if (report.settled !== "rejected") return;
      expect(isCancelled(report.rejection)).toBe(false);
      expect(leafErrors(report.rejection).filter(isCancelled).map(describeError)).toEqual([]);
      const message = report.rejection instanceof Error ? report.rejection.message : "";
      expect(message).not.toMatch(/Cancelled escaped/);
    });
  });

  test("6. nothing leaks: no host timer is left behind, and tasksLiving matches the tasks spawned and exited", async () => {
    await assertProperty((report) => {
      expect(report.settled).not.toBe("timeout");
      expect(
        report.timersAfter,
        "host timers/immediates pending after run() settled",
      ).toBeLessThanOrEqual(report.timersBefore);
      expect(report.livingMismatches).toEqual([]);
      // The root task and main are all that is left once main's nurseries have closed.
      expect(report.tasksLivingAtEndOfMain).toBe(2);
    });
  });

  test("8. time and level-triggered cancellation: sleeps and deadlines are exact, checkpoints in a cancelled scope raise", async () => {
    await assertProperty((report) => {
      expect(report.settled).not.toBe("timeout");
      const times = report.log.map((line) => Number(line.slice(line.lastIndexOf("@") + 1)));
      expect(times, "virtual time went backwards").toEqual([...times].sort((a, b) => a - b));
      for (const w of report.waits) {
        const name = `T${w.task} ${w.what}(${w.what === "sleep" ? w.ms : ""}) at ${w.t0} under deadline ${w.deadline} -> ${describeError(w.outcome)} at ${w.t1}`;
        const cancelled = w.outcome instanceof Cancelled;
        if (w.outcome !== "ok")
          expect(cancelled, `${name}: raised something other than Cancelled`).toBe(true);
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
          expect(cancelled, `${name}: a checkpoint in a cancelled scope did not raise`).toBe(true);
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
  });

  test("9. a cancel scope catches a Cancelled only if it was cancelled itself and no cancelled enclosing scope is visible; it keeps every other error", async () => {
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
          expect(bodyCancelled, `${name}: cancelledCaught without a Cancelled from the body`).toBe(
            true,
          );
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
  });

  test("10. start(): started() moves the child and start() resolves with its value, unless start() was cancelled", async () => {
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
  });

  test("7. determinism: the same tree run twice on a MockClock logs the same events in the same order", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ raw, schedulerSeed }) => {
        const tree = normalize(raw);
        const first = await runTree(tree, { schedulerSeed });
        const second = await runTree(tree, { schedulerSeed });
        expect(second.settled).toBe(first.settled);
        expect(describeError(second.rejection)).toBe(describeError(first.rejection));
        expect(second.log).toEqual(first.log);
      }),
      { numRuns: NUM_RUNS / 2 },
    );
  });
});
