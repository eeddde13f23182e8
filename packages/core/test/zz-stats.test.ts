import fc from "fast-check";
import { test } from "vitest";
import { describeError, normalize, rawTreeArb, runTree, showTree } from "./support/task-tree.ts";

test("stats", async () => {
  const samples = fc.sample(rawTreeArb, { numRuns: 300, seed: 44 });
  const c: Record<string, number> = {};
  const inc = (k: string, n = 1) => {
    c[k] = (c[k] ?? 0) + n;
  };
  const t0 = performance.now();
  for (const raw of samples) {
    const tree = normalize(raw);
    inc("actions", tree.counts.actions);
    const r = await runTree(tree);
    inc(r.settled);
    inc("events", r.log.length);
    for (const l of r.log) {
      const m =
        / (starts|moved|not moved|ends)|(sleepForever raised)|(cancel\(S\d+\) done)|(throw\(E\d+\) raised)|(swallowed)|(finally#\d+ runs)/.exec(
          l,
        );
      if (m) inc(m[0].replace(/\d+/g, ""));
    }
    for (const rec of r.thrown.values()) inc("thrown:" + rec.kind);
    inc("tasksSpawned", r.tasks.size - 1);
  }
  console.log(performance.now() - t0, c);
});
