/**
 * The recorder's ring buffer keeps the newest records, in order, at most
 * `capacity` of them, dropping (and counting) the oldest — whatever the mix
 * of short (step) and long records.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { EventKind, EventRing } from "../src/event-ring.ts";

interface Pushed {
  readonly kind: EventKind;
  readonly task: number;
  readonly time: number;
  readonly a: number;
  readonly b: number;
  readonly clock: number;
}

const LONG_KINDS: EventKind[] = [
  EventKind.SPAWN,
  EventKind.BLOCK,
  EventKind.WAKE,
  EventKind.SCOPE_ENTER,
  EventKind.SCOPE_EXIT,
  EventKind.CANCEL,
  EventKind.EXIT,
  EventKind.STEP_BEGIN_CLOCK,
];

function kept(ring: EventRing): Pushed[] {
  const records: Pushed[] = [];
  for (let k = 0, pos = ring.first(); k < ring.count; k++, pos = ring.next(pos)) {
    const kind = ring.kind(pos);
    const short = kind === EventKind.STEP_BEGIN || kind === EventKind.STEP_END;
    records.push({
      kind,
      task: ring.task(pos),
      time: ring.time(pos),
      a: short ? 0 : ring.a(pos),
      b: short ? 0 : ring.b(pos),
      clock: short ? 0 : ring.clock(pos),
    });
  }
  return records;
}

describe("EventRing", () => {
  test("it keeps the newest records in order, at most capacity, and counts the dropped ones", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 64, max: 200 })),
        fc.array(
          fc.record({
            short: fc.boolean(),
            kind: fc.constantFrom(...LONG_KINDS),
            task: fc.integer({ min: 0, max: 2 ** 32 }),
            a: fc.integer({ min: -1, max: 1000 }),
            b: fc.double({ noNaN: true }),
            clock: fc.double(),
          }),
          { maxLength: 1000 },
        ),
        (capacity, inputs) => {
          const ring = new EventRing(capacity);
          const pushed: Pushed[] = [];
          for (const [time, input] of inputs.entries()) {
            if (input.short) {
              const kind = input.task % 2 === 0 ? EventKind.STEP_BEGIN : EventKind.STEP_END;
              ring.pushStep(kind, input.task, time);
              pushed.push({ kind, task: input.task, time, a: 0, b: 0, clock: 0 });
            } else {
              const { kind, task, a, b, clock } = input;
              ring.push(kind, task, time, a, b, clock);
              pushed.push({ kind, task, time, a, b, clock });
            }
            expect(ring.count).toBeLessThanOrEqual(capacity);
            expect(ring.count).toBeGreaterThanOrEqual(1);
            // Room for at least capacity × 3 / 5 - 1 long records before any is dropped.
            if (ring.dropped > 0) {
              expect(ring.count).toBeGreaterThanOrEqual(
                Math.min(capacity, Math.floor((3 * capacity) / 5) - 1) - ring.chunk,
              );
            }
          }
          expect(ring.written).toBe(pushed.length);
          expect(ring.dropped).toBe(pushed.length - ring.count);
          expect(kept(ring)).toEqual(pushed.slice(pushed.length - ring.count));
          if (ring.count > 0) expect(ring.time(ring.last())).toBe(pushed.length - 1);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("clear() forgets every record", () => {
    const ring = new EventRing(4);
    for (let i = 0; i < 10; i++) ring.pushStep(EventKind.STEP_BEGIN, 1, i);
    ring.clear();
    expect([ring.count, ring.written, ring.dropped, ring.last()]).toEqual([0, 0, 0, -1]);
    ring.push(EventKind.BLOCK, 2, 5, 1, 0, 3);
    expect(kept(ring)).toEqual([{ kind: EventKind.BLOCK, task: 2, time: 5, a: 1, b: 0, clock: 3 }]);
  });
});
