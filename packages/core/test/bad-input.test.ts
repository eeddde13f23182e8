import {
  CancelScope,
  cancellable,
  failAfter,
  failAt,
  lowlevel,
  moveOnAfter,
  moveOnAt,
  openNursery,
  run,
  sleep,
  sleepUntil,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { runVirtual } from "./support/helpers.ts";

// Every argument error throws at once, with the argument's name in the message.
type Case = [
  label: string,
  call: () => unknown,
  error: typeof TypeError | typeof RangeError,
  names: RegExp,
];
const body = async () => {};
const bad = <T>(value: unknown) => value as T;

describe("bad input outside a task", () => {
  const cases: Case[] = [
    ["run(main not a function)", () => run(bad(42)), TypeError, /main/],
    ["run(options not an object)", () => run(body, bad(5)), TypeError, /options/],
    ["run({ clock: {} })", () => run(body, { clock: bad({}) }), TypeError, /options\.clock/],
    [
      "run({ instruments: {} })",
      () => run(body, { instruments: bad({}) }),
      TypeError,
      /options\.instruments/,
    ],
    [
      "run({ instruments: [null] })",
      () => run(body, { instruments: bad([null]) }),
      TypeError,
      /instruments\[0\]/,
    ],
    [
      "run({ strictErrors: 1 })",
      () => run(body, { strictErrors: bad(1) }),
      TypeError,
      /options\.strictErrors/,
    ],
    ["run({ signal: {} })", () => run(body, { signal: bad({}) }), TypeError, /options\.signal/],
    [
      "run({ scheduler: {} })",
      () => run(body, { scheduler: bad({}) }),
      TypeError,
      /options\.scheduler/,
    ],
    [
      "new CancelScope({ deadline: 'soon' })",
      () => new CancelScope({ deadline: bad("soon") }),
      TypeError,
      /deadline/,
    ],
    [
      "new CancelScope({ deadline: NaN })",
      () => new CancelScope({ deadline: Number.NaN }),
      RangeError,
      /deadline/,
    ],
    [
      "new CancelScope({ relativeDeadline: -1 })",
      () => new CancelScope({ relativeDeadline: -1 }),
      RangeError,
      /relativeDeadline/,
    ],
    [
      "new CancelScope({ deadline, relativeDeadline })",
      () => new CancelScope({ deadline: 1, relativeDeadline: 1 }),
      RangeError,
      /deadline.*relativeDeadline/,
    ],
    [
      "new CancelScope({ shield: 'yes' })",
      () => new CancelScope({ shield: bad("yes") }),
      TypeError,
      /shield/,
    ],
    ["new CancelScope(5)", () => new CancelScope(bad(5)), TypeError, /options/],
    [
      "scope.shield = 1",
      () => {
        new CancelScope().shield = bad(1);
      },
      TypeError,
      /shield/,
    ],
    [
      "scope.deadline = NaN",
      () => {
        new CancelScope().deadline = Number.NaN;
      },
      RangeError,
      /deadline/,
    ],
    [
      "scope.relativeDeadline = -5",
      () => {
        new CancelScope().relativeDeadline = -5;
      },
      RangeError,
      /relativeDeadline/,
    ],
    ["scope.cancel(42)", () => new CancelScope().cancel(bad(42)), TypeError, /reason/],
    ["scope.run(not a function)", () => new CancelScope().run(bad(null)), TypeError, /body/],
    ["sleep('1')", () => sleep(bad("1")), TypeError, /ms/],
    ["sleep(-1)", () => sleep(-1), RangeError, /ms/],
    ["sleep(NaN)", () => sleep(Number.NaN), RangeError, /ms/],
    ["sleepUntil(NaN)", () => sleepUntil(Number.NaN), RangeError, /deadline/],
    ["moveOnAfter(-1)", () => moveOnAfter(-1, body), RangeError, /ms/],
    ["moveOnAfter(1, not a function)", () => moveOnAfter(1, bad(1)), TypeError, /body/],
    ["moveOnAt(NaN)", () => moveOnAt(Number.NaN, body), RangeError, /deadline/],
    [
      "moveOnAfter(1, body, { shield: 1 })",
      () => moveOnAfter(1, body, { shield: bad(1) }),
      TypeError,
      /shield/,
    ],
    ["failAfter(NaN)", () => failAfter(Number.NaN, body), RangeError, /ms/],
    ["failAt(NaN)", () => failAt(Number.NaN, body), RangeError, /deadline/],
    ["openNursery(not a function)", () => openNursery(bad("x")), TypeError, /body/],
    [
      "openNursery(body, { strictErrors: 'no' })",
      () => openNursery(body, { strictErrors: bad("no") }),
      TypeError,
      /strictErrors/,
    ],
    ["cancellable(42)", () => cancellable(bad<Promise<number>>(42)), TypeError, /work/],
    [
      "lowlevel.waitTaskRescheduled(null)",
      () => lowlevel.waitTaskRescheduled(bad(null)),
      TypeError,
      /abort/,
    ],
    ["lowlevel.reschedule({})", () => lowlevel.reschedule(bad({})), TypeError, /task/],
    ["lowlevel.spawnSystemTask(1)", () => lowlevel.spawnSystemTask(bad(1)), TypeError, /fn/],
    [
      "lowlevel.addInstrument(null)",
      () => lowlevel.addInstrument(bad(null)),
      TypeError,
      /instrument/,
    ],
  ];

  test.each(cases)("%s", (_label, call, errorClass, names) => {
    expect(call).toThrow(errorClass);
    expect(call).toThrow(names);
  });
});

describe("bad input inside a task", () => {
  test("nursery methods check their arguments", async () => {
    await runVirtual(() =>
      openNursery(async (nursery) => {
        expect(() => nursery.startSoon(bad(1))).toThrow(TypeError);
        expect(() => nursery.startSoon(bad(1))).toThrow(/fn/);
        expect(() => nursery.startSoon(body, { name: bad(7) })).toThrow(/options\.name/);
        expect(() => nursery.start(bad("x"))).toThrow(/fn/);
      }),
    );
  });

  test("lowlevel.reschedule checks the outcome", async () => {
    await runVirtual(async () => {
      const task = lowlevel.currentTask();
      expect(() => lowlevel.reschedule(task, bad({ ok: true }))).toThrow(/outcome/);
    });
  });
});
