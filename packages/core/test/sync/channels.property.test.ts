/**
 * Property-based tests of memory channels: random producers and consumers,
 * each on its own clone, with random buffer sizes (0, 1, 3, Infinity), random
 * deadlines, handles closed by their owner or from outside, run on a virtual
 * clock (MockClock, autojump 0), half of them under a scheduler that steps one
 * random task at a time.
 *
 * Every run keeps a ledger of what each `send` / `sendNowait` did and what
 * each receiver got, and the properties are checked on it: no value is lost
 * (a value whose send returned was received exactly once, or was still in the
 * buffer when the last receive handle closed), none is duplicated, none that
 * failed to send is delivered, and every run terminates.
 *
 * Replay a failure with `WEFT_PROPERTY_SEED=… WEFT_PROPERTY_PATH=…`; hunt with
 * `WEFT_PROPERTY_RUNS=5000`.
 */
import {
  BrokenResourceError,
  CancelScope,
  type ChannelStatistics,
  ClosedResourceError,
  EndOfChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
  type Nursery,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
  WouldBlock,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { propertyParameters } from "../support/property-parameters.ts";
import { RandomOneAtATimeScheduler } from "../support/task-tree.ts";

const { numRuns: NUM_RUNS, parameters: PARAMETERS, timeout: TIMEOUT } = propertyParameters(3000);
/** Real-time watchdog per run: only a hang detector. */
const WATCHDOG_MS = 5_000;

// ---------------------------------------------------------------- scenarios

interface SendOp {
  /** Virtual ms to sleep before this send. */
  readonly gap: number;
  /** sendNowait instead of send. */
  readonly nowait: boolean;
}

interface ProducerSpec {
  readonly ops: readonly SendOp[];
  /** Absolute deadline of a cancel scope around the whole producer (null: none). */
  readonly cancelAt: number | null;
  /** Another task cancels that scope explicitly at this time (null: never). */
  readonly cancelledFromOutsideAt: number | null;
  /** Closes its own handle after this many sends (null: after all of them). */
  readonly closeAfter: number | null;
  /** Another task closes this producer's handle at this time (null: never). */
  readonly closedFromOutsideAt: number | null;
}

type ConsumerMode = "receive" | "forAwait" | "nowait";

interface ConsumerSpec {
  readonly mode: ConsumerMode;
  /** Virtual ms to sleep after each value (polling interval for "nowait"). */
  readonly gap: number;
  readonly cancelAt: number | null;
  readonly cancelledFromOutsideAt: number | null;
  /** Closes its own handle after this many values (null: at EndOfChannel). */
  readonly closeAfter: number | null;
  readonly closedFromOutsideAt: number | null;
}

interface Scenario {
  readonly bufferSize: number;
  readonly producers: readonly ProducerSpec[];
  readonly consumers: readonly ConsumerSpec[];
  /** When main closes the original handles (after handing out clones). */
  readonly closeOriginalsAt: number;
  /** Whoever closes the last receive handle first takes what is left with receiveNowait. */
  readonly drainBeforeLastClose: boolean;
  /** null: FIFO batches; else the seed of a scheduler that runs one random task per batch. */
  readonly schedulerSeed: number | null;
}

const time = fc.oneof({ weight: 3, arbitrary: fc.nat(30) }, fc.constant(0));
/** `arbitrary` about `percent`% of the time, else null. */
const sometimes = <T>(percent: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(null) }, { weight: percent, arbitrary });

const producerArbitrary: fc.Arbitrary<ProducerSpec> = fc.record({
  ops: fc.array(
    fc.record({
      gap: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.nat(3)),
      nowait: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
    }),
    { maxLength: 8 },
  ),
  cancelAt: sometimes(30, time),
  cancelledFromOutsideAt: sometimes(25, time),
  closeAfter: sometimes(25, fc.nat(6)),
  closedFromOutsideAt: sometimes(20, time),
});

const consumerArbitrary: fc.Arbitrary<ConsumerSpec> = fc.record({
  mode: fc.constantFrom<ConsumerMode>("receive", "forAwait", "nowait"),
  gap: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, fc.nat(3)),
  cancelAt: sometimes(30, time),
  cancelledFromOutsideAt: sometimes(25, time),
  closeAfter: sometimes(25, fc.nat(8)),
  closedFromOutsideAt: sometimes(20, time),
});

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  bufferSize: fc.constantFrom(0, 1, 3, Infinity),
  producers: fc.array(producerArbitrary, { minLength: 1, maxLength: 4 }),
  consumers: fc.array(consumerArbitrary, { minLength: 0, maxLength: 4 }),
  closeOriginalsAt: fc.oneof(fc.constant(0), fc.nat(10)),
  drainBeforeLastClose: fc.boolean(),
  // Half of the runs: one random task per batch.
  schedulerSeed: sometimes(50, fc.integer({ min: 1, max: 0x7fffffff })),
});

// ---------------------------------------------------------------- running one

interface Handle<H> {
  readonly name: string;
  readonly handle: H;
  closed: boolean;
}

interface Ledger {
  /** Values handed to send/sendNowait, in order. */
  readonly attempted: number[];
  /** Values whose send/sendNowait returned. */
  readonly sent: Set<number>;
  /** Values whose send/sendNowait threw, and the error's name. */
  readonly failed: Map<number, string>;
  /** Values a consumer got, with who got it, in the order they were recorded. */
  readonly received: { value: number; consumer: number }[];
  /** Values taken with receiveNowait just before the last receive handle closed. */
  readonly drained: number[];
  /** currentBufferUsed just before the last receive handle closed (those values are dropped). */
  droppedAtLastClose: number | null;
  /** Violations of the statistics invariants seen during the run. */
  readonly statProblems: string[];
  readonly log: string[];
  finalStats: ChannelStatistics | null;
}

type Settled = "resolved" | "rejected" | "timeout";

interface Report {
  readonly ledger: Ledger;
  readonly settled: Settled;
  readonly rejection: unknown;
}

const valueFor = (producer: number, index: number): number => producer * 100 + index;
const producerOf = (value: number): number => Math.floor(value / 100);

function errorName(error: unknown): string {
  return error instanceof Error ? error.constructor.name : String(error);
}

async function runScenario(scenario: Scenario): Promise<Report> {
  const ledger: Ledger = {
    attempted: [],
    sent: new Set(),
    failed: new Map(),
    received: [],
    drained: [],
    droppedAtLastClose: null,
    statProblems: [],
    log: [],
    finalStats: null,
  };
  const sendHandles: Handle<MemorySendChannel<number>>[] = [];
  const receiveHandles: Handle<MemoryReceiveChannel<number>>[] = [];
  let lastPeak = 0;
  const scopeFor = (spec: { cancelAt: number | null }): CancelScope =>
    new CancelScope({ deadline: spec.cancelAt ?? Infinity });
  const producerScopes = scenario.producers.map(scopeFor);
  const consumerScopes = scenario.consumers.map(scopeFor);
  /** A task that does `what` at virtual time `at`. */
  const later = (nursery: Nursery, at: number | null, what: () => void): void => {
    if (at === null) return;
    nursery.startSoon(async () => {
      await sleep(at);
      what();
    });
  };

  let channelStats: () => ChannelStatistics = () => {
    throw new Error("no channel yet");
  };

  /** Checks the statistics against what we know (open handles, bounds, a peak that never decreases). */
  const observe = (where: string): void => {
    const s = channelStats();
    const problem = (what: string): void => void ledger.statProblems.push(`${where}: ${what}`);
    if (s.currentBufferUsed > s.maxBufferSize)
      problem(`currentBufferUsed ${s.currentBufferUsed} > maxBufferSize ${s.maxBufferSize}`);
    if (s.peakBufferUsed < lastPeak)
      problem(`peakBufferUsed fell ${lastPeak} → ${s.peakBufferUsed}`);
    if (s.peakBufferUsed < s.currentBufferUsed)
      problem(`peakBufferUsed ${s.peakBufferUsed} < currentBufferUsed ${s.currentBufferUsed}`);
    lastPeak = s.peakBufferUsed;
    const openSend = sendHandles.filter((h) => !h.closed).length;
    const openReceive = receiveHandles.filter((h) => !h.closed).length;
    if (s.openSendChannels !== openSend)
      problem(`openSendChannels ${s.openSendChannels}, expected ${openSend}`);
    if (s.openReceiveChannels !== openReceive)
      problem(`openReceiveChannels ${s.openReceiveChannels}, expected ${openReceive}`);
    if (s.tasksWaitingSend > scenario.producers.length)
      problem(`tasksWaitingSend ${s.tasksWaitingSend} > producers`);
    if (s.tasksWaitingReceive > scenario.consumers.length)
      problem(`tasksWaitingReceive ${s.tasksWaitingReceive} > consumers`);
    if (s.tasksWaitingSend > 0 && s.tasksWaitingReceive > 0)
      problem("senders and receivers waiting at the same time");
    if (s.tasksWaitingReceive > 0 && s.currentBufferUsed > 0)
      problem("receivers waiting while the buffer holds values");
  };

  const closeSend = (h: Handle<MemorySendChannel<number>>, by: string): void => {
    if (h.closed) return;
    h.closed = true;
    h.handle.close();
    ledger.log.push(`${by} closes ${h.name}`);
    observe(`after ${by} closed ${h.name}`);
  };

  const closeReceive = (h: Handle<MemoryReceiveChannel<number>>, by: string): void => {
    if (h.closed) return;
    if (receiveHandles.filter((r) => !r.closed).length === 1) {
      // The last receive handle: what is in the buffer now is dropped by the close.
      if (scenario.drainBeforeLastClose) {
        for (;;) {
          try {
            ledger.drained.push(h.handle.receiveNowait());
          } catch (error) {
            if (error instanceof WouldBlock || error instanceof EndOfChannel) break;
            throw error;
          }
        }
        ledger.log.push(`${by} drains [${ledger.drained.join(", ")}]`);
      }
      ledger.droppedAtLastClose = channelStats().currentBufferUsed;
    }
    h.closed = true;
    h.handle.close();
    ledger.log.push(`${by} closes ${h.name}`);
    observe(`after ${by} closed ${h.name}`);
  };

  const producer = async (p: number, spec: ProducerSpec): Promise<void> => {
    const h = sendHandles[p + 1]!;
    const name = `P${p}`;
    try {
      await producerScopes[p]!.run(async () => {
        for (let i = 0; i < spec.ops.length; i++) {
          if (spec.closeAfter !== null && i >= spec.closeAfter) return;
          const op = spec.ops[i]!;
          if (op.gap > 0) await sleep(op.gap);
          const value = valueFor(p, i);
          ledger.attempted.push(value);
          try {
            if (op.nowait) h.handle.sendNowait(value);
            else await h.handle.send(value);
          } catch (error) {
            ledger.failed.set(value, errorName(error));
            ledger.log.push(
              `${name} ${op.nowait ? "sendNowait" : "send"}(${value}) threw ${errorName(error)}`,
            );
            if (error instanceof WouldBlock) continue;
            throw error;
          }
          ledger.sent.add(value);
          ledger.log.push(`${name} ${op.nowait ? "sendNowait" : "send"}(${value}) returned`);
          observe(`${name} after sending ${value}`);
        }
      });
    } catch (error) {
      // The handle was closed (from outside) or every receiver is gone: the producer stops.
      if (!(error instanceof ClosedResourceError || error instanceof BrokenResourceError))
        throw error;
    } finally {
      closeSend(h, name);
    }
  };

  const consumer = async (c: number, spec: ConsumerSpec): Promise<void> => {
    const h = receiveHandles[c + 1]!;
    const name = `C${c}`;
    let count = 0;
    const take = (value: number): void => {
      ledger.received.push({ value, consumer: c });
      ledger.log.push(`${name} got ${value}`);
      count++;
      observe(`${name} after receiving ${value}`);
    };
    const done = (): boolean => spec.closeAfter !== null && count >= spec.closeAfter;
    try {
      await consumerScopes[c]!.run(async () => {
        switch (spec.mode) {
          case "receive":
            while (!done()) {
              take(await h.handle.receive());
              if (spec.gap > 0) await sleep(spec.gap);
            }
            return;
          case "forAwait":
            if (done()) return;
            for await (const value of h.handle) {
              take(value);
              if (done()) break;
              if (spec.gap > 0) await sleep(spec.gap);
            }
            return;
          case "nowait":
            while (!done()) {
              try {
                take(h.handle.receiveNowait());
              } catch (error) {
                if (!(error instanceof WouldBlock)) throw error;
                await sleep(Math.max(1, spec.gap));
              }
            }
            return;
        }
      });
    } catch (error) {
      if (!(error instanceof EndOfChannel || error instanceof ClosedResourceError)) throw error;
      ledger.log.push(`${name} stops: ${errorName(error)}`);
    } finally {
      closeReceive(h, name);
    }
  };

  const main = async (): Promise<void> => {
    const [send, receive] = openMemoryChannel<number>(scenario.bufferSize);
    channelStats = () => send.statistics();
    sendHandles.push({ name: "send", handle: send, closed: false });
    receiveHandles.push({ name: "receive", handle: receive, closed: false });
    for (let p = 0; p < scenario.producers.length; p++)
      sendHandles.push({ name: `send#P${p}`, handle: send.clone(), closed: false });
    for (let c = 0; c < scenario.consumers.length; c++)
      receiveHandles.push({ name: `receive#C${c}`, handle: receive.clone(), closed: false });
    observe("after cloning");

    await openNursery(async (nursery) => {
      scenario.producers.forEach((spec, p) => {
        nursery.startSoon(() => producer(p, spec), { name: `P${p}` });
        later(nursery, spec.closedFromOutsideAt, () => closeSend(sendHandles[p + 1]!, "closer"));
        later(nursery, spec.cancelledFromOutsideAt, () => {
          ledger.log.push(`canceller cancels P${p}`);
          producerScopes[p]!.cancel();
        });
      });
      scenario.consumers.forEach((spec, c) => {
        nursery.startSoon(() => consumer(c, spec), { name: `C${c}` });
        later(nursery, spec.closedFromOutsideAt, () =>
          closeReceive(receiveHandles[c + 1]!, "closer"),
        );
        later(nursery, spec.cancelledFromOutsideAt, () => {
          ledger.log.push(`canceller cancels C${c}`);
          consumerScopes[c]!.cancel();
        });
      });
      if (scenario.closeOriginalsAt > 0) await sleep(scenario.closeOriginalsAt);
      closeSend(sendHandles[0]!, "main");
      closeReceive(receiveHandles[0]!, "main");
    });
    ledger.finalStats = channelStats();
  };

  const scheduler =
    scenario.schedulerSeed === null
      ? undefined
      : new RandomOneAtATimeScheduler(scenario.schedulerSeed);
  const running = run(main, {
    clock: new MockClock({ autojumpThreshold: 0 }),
    ...(scheduler === undefined ? {} : { scheduler }),
  }).then(
    () => ({ settled: "resolved" as const, rejection: undefined as unknown }),
    (error: unknown) => ({ settled: "rejected" as const, rejection: error }),
  );
  let watchdog: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ settled: "timeout"; rejection: unknown }>((resolve) => {
    watchdog = setTimeout(() => resolve({ settled: "timeout", rejection: undefined }), WATCHDOG_MS);
  });
  const outcome = await Promise.race([running, timeout]);
  clearTimeout(watchdog);
  return { ledger, ...outcome };
}

// ---------------------------------------------------------------- the properties

function checkReport(scenario: Scenario, { ledger, settled, rejection }: Report): void {
  // The run always terminates, without error (no deadlock, no stray exception).
  expect(settled, "run() did not settle within the watchdog").not.toBe("timeout");
  expect(rejection, "run() rejected").toBeUndefined();
  expect(ledger.statProblems, "statistics invariants").toEqual([]);

  // Every attempt ended one way or the other, exactly once.
  for (const value of ledger.attempted) {
    expect(
      ledger.sent.has(value) !== ledger.failed.has(value),
      `send(${value}) both returned and threw, or neither`,
    ).toBe(true);
  }

  const got = [...ledger.received.map((r) => r.value), ...ledger.drained];
  // No value is received twice.
  const seen = new Set<number>();
  for (const value of got) {
    expect(seen.has(value), `${value} was received twice`).toBe(false);
    seen.add(value);
  }
  // Nothing is received that was not sent; a send that threw (Cancelled or
  // any error) delivered nothing.
  for (const value of got) {
    expect(ledger.failed.get(value), `${value} was received though its send threw`).toBeUndefined();
    expect(ledger.sent.has(value), `${value} was received but its send never returned`).toBe(true);
  }
  // Every value whose send returned was received, or was still in the buffer
  // when the last receive handle closed (and so was dropped).
  expect(ledger.droppedAtLastClose, "the last receive handle was never closed").not.toBeNull();
  if (scenario.drainBeforeLastClose) expect(ledger.droppedAtLastClose).toBe(0);
  const lost = [...ledger.sent].filter((value) => !seen.has(value));
  expect(lost.length, `sent but neither received nor buffered at the last close: [${lost}]`).toBe(
    ledger.droppedAtLastClose,
  );

  // A single consumer takes each producer's values in the order they were sent.
  if (scenario.consumers.length === 1) {
    const lastOf = new Map<number, number>();
    for (const { value } of ledger.received) {
      const p = producerOf(value);
      expect(value, `P${p}'s values out of order`).toBeGreaterThan(lastOf.get(p) ?? -1);
      lastOf.set(p, value);
    }
  }

  // At the end nothing is open, nobody waits, and the dropped buffer is gone.
  expect(ledger.finalStats).toMatchObject({
    currentBufferUsed: 0,
    openSendChannels: 0,
    openReceiveChannels: 0,
    tasksWaitingSend: 0,
    tasksWaitingReceive: 0,
  });
}

function show(scenario: Scenario, report: Report): string {
  const { ledger } = report;
  return [
    `scenario: ${JSON.stringify(scenario, (_, v) => (v === Infinity ? "Infinity" : v))}`,
    `settled: ${report.settled} ${report.rejection === undefined ? "" : String(report.rejection)}`,
    `sent: [${[...ledger.sent]}]`,
    `failed: ${JSON.stringify([...ledger.failed])}`,
    `received: [${ledger.received.map((r) => `${r.value}@C${r.consumer}`)}]`,
    `drained: [${ledger.drained}], dropped at last close: ${ledger.droppedAtLastClose}`,
    `log:\n  ${ledger.log.join("\n  ")}`,
  ].join("\n");
}

describe("properties of memory channels under random producers, consumers, closes and cancellations", () => {
  test(
    "no value is lost, duplicated or delivered by a failed send, and every run terminates",
    TIMEOUT,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArbitrary, async (scenario) => {
          const report = await runScenario(scenario);
          try {
            checkReport(scenario, report);
          } catch (error) {
            throw new Error(
              `${error instanceof Error ? error.message : String(error)}\n${show(scenario, report)}`,
              { cause: error },
            );
          }
        }),
        { numRuns: NUM_RUNS, ...PARAMETERS },
      );
    },
  );
});
