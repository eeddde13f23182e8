import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";
import { type DeadlineEntry, DeadlineHeap } from "../../src/kernel/deadline-heap.ts";

/** One step against the heap: add a deadline, remove the k-th entry added, or expire up to a time. */
type Step =
  | { readonly op: "add"; readonly deadline: number }
  | { readonly op: "remove"; readonly index: number }
  | { readonly op: "expire"; readonly now: number };

// Few distinct deadlines, so ties (ordered by insertion) are common.
const deadline = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.double({ min: 0, max: 40, noNaN: true }),
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: deadline.map((d) => ({ op: "add" as const, deadline: d })) },
  { weight: 2, arbitrary: fc.nat(2000).map((index) => ({ op: "remove" as const, index })) },
  { weight: 1, arbitrary: deadline.map((now) => ({ op: "expire" as const, now })) },
);

describe("DeadlineHeap", () => {
  test.prop([fc.array(step, { maxLength: 3000, size: "large" })], { numRuns: 100 })(
    "fires exactly the live entries due, in (deadline, insertion) order, as a sorted list would",
    (steps) => {
      const heap = new DeadlineHeap();
      const fired: number[] = [];
      const added: DeadlineEntry[] = [];
      // The model: live entries as [deadline, id], kept sorted by deadline then id.
      let model: [number, number][] = [];
      const expected: number[] = [];
      for (const s of steps) {
        if (s.op === "add") {
          const id = added.length;
          added.push(heap.add(s.deadline, () => fired.push(id)));
          model.push([s.deadline, id]);
          model.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        } else if (s.op === "remove") {
          if (added.length === 0) continue;
          const id = s.index % added.length;
          heap.remove(added[id]!);
          model = model.filter(([, other]) => other !== id);
        } else {
          heap.expire(s.now);
          while (model.length > 0 && model[0]![0] <= s.now) expected.push(model.shift()![1]);
        }
        expect(heap.size).toBe(model.length);
        expect(heap.next()).toBe(model.length > 0 ? model[0]![0] : Infinity);
      }
      heap.expire(Infinity);
      expected.push(...model.map(([, id]) => id));
      expect(fired).toEqual(expected);
      expect(heap.size).toBe(0);
      expect(heap.next()).toBe(Infinity);
    },
  );

  test.prop([fc.integer({ min: 1100, max: 5000 })], { numRuns: 20 })(
    "pruning after many removals keeps the order (and the heap grows past its first capacity)",
    (n) => {
      const heap = new DeadlineHeap();
      const fired: number[] = [];
      const entries = Array.from({ length: n }, (_, i) =>
        heap.add((n - i) % 13, () => fired.push(i)),
      );
      // Remove every entry but each 7th: far more dead than live, which prunes.
      for (let i = 0; i < n; i++) if (i % 7 !== 0) heap.remove(entries[i]!);
      heap.expire(Infinity);
      const kept = entries.map((_, i) => i).filter((i) => i % 7 === 0);
      // Latest-due first; among equal deadlines, the earlier added first.
      kept.sort((a, b) => ((n - a) % 13) - ((n - b) % 13) || a - b);
      expect(fired).toEqual(kept);
    },
  );
});

describe("DeadlineHeap, entries removed while it expires", () => {
  test.prop([fc.integer({ min: 1001, max: 3000 }), fc.integer({ min: 0, max: 5 })], {
    numRuns: 30,
  })(
    "a fire that removes enough entries to prune the heap does not break the expiry in progress",
    (sleepers, due) => {
      const heap = new DeadlineHeap();
      const fired: number[] = [];
      const entries = Array.from({ length: sleepers }, (_, i) =>
        heap.add(i < due ? 1 : 10_000, () => fired.push(i)),
      );
      // Like a cancel scope's deadline cancelling every sleeper under it.
      heap.add(5, () => {
        for (const entry of entries) heap.remove(entry);
        fired.push(-1);
      });
      heap.expire(20);
      expect(fired).toEqual([...Array.from({ length: due }, (_, i) => i), -1]);
      expect(heap.size).toBe(0);
      expect(heap.next()).toBe(Infinity);
    },
  );
});
