/**
 * SEMANTICS.md, "Async context", as a property: random task trees, spawned
 * with startSoon, start and gather inside random store values, whose tasks
 * play random context tricks — calling weft through a snapshot of their
 * parent's context, through callbacks bound in other tasks
 * (AsyncResource.bind), through listeners of emitters other tasks created
 * (EventEmitterAsyncResource), enterWith — under random schedules. Always:
 * each task sees its spawner's value and is itself to weft; a trick's weft call
 * runs as the right task or rejects with a UsageError; the run ends (no hang),
 * nothing escapes as an uncaught exception, every finally runs.
 */
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import { EventEmitterAsyncResource } from "node:events";
import {
  checkpoint,
  currentTime,
  gather,
  lowlevel,
  type Nursery,
  openNursery,
  sleep,
  UsageError,
} from "@weft/core";
import { DeterministicScheduler } from "@weft/testing";
import fc from "fast-check";
import { expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";
import { propertyParameters } from "../support/property-parameters.ts";

const { numRuns, parameters, timeout } = propertyParameters(150);

type Trick =
  | { kind: "sleep"; ms: number }
  | { kind: "checkpoint" }
  | { kind: "enterWith" }
  | { kind: "parentSnapshot" }
  | { kind: "boundCallback"; of: number }
  | { kind: "emit"; to: number };

interface TreeNode {
  spawn: "startSoon" | "start" | "gather";
  /** Spawned inside store.run(value), or (null) in the spawner's current value. */
  value: string | null;
  tricks: Trick[];
  children: TreeNode[];
}

const trick: fc.Arbitrary<Trick> = fc.oneof(
  fc.integer({ min: 1, max: 5 }).map((ms) => ({ kind: "sleep" as const, ms })),
  fc.constant({ kind: "checkpoint" as const }),
  fc.constant({ kind: "enterWith" as const }),
  fc.constant({ kind: "parentSnapshot" as const }),
  fc.nat(20).map((of) => ({ kind: "boundCallback" as const, of })),
  fc.nat(20).map((to) => ({ kind: "emit" as const, to })),
);

function treeOf(depth: number): fc.Arbitrary<TreeNode> {
  return fc.record({
    spawn: fc.constantFrom("startSoon" as const, "start" as const, "gather" as const),
    value: fc.option(fc.constantFrom("red", "green", "blue"), { nil: null }),
    tricks: fc.array(trick, { maxLength: 4 }),
    children: depth === 0 ? fc.constant([]) : fc.array(treeOf(depth - 1), { maxLength: 3 }),
  });
}

const tree = treeOf(3);

function size(node: TreeNode): number {
  return 1 + node.children.reduce((sum, child) => sum + size(child), 0);
}

/** What one run observed. */
interface Report {
  problems: string[];
  finallies: number;
  /** How tricks' weft calls ended: "ok" or the error's class name. */
  outcomes: Map<string, number>;
}

const store = new AsyncLocalStorage<string>();

/** A task of the run: what other tasks may use to play tricks on it. */
interface Registered {
  name: string;
  bound: () => Promise<void>;
  emitter: EventEmitterAsyncResource;
}

async function runCase(root: TreeNode, scheduler: DeterministicScheduler): Promise<Report> {
  const report: Report = { problems: [], finallies: 0, outcomes: new Map() };
  const registry: Registered[] = [];
  const count = (outcome: string) =>
    report.outcomes.set(outcome, (report.outcomes.get(outcome) ?? 0) + 1);

  /** A trick's weft call: it runs (as `expected`, if given) or rejects with a UsageError. */
  async function settle(call: () => Promise<void>, where: string): Promise<void> {
    try {
      await call();
      count("ok");
    } catch (error) {
      count(error instanceof Error ? error.name : typeof error);
      if (!(error instanceof UsageError)) {
        report.problems.push(`${where}: a trick's call failed with ${String(error)}`);
      }
    }
  }

  async function body(
    node: TreeNode,
    name: string,
    expected: string | undefined,
    parentSnapshot: <R>(fn: () => R) => R,
  ): Promise<void> {
    try {
      // gather names its tasks gather[0], gather[1]…; the others take the name given.
      const me = lowlevel.currentTask();
      if (node.spawn !== "gather" && me.name !== name) {
        report.problems.push(`${name} started as ${me.name}`);
      }
      const check = (when: string) => {
        const current = lowlevel.currentTask();
        if (current !== me)
          report.problems.push(`${name} ${when}: weft took it for ${current.name}`);
        if (store.getStore() !== expected) {
          report.problems.push(`${name} ${when}: saw ${store.getStore()}, expected ${expected}`);
        }
      };
      check("at start");
      const self: Registered = {
        name,
        bound: AsyncResource.bind(async () => {
          // Runs in this task's context: only this task may wait here.
          await sleep(1);
        }),
        emitter: new EventEmitterAsyncResource({ name }),
      };
      self.emitter.on("poke", (done: (call: Promise<void>) => void) => {
        done(checkpoint());
      });
      registry.push(self);
      for (const [i, t] of node.tricks.entries()) {
        const where = `${name} trick ${i} (${t.kind})`;
        switch (t.kind) {
          case "sleep": {
            // Tricks of other tasks must not touch this task's own wait (or its timer).
            const before = currentTime();
            await sleep(t.ms);
            const slept = currentTime() - before;
            if (slept !== t.ms) report.problems.push(`${where}: slept ${slept} ms, not ${t.ms}`);
            break;
          }
          case "checkpoint":
            await checkpoint();
            break;
          case "enterWith":
            expected = `${name}'s own`;
            store.enterWith(expected);
            break;
          case "parentSnapshot":
            await settle(() => parentSnapshot(() => sleep(1)), where);
            break;
          case "boundCallback": {
            const other = registry[t.of % registry.length]!;
            await settle(() => other.bound(), where);
            break;
          }
          case "emit": {
            const other = registry[t.to % registry.length]!;
            let call: Promise<void> | null = null;
            other.emitter.emit("poke", (c: Promise<void>) => {
              call = c;
            });
            await settle(() => call ?? Promise.resolve(), where);
            break;
          }
        }
        check(`after ${where}`);
      }
      if (node.children.length > 0) {
        const snapshot = AsyncLocalStorage.snapshot();
        await openNursery(async (nursery) => {
          const gathered: (() => Promise<void>)[] = [];
          for (const [i, child] of node.children.entries()) {
            const childName = `${name}.${i}`;
            const childExpected = child.value ?? expected;
            const fn = async function namedChild() {
              await body(child, childName, childExpected, snapshot);
            };
            Object.defineProperty(fn, "name", { value: childName });
            const spawn = () => spawnChild(nursery, child.spawn, fn, childName, gathered);
            if (child.value === null) await spawn();
            else await store.run(child.value, spawn);
          }
          if (gathered.length > 0) await gather(...gathered);
        });
        check("after its nursery");
      }
    } finally {
      report.finallies++;
    }
  }

  async function spawnChild(
    nursery: Nursery,
    how: TreeNode["spawn"],
    fn: () => Promise<void>,
    name: string,
    gathered: (() => Promise<void>)[],
  ): Promise<void> {
    if (how === "startSoon") nursery.startSoon(fn, { name });
    else if (how === "start") {
      await nursery.start(
        async (status) => {
          status.started();
          await fn();
        },
        { name },
      );
    } else {
      // gather names its tasks after the functions; it runs in the body's context,
      // so give it the store value now.
      const value = store.getStore();
      gathered.push(() => (value === undefined ? fn() : store.run(value, fn)));
    }
  }

  await runVirtual(() => body(root, "main", undefined, (fn) => fn()), { scheduler });
  return report;
}

test(
  "random context tricks in random task trees: right task or a UsageError, nothing lost, nothing hangs",
  async () => {
    const uncaught: unknown[] = [];
    const outcomes = new Map<string, number>();
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    try {
      await fc.assert(
        fc.asyncProperty(tree, fc.integer(), async (root, seed) => {
          const report = await runCase(root, new DeterministicScheduler({ seed }));
          for (const [outcome, n] of report.outcomes) {
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + n);
          }
          expect(report.problems).toEqual([]);
          expect(report.finallies).toBe(size(root));
          expect(uncaught).toEqual([]);
        }),
        { numRuns, ...parameters },
      );
      // Not vacuous: tricks' calls both ran (as their own task) and were refused.
      expect([...outcomes.keys()].sort()).toEqual(["UsageError", "ok"]);
    } finally {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUncaught);
    }
  },
  timeout.timeout,
);
