/**
 * API.md, "Conventions": a function that returns a promise never throws
 * synchronously. Bad arguments and calls outside run() reject the promise it
 * returns; constructors and synchronous functions throw at once.
 */
import { run } from "@weft/core";
import { describe, expect, test } from "vitest";
import { expectEveryExportClassified, expectRejects } from "../../core/test/support/helpers.ts";
import * as testing from "../src/index.ts";
import {
  assertCheckpoints,
  assertNoCheckpoints,
  Sequencer,
  simulatedTcpPair,
  waitAllTasksBlocked,
} from "../src/index.ts";
import {
  checkCancelledSendAll,
  checkHalfCloseableStream,
  checkOneWayStream,
  checkTwoWayStream,
  lockstepStreamPair,
  MemoryReceiveStream,
  MemorySendStream,
  memoryStreamPair,
} from "../src/streams.ts";
import { weftRun } from "../src/vitest.ts";

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;
const bad = <T>(value: unknown) => value as T;
const OUTSIDE = /must be called inside weft's run\(\)/;

const badArguments: [label: string, call: () => unknown, error: ErrorClass, names: RegExp][] = [
  ["waitAllTasksBlocked(-1)", () => waitAllTasksBlocked(-1), RangeError, /cushionMs/],
  ["assertCheckpoints(1)", () => assertCheckpoints(bad(1)), TypeError, /fn/],
  ["assertNoCheckpoints(1)", () => assertNoCheckpoints(bad(1)), TypeError, /fn/],
  ["checkOneWayStream(1)", () => checkOneWayStream(bad(1)), TypeError, /maker/],
  [
    "checkOneWayStream(maker, 1)",
    () => checkOneWayStream(async () => memoryStreamPair(), bad(1)),
    TypeError,
    /cloggedMaker/,
  ],
  ["checkTwoWayStream(1)", () => checkTwoWayStream(bad(1)), TypeError, /maker/],
  ["checkHalfCloseableStream(1)", () => checkHalfCloseableStream(bad(1)), TypeError, /maker/],
  ["checkCancelledSendAll(1)", () => checkCancelledSendAll(bad(1)), TypeError, /cloggedMaker/],
  ["weftRun(1)", () => weftRun(bad(1)), TypeError, /body/],
  ["weftRun(body, 5)", () => weftRun(async () => {}, bad(5)), TypeError, /options/],
  [
    "Sequencer.at('x', fn)",
    () => new Sequencer().at(bad("x"), async () => {}),
    TypeError,
    /position/,
  ],
  ["Sequencer.at(0, 1)", () => new Sequencer().at(0, bad(1)), TypeError, /fn/],
  [
    "MemorySendStream.sendAll(42)",
    () => new MemorySendStream().sendAll(bad(42)),
    TypeError,
    /data/,
  ],
  [
    "MemorySendStream.getData(-1)",
    () => new MemorySendStream().getData(-1),
    RangeError,
    /maxBytes/,
  ],
  ["lockstep sendAll(42)", () => lockstepStreamPair()[0].sendAll(bad(42)), TypeError, /data/],
  [
    "lockstep receiveSome(-1)",
    () => lockstepStreamPair()[1].receiveSome(-1),
    RangeError,
    /maxBytes/,
  ],
];

describe("bad arguments reject, never throw", () => {
  test.each(badArguments)("%s (outside run)", async (_label, call, errorClass, names) => {
    await expectRejects(call, errorClass, names);
  });

  test.each(badArguments.filter(([label]) => !label.startsWith("weftRun")))(
    "%s (inside run)",
    async (_label, call, errorClass, names) => {
      await run(async () => {
        await expectRejects(call, errorClass, names);
      });
    },
  );

  test("MemoryReceiveStream.receiveSome(-1) inside run", async () => {
    await run(async () => {
      const stream = new MemoryReceiveStream();
      stream.putData(new Uint8Array(1));
      await expectRejects(() => stream.receiveSome(-1), RangeError, /maxBytes/);
    });
  });
});

describe("outside run(), promise-returning functions reject, never throw", () => {
  const cases: [label: string, call: () => unknown][] = [
    ["waitAllTasksBlocked()", () => waitAllTasksBlocked()],
    ["assertCheckpoints(fn)", () => assertCheckpoints(async () => {})],
    ["assertNoCheckpoints(fn)", () => assertNoCheckpoints(async () => {})],
    ["checkOneWayStream(maker)", () => checkOneWayStream(async () => memoryStreamPair())],
    ["checkTwoWayStream(maker)", () => checkTwoWayStream(async () => memoryStreamPair())],
    [
      "checkHalfCloseableStream(maker)",
      () => checkHalfCloseableStream(async () => memoryStreamPair()),
    ],
    ["checkCancelledSendAll(maker)", () => checkCancelledSendAll(async () => memoryStreamPair())],
    ["MemorySendStream.sendAll(data)", () => new MemorySendStream().sendAll(new Uint8Array(1))],
    [
      "MemorySendStream.waitSendAllMightNotBlock()",
      () => new MemorySendStream().waitSendAllMightNotBlock(),
    ],
    ["MemorySendStream.getData()", () => new MemorySendStream().getData()],
    ["MemorySendStream.aclose()", () => new MemorySendStream().aclose()],
    ["MemoryReceiveStream.receiveSome()", () => new MemoryReceiveStream().receiveSome()],
    ["MemoryReceiveStream.aclose()", () => new MemoryReceiveStream().aclose()],
    ["lockstep sendAll(data)", () => lockstepStreamPair()[0].sendAll(new Uint8Array(1))],
    ["lockstep receiveSome()", () => lockstepStreamPair()[1].receiveSome()],
    ["lockstep aclose()", () => lockstepStreamPair()[0].aclose()],
    ["SimulatedTcpStream.sendAll(data)", () => simulatedTcpPair()[0].sendAll(new Uint8Array(1))],
    [
      "SimulatedTcpStream.waitSendAllMightNotBlock()",
      () => simulatedTcpPair()[0].waitSendAllMightNotBlock(),
    ],
    ["SimulatedTcpStream.sendEof()", () => simulatedTcpPair()[0].sendEof()],
    ["SimulatedTcpStream.receiveSome()", () => simulatedTcpPair()[1].receiveSome()],
    ["SimulatedTcpStream.aclose()", () => simulatedTcpPair()[0].aclose()],
  ];

  test.each(cases)("%s", async (_label, call) => {
    // The suites report the step that failed, with the error in the message.
    await expectRejects(call, Error, OUTSIDE);
  });

  test("seededRandom: a seed that is not a finite number is a TypeError naming it", () => {
    expect(() => testing.seededRandom(Number.NaN)).toThrow(/seed/);
    expect(() => testing.seededRandom("1" as unknown as number)).toThrow(TypeError);
    const [a, b] = [testing.seededRandom(7), testing.seededRandom(7)];
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  test("every function export of @weft/testing is classified", () => {
    const synchronous = new Set([
      "cancellationFaults",
      "lockstepStreamOneWayPair",
      "lockstepStreamPair",
      "memoryStreamOneWayPair",
      "memoryStreamPair",
      "memoryStreamPump",
      "schedules",
      "seededRandom",
      "simulatedTcpPair", // returns a pair of streams
    ]);
    expectEveryExportClassified(testing, synchronous, {
      "outside-run()": cases,
      "bad-arguments": badArguments,
    });
  });
});
