/**
 * Property-based tests: random trees of tasks, nurseries and cancel scopes
 * (see support/task-tree.ts) run on a virtual clock, and the invariants that
 * structured concurrency promises checked on every one of them.
 */
import { DeadlockError, isCancelled } from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  describeError,
  expectationFor,
  leafErrors,
  multiset,
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
        expect(exit!.seq, `T${t.id} exited after N${t.target}, the nursery it was spawned into`).toBeLessThan(
          target.exitSeq!,
        );
        const home = exit!.parentNursery === null ? undefined : byNursery.get(exit!.parentNursery);
        if (t.how === "soon") {
          expect(home?.id, `T${t.id}.parentNursery at exit`).toBe(t.target);
        } else if (home === undefined) {
          // Never moved: it lived in start()'s own nursery, which closes before start() settles.
          expect(exit!.seq, `T${t.id} exited after its start() settled`).toBeLessThan(
            report.startSettledSeq.get(t.id)!,
          );
          expect(t.home === target.location, `T${t.id}: started() reported a move, yet it is not in N${t.target}`).toBe(
            false,
          );
        } else {
          expect(home.id, `T${t.id} moved to a nursery other than its target`).toBe(t.target);
          expect(t.home, `T${t.id} is in N${t.target} but started() did not report a move`).toBe(target.location);
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
        expect(f.elapsed[0], `finally#${id}: shielded sleep(${f.ms}) was cut short`).toBeGreaterThanOrEqual(f.ms);
      }
      for (const t of report.tasks.values()) {
        expect({ task: t.id, starts: t.starts, ends: t.ends }).toEqual({ task: t.id, starts: 1, ends: 1 });
      }
    });
  });

  test("4. every error a task throws reaches the caller of run exactly once, unless the tree's own code catches it", async () => {
    await assertProperty((report) => {
      expect(report.settled).not.toBe("timeout");
      const leaves = report.settled === "rejected" ? leafErrors(report.rejection) : [];
      const untracked = leaves.filter((leaf) => !report.thrown.has(leaf));
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
          seenBy: seenBy.map(([h, errors]) => `${h}×${errors.filter((e) => e === error).length}`).sort(),
          caughtBy: caughtBy.map(([h, errors]) => `${h}×${errors.filter((e) => e === error).length}`),
          outOfRun: leafCounts.get(error) ?? 0,
        };
        expected[name] = {
          seenBy: expectation.seenBy.map((h) => `${h}×1`).sort(),
          caughtBy: expectation.caughtBy === null ? [] : [`${expectation.caughtBy}×1`],
          outOfRun: expectation.caughtBy === null ? 1 : 0,
        };
      }
      expect(actual).toEqual(expected);
      if (leaves.length === 0) expect(report.settled).toBe("resolved");
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
      expect(report.timersAfter, "host timers/immediates pending after run() settled").toBeLessThanOrEqual(
        report.timersBefore,
      );
      expect(report.livingMismatches).toEqual([]);
      // The root task and main are all that is left once main's nurseries have closed.
      expect(report.tasksLivingAtEndOfMain).toBe(2);
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
