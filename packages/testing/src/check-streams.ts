/**
 * Stream conformance suites: behaviour ported from Trio's
 * src/trio/testing/_check_streams.py.
 *
 * Each suite runs a series of named steps; a failing step throws an `Error`
 * whose message names the suite and the property that failed (the original
 * error is its `cause`). Every step is bounded with `failAfter`, so a stream
 * that hangs instead of raising fails the suite instead of hanging it.
 */

import {
  BrokenResourceError,
  BusyResourceError,
  CancelScope,
  ClosedResourceError,
  ExceptionGroup,
  failAfter,
  isCancelled,
  lowlevel,
  openNursery,
  TooSlowError,
} from "@weft/core";
import {
  type AsyncResource,
  acloseForcefully,
  type HalfCloseableStream,
  type ReceiveStream,
  type SendStream,
  type Stream,
} from "@weft/core/streams";
import { checkFunction } from "@weft/core/validate";
import { assertCheckpoints } from "./checkpoints.ts";
import { seededRandom } from "./seeded-random.ts";

/** An async function returning a connected pair of streams. */
export type Maker<A, B> = () => Promise<[A, B]>;

const waitAllTasksBlocked = (): Promise<void> => lowlevel.waitAllTasksBlocked();

/** The time (ms, on the run's clock) a single step may take before it counts as hung. */
const STEP_TIMEOUT_MS = 10_000;
/** The time the 1 MiB full-duplex transfer may take. */
const DUPLEX_TIMEOUT_MS = 120_000;
const DUPLEX_TEST_SIZE = 2 ** 20;
const CHUNK_SIZE_MAX = 2 ** 14;

type ErrorClass = abstract new (...args: never[]) => Error;

/** Thrown (as `cause`) when a check's expectation did not hold. */
class CheckFailed extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckFailed";
  }
}

function leaves(error: unknown): unknown[] {
  if (error instanceof ExceptionGroup) return (error.errors as unknown[]).flatMap(leaves);
  return [error];
}

function describeError(error: unknown): string {
  if (error instanceof ExceptionGroup) {
    const inner = leaves(error).filter((e) => !isCancelled(e));
    if (inner.length > 0) return inner.map(describeError).join("; ");
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** True if `error` is `cls`, or a group made only of `cls` (and cancellations). */
function matches(error: unknown, cls: ErrorClass): boolean {
  if (error instanceof cls) return true;
  if (error instanceof ExceptionGroup) {
    const leaves = (error.errors as unknown[]).filter((e) => !isCancelled(e));
    return leaves.length > 0 && leaves.every((e) => matches(e, cls));
  }
  return false;
}

async function expectRaises(
  classes: ErrorClass | ErrorClass[],
  what: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  const list = Array.isArray(classes) ? classes : [classes];
  const names = list.map((c) => c.name).join(" or ");
  try {
    await fn();
  } catch (error) {
    if (list.some((cls) => matches(error, cls))) return;
    if (isCancelled(error)) throw error;
    throw new CheckFailed(`${what}: expected ${names}, got ${describeError(error)}`, {
      cause: error,
    });
  }
  throw new CheckFailed(`${what}: expected ${names}, but it succeeded`);
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new CheckFailed(message);
}

function hasSendEof(stream: SendStream): stream is SendStream & { sendEof(): Promise<void> } {
  return typeof (stream as { sendEof?: unknown }).sendEof === "function";
}

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function show(data: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(data.subarray(0, 40)));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const rng = seededRandom;

function randInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/**
 * Runs one named step of a suite, bounded by `timeoutMs`; any failure becomes
 * an `Error` naming the suite and the step. Cancellation from outside passes
 * through unchanged.
 */
async function step(
  suite: string,
  name: string,
  body: () => Promise<void>,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<void> {
  try {
    await failAfter(timeoutMs, body);
  } catch (error) {
    if (isCancelled(error)) throw error;
    const detail =
      error instanceof TooSlowError
        ? `the stream hung (no result within ${timeoutMs} ms)`
        : describeError(error);
    throw new Error(`${suite}: ${name} — ${detail}`, { cause: error });
  }
}

/** Makes a pair, runs `body` on it, then force-closes both ends. */
async function withPair<A extends AsyncResource, B extends AsyncResource>(
  maker: Maker<A, B>,
  body: (a: A, b: B) => Promise<void>,
): Promise<void> {
  const [a, b] = await maker();
  try {
    await body(a, b);
  } finally {
    try {
      await acloseForcefully(a);
    } finally {
      await acloseForcefully(b);
    }
  }
}

/** Runs `fns` concurrently in a nursery. */
async function concurrently(...fns: (() => Promise<unknown>)[]): Promise<void> {
  await openNursery(async (nursery) => {
    for (const fn of fns) nursery.startSoon(fn);
  });
}

function ops(s: SendStream, r: ReceiveStream) {
  const doSendAll = async (data: Uint8Array): Promise<void> => {
    const result: unknown = await assertCheckpoints(() => s.sendAll(data));
    expect(result === undefined, "sendAll must resolve to undefined");
  };
  const doReceiveSome = (maxBytes?: number): Promise<Uint8Array> =>
    assertCheckpoints(() => r.receiveSome(maxBytes));
  const checkedReceive1 = async (expected: Uint8Array): Promise<void> => {
    const got = await doReceiveSome(1);
    expect(
      equalBytes(got, expected),
      `receiveSome(1) returned ${show(got)} (${got.length} bytes), expected ${show(expected)}`,
    );
  };
  const doAclose = (resource: AsyncResource): Promise<void> =>
    assertCheckpoints(() => resource.aclose());
  return { doSendAll, doReceiveSome, checkedReceive1, doAclose };
}

/**
 * Checks a one-way stream implementation. `maker` returns a connected
 * `[SendStream, ReceiveStream]` pair; `cloggedMaker`, if given, returns a pair
 * whose `sendAll` and `waitSendAllMightNotBlock` block until `receiveSome` is
 * called. Throws an `Error` naming the failed property.
 */
export async function checkOneWayStream(
  maker: Maker<SendStream, ReceiveStream>,
  cloggedMaker?: Maker<SendStream, ReceiveStream> | null,
): Promise<void> {
  checkMakers(maker, cloggedMaker);
  await oneWay("checkOneWayStream", maker, cloggedMaker ?? null);
}

/** Bad arguments reject the suite's promise at once, naming the argument. */
function checkMakers(maker: unknown, cloggedMaker: unknown): void {
  checkFunction("maker", maker);
  if (cloggedMaker !== undefined && cloggedMaker !== null)
    checkFunction("cloggedMaker", cloggedMaker);
}

async function oneWay(
  suite: string,
  maker: Maker<SendStream, ReceiveStream>,
  cloggedMaker: Maker<SendStream, ReceiveStream> | null,
): Promise<void> {
  const run = (name: string, body: () => Promise<void>) => step(suite, name, body);

  await run("maker returns streams", async () => {
    await withPair(maker, async (s, r) => {
      expect(typeof s?.sendAll === "function", "the first stream has no sendAll method");
      expect(typeof s?.waitSendAllMightNotBlock === "function", "no waitSendAllMightNotBlock");
      expect(typeof r?.receiveSome === "function", "the second stream has no receiveSome method");
      expect(typeof s?.aclose === "function" && typeof r?.aclose === "function", "no aclose");
    });
  });

  await withPair(maker, async (s, r) => {
    const { doSendAll, doReceiveSome, checkedReceive1, doAclose } = ops(s, r);

    await run("data crosses the stream (and both sides checkpoint)", async () => {
      await concurrently(
        () => doSendAll(bytes("x")),
        () => checkedReceive1(bytes("x")),
      );
    });

    await run("an empty sendAll is legal and has no special meaning", async () => {
      await concurrently(
        async () => {
          await doSendAll(new Uint8Array(0));
          await doSendAll(bytes("y"));
        },
        () => checkedReceive1(bytes("y")),
      );
    });

    await run("sendAll accepts a subarray view", async () => {
      const buffer = bytes("_2_");
      await concurrently(
        () => doSendAll(buffer.subarray(1, 2)),
        () => checkedReceive1(bytes("2")),
      );
    });

    await run("receiveSome(0) and receiveSome(-1) throw RangeError", async () => {
      await expectRaises(RangeError, "receiveSome(-1)", () => r.receiveSome(-1));
      await expectRaises(RangeError, "receiveSome(0)", () => r.receiveSome(0));
      await expectRaises(RangeError, "receiveSome(1.5)", () => r.receiveSome(1.5));
    });

    await run("receiveSome() without maxBytes returns data", async () => {
      let got: Uint8Array = new Uint8Array(0);
      await concurrently(
        () => doSendAll(bytes("x")),
        async () => {
          got = await doReceiveSome();
        },
      );
      expect(equalBytes(got, bytes("x")), `receiveSome() returned ${show(got)}, expected "x"`);
    });

    await run("two concurrent receiveSome calls throw BusyResourceError", async () => {
      await expectRaises(BusyResourceError, "concurrent receiveSome", () =>
        concurrently(
          () => doReceiveSome(1),
          () => doReceiveSome(1),
        ),
      );
    });

    await run("waitSendAllMightNotBlock returns while a receiver waits", async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await assertCheckpoints(() => s.waitSendAllMightNotBlock());
          nursery.cancelScope.cancel();
        });
        nursery.startSoon(() => doReceiveSome(1));
      });
    });

    await run("closing the receiver breaks sendAll (BrokenResourceError)", async () => {
      await concurrently(
        () =>
          expectRaises(BrokenResourceError, "sendAll after the receiver closed", async () => {
            while (true) await doSendAll(new Uint8Array(100).fill(120));
          }),
        () => doAclose(r),
      );
    });

    await run("once broken, the sender stays broken", async () => {
      await expectRaises(BrokenResourceError, "sendAll on a broken stream", () =>
        doSendAll(new Uint8Array(100)),
      );
    });

    await run("receiveSome on a closed receiver throws ClosedResourceError", async () => {
      await expectRaises(ClosedResourceError, "receiveSome after aclose", () =>
        doReceiveSome(4096),
      );
    });

    await run("closing the receiver again is fine", async () => {
      await doAclose(r);
      await doAclose(r);
    });

    await run("a closed sender throws ClosedResourceError", async () => {
      await doAclose(s);
      await expectRaises(ClosedResourceError, "sendAll after aclose", () =>
        doSendAll(new Uint8Array(100)),
      );
      await expectRaises(ClosedResourceError, "empty sendAll after aclose", () =>
        doSendAll(new Uint8Array(0)),
      );
      await expectRaises(ClosedResourceError, "waitSendAllMightNotBlock after aclose", () =>
        assertCheckpoints(() => s.waitSendAllMightNotBlock()),
      );
      await doAclose(s);
      await doAclose(s);
    });
  });

  await run("data sent before a graceful close arrives, then EOF", async () => {
    await withPair(maker, async (s, r) => {
      const { doSendAll, checkedReceive1, doAclose } = ops(s, r);
      await concurrently(
        async () => {
          await doSendAll(bytes("y"));
          await doAclose(s);
        },
        async () => {
          await waitAllTasksBlocked();
          await checkedReceive1(bytes("y"));
          await checkedReceive1(new Uint8Array(0));
          await doAclose(r);
        },
      );
    });
  });

  await run("a forcefully closed receiver breaks the sender", async () => {
    await withPair(maker, async (s, r) => {
      const { doSendAll, doReceiveSome } = ops(s, r);
      await acloseForcefully(r);
      await expectRaises(BrokenResourceError, "sendAll after the receiver closed", async () => {
        while (true) await doSendAll(new Uint8Array(100));
      });
      await expectRaises(ClosedResourceError, "receiveSome after aclose", () =>
        doReceiveSome(4096),
      );
    });
  });

  await run(
    "a forcefully closed sender gives the receiver EOF or BrokenResourceError",
    async () => {
      await withPair(maker, async (s, r) => {
        const { doSendAll, checkedReceive1 } = ops(s, r);
        await acloseForcefully(s);
        await expectRaises(ClosedResourceError, "sendAll after aclose", () =>
          doSendAll(bytes("123")),
        );
        try {
          await checkedReceive1(new Uint8Array(0));
        } catch (error) {
          if (!(error instanceof BrokenResourceError)) throw error;
        }
      });
    },
  );

  await run("aclose in a cancelled scope still closes", async () => {
    await withPair(maker, async (s, r) => {
      const { doSendAll, doReceiveSome } = ops(s, r);
      for (const resource of [r, s]) {
        const scope = new CancelScope();
        scope.cancel("checkStreams");
        await scope.run(() => resource.aclose());
      }
      await expectRaises(ClosedResourceError, "sendAll after a cancelled aclose", () =>
        doSendAll(bytes("123")),
      );
      await expectRaises(ClosedResourceError, "receiveSome after a cancelled aclose", () =>
        doReceiveSome(4096),
      );
    });
  });

  await run("cancelled I/O leaves the stream closable", async () => {
    await withPair(maker, async (s, r) => {
      const { doSendAll, doReceiveSome, doAclose } = ops(s, r);
      const expectCancelled = async (fn: () => Promise<unknown>, what: string) => {
        try {
          await fn();
        } catch (error) {
          if (isCancelled(error)) throw error;
          throw new CheckFailed(`${what} in a cancelled scope threw ${describeError(error)}`);
        }
        throw new CheckFailed(`${what} in a cancelled scope did not raise Cancelled`);
      };
      const scope = new CancelScope();
      scope.cancel("checkStreams");
      await scope.run(() =>
        concurrently(
          () => expectCancelled(() => doSendAll(bytes("x")), "sendAll"),
          () => expectCancelled(() => doReceiveSome(1), "receiveSome"),
        ),
      );
      await concurrently(
        () => doAclose(s),
        () => doAclose(r),
      );
    });
  });

  await run("closing the receiver wakes a blocked receiveSome (ClosedResourceError)", async () => {
    await withPair(maker, async (_s, r) => {
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          expectRaises(ClosedResourceError, "blocked receiveSome after aclose", () =>
            r.receiveSome(10),
          ),
        );
        await waitAllTasksBlocked();
        await acloseForcefully(r);
      });
    });
  });

  if (cloggedMaker === null) return;

  await run("waitSendAllMightNotBlock blocks until the receiver runs (clogged)", async () => {
    await withPair(cloggedMaker, async (s, r) => {
      const record: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          record.push("waiter sleeping");
          await assertCheckpoints(() => s.waitSendAllMightNotBlock());
          record.push("waiter woke up");
          nursery.cancelScope.cancel();
        });
        await waitAllTasksBlocked();
        nursery.startSoon(async () => {
          await waitAllTasksBlocked();
          record.push("receiver starting");
          while (true) await r.receiveSome(16834);
        });
      });
      const expected = ["waiter sleeping", "receiver starting", "waiter woke up"];
      expect(
        JSON.stringify(record) === JSON.stringify(expected),
        `events were ${JSON.stringify(record)}, expected ${JSON.stringify(expected)}`,
      );
    });
  });

  await run("two concurrent senders throw BusyResourceError (clogged)", async () => {
    await withPair(cloggedMaker, async (s) => {
      await expectRaises(BusyResourceError, "concurrent waitSendAllMightNotBlock", () =>
        concurrently(
          () => s.waitSendAllMightNotBlock(),
          () => s.waitSendAllMightNotBlock(),
        ),
      );
    });
    await withPair(cloggedMaker, async (s) => {
      await expectRaises(BusyResourceError, "concurrent waitSendAllMightNotBlock and sendAll", () =>
        concurrently(
          () => s.waitSendAllMightNotBlock(),
          () => s.sendAll(bytes("123")),
        ),
      );
    });
    await withPair(cloggedMaker, async (s) => {
      await expectRaises(BusyResourceError, "concurrent sendAll", () =>
        concurrently(
          () => s.sendAll(bytes("123")),
          () => s.sendAll(bytes("123")),
        ),
      );
    });
  });

  await run("closing the receiver releases waitSendAllMightNotBlock (clogged)", async () => {
    await withPair(cloggedMaker, async (s, r) => {
      await concurrently(
        async () => {
          try {
            await assertCheckpoints(() => s.waitSendAllMightNotBlock());
          } catch (error) {
            if (!(error instanceof BrokenResourceError)) throw error;
          }
        },
        async () => {
          await waitAllTasksBlocked();
          await acloseForcefully(r);
        },
      );
    });
    await withPair(cloggedMaker, async (s, r) => {
      await acloseForcefully(r);
      try {
        await assertCheckpoints(() => s.waitSendAllMightNotBlock());
      } catch (error) {
        if (!(error instanceof BrokenResourceError)) throw error;
      }
    });
  });

  const closeSoon = async (s: SendStream) => {
    await waitAllTasksBlocked();
    await acloseForcefully(s);
  };

  await run(
    "closing the sender wakes a blocked sendAll (ClosedResourceError, clogged)",
    async () => {
      await withPair(cloggedMaker, async (s) => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => closeSoon(s));
          await expectRaises(ClosedResourceError, "blocked sendAll after aclose", () =>
            s.sendAll(bytes("xyzzy")),
          );
        });
      });
    },
  );

  await run(
    "closing the sender wakes a blocked waitSendAllMightNotBlock (ClosedResourceError, clogged)",
    async () => {
      await withPair(cloggedMaker, async (s) => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => closeSoon(s));
          await expectRaises(
            ClosedResourceError,
            "blocked waitSendAllMightNotBlock after aclose",
            () => s.waitSendAllMightNotBlock(),
          );
        });
      });
    },
  );
}

function flipped<A, B>(maker: Maker<A, B>): Maker<B, A> {
  return async () => {
    const [a, b] = await maker();
    return [b, a];
  };
}

/**
 * Checks a two-way stream implementation: everything `checkOneWayStream`
 * checks, in both directions, plus a 1 MiB full-duplex transfer in random
 * chunks and EOF on close.
 */
export async function checkTwoWayStream(
  maker: Maker<Stream, Stream>,
  cloggedMaker?: Maker<Stream, Stream> | null,
): Promise<void> {
  checkMakers(maker, cloggedMaker);
  await twoWay("checkTwoWayStream", maker, cloggedMaker ?? null);
}

async function twoWay(
  suite: string,
  maker: Maker<Stream, Stream>,
  cloggedMaker: Maker<Stream, Stream> | null,
): Promise<void> {
  await oneWay(`${suite} (first → second)`, maker, cloggedMaker);
  await oneWay(
    `${suite} (second → first)`,
    flipped(maker),
    cloggedMaker === null ? null : flipped(cloggedMaker),
  );

  await withPair(maker, async (s1, s2) => {
    await step(
      suite,
      "1 MiB full-duplex transfer in random chunks arrives intact",
      async () => {
        const random = rng(0);
        const data = new Uint8Array(DUPLEX_TEST_SIZE);
        for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256);
        const reversed = data.slice().reverse();
        const sender = async (s: Stream, payload: Uint8Array, seed: number) => {
          const r = rng(seed);
          let offset = 0;
          while (offset < payload.length) {
            const size = randInt(r, 1, CHUNK_SIZE_MAX);
            await s.sendAll(payload.subarray(offset, offset + size));
            offset += size;
          }
        };
        const receiver = async (s: Stream, expected: Uint8Array, seed: number, who: string) => {
          const r = rng(seed);
          const got = new Uint8Array(expected.length);
          let filled = 0;
          while (filled < expected.length) {
            const max = randInt(r, 1, CHUNK_SIZE_MAX);
            const chunk = await s.receiveSome(max);
            expect(chunk.length > 0, `${who} got EOF after ${filled} bytes`);
            expect(
              chunk.length <= max,
              `${who}: receiveSome(${max}) returned ${chunk.length} bytes`,
            );
            expect(
              filled + chunk.length <= expected.length,
              `${who} received more data than was sent`,
            );
            got.set(chunk, filled);
            filled += chunk.length;
          }
          expect(equalBytes(got, expected), `${who} received corrupted data`);
        };
        await concurrently(
          () => sender(s1, data, 0),
          () => sender(s2, reversed, 1),
          () => receiver(s1, reversed, 2, "first stream"),
          () => receiver(s2, data, 3, "second stream"),
        );
      },
      DUPLEX_TIMEOUT_MS,
    );

    await step(suite, "closing one side gives the other EOF", async () => {
      await concurrently(
        async () => {
          const got = await s2.receiveSome(10);
          expect(got.length === 0, `receiveSome returned ${got.length} bytes instead of EOF`);
          await s2.aclose();
        },
        () => s1.aclose(),
      );
    });
  });
}

/**
 * Checks a half-closeable stream implementation: everything
 * `checkTwoWayStream` checks, plus `sendEof` semantics.
 */
export async function checkHalfCloseableStream(
  maker: Maker<HalfCloseableStream, HalfCloseableStream>,
  cloggedMaker?: Maker<HalfCloseableStream, HalfCloseableStream> | null,
): Promise<void> {
  checkMakers(maker, cloggedMaker);
  const suite = "checkHalfCloseableStream";
  const clogged = cloggedMaker ?? null;
  await twoWay(suite, maker, clogged);

  const sendXThenEof = async (s: HalfCloseableStream) => {
    await s.sendAll(bytes("x"));
    await assertCheckpoints(() => s.sendEof());
  };
  const expectXThenEof = async (r: HalfCloseableStream) => {
    await waitAllTasksBlocked();
    const first = await r.receiveSome(10);
    expect(equalBytes(first, bytes("x")), `received ${show(first)} instead of "x"`);
    const second = await r.receiveSome(10);
    expect(second.length === 0, `received ${show(second)} instead of EOF after sendEof`);
  };

  await withPair(maker, async (s1, s2) => {
    expect(typeof s1.sendEof === "function", "the first stream has no sendEof");
    await step(suite, "sendEof: data then EOF reaches the peer", () =>
      concurrently(
        () => sendXThenEof(s1),
        () => expectXThenEof(s2),
      ),
    );
    await step(suite, "sendEof: sendAll afterwards throws ClosedResourceError", () =>
      expectRaises(ClosedResourceError, "sendAll after sendEof", () => s1.sendAll(bytes("y"))),
    );
    await step(suite, "sendEof: a second sendEof is fine", async () => {
      await assertCheckpoints(() => s1.sendEof());
    });
    await step(suite, "sendEof: the other direction still works", () =>
      concurrently(
        () => sendXThenEof(s2),
        () => expectXThenEof(s1),
      ),
    );
  });

  if (clogged === null) return;

  await step(suite, "sendEof during a blocked sendAll throws BusyResourceError (clogged)", () =>
    withPair(clogged, async (s1) => {
      await expectRaises(BusyResourceError, "sendEof during sendAll", () =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => s1.sendAll(bytes("x")));
          await waitAllTasksBlocked();
          nursery.startSoon(() => s1.sendEof());
        }),
      );
    }),
  );

  await step(
    suite,
    "sendEof during a blocked waitSendAllMightNotBlock throws BusyResourceError (clogged)",
    () =>
      withPair(clogged, async (s1) => {
        await expectRaises(BusyResourceError, "sendEof during waitSendAllMightNotBlock", () =>
          openNursery(async (nursery) => {
            nursery.startSoon(() => s1.waitSendAllMightNotBlock());
            await waitAllTasksBlocked();
            nursery.startSoon(() => s1.sendEof());
          }),
        );
      }),
  );
}

/** Bytes the cancelled call sends in `checkCancelledSendAll`. */
const CANCELLED_SEND_BYTE = 0xa5;
/** Bytes the calls after it send: none of them may reach the receiver. */
const LATER_SEND_BYTE = 0x5a;

/** Whether `error`'s message says that an earlier send was cancelled. */
function saysPreviousSendCancelled(error: unknown): boolean {
  return error instanceof Error && /previous send\w* was cancelled/i.test(error.message);
}

/**
 * Cancels a `sendAll` of `s` once it blocks (a clogged stream's does), and
 * checks that it raised `Cancelled`.
 */
async function cancelBlockedSendAll(s: SendStream): Promise<void> {
  const scope = new CancelScope();
  let failure: unknown = null;
  await openNursery(async (nursery) => {
    nursery.startSoon(async () => {
      try {
        await scope.run(() => s.sendAll(new Uint8Array(1024).fill(CANCELLED_SEND_BYTE)));
      } catch (error) {
        failure = error;
      }
    });
    await waitAllTasksBlocked();
    scope.cancel("checkCancelledSendAll");
  });
  if (failure !== null) {
    throw new CheckFailed(`the cancelled sendAll threw ${describeError(failure)}`, {
      cause: failure,
    });
  }
  expect(scope.cancelledCaught, "a sendAll blocked on the clogged stream did not raise Cancelled");
}

/** Expects `sendAll` to raise `BrokenResourceError` saying a previous send was cancelled. */
async function expectRefused(s: SendStream, what: string): Promise<void> {
  await expectRaises(BrokenResourceError, what, async () => {
    try {
      await s.sendAll(new Uint8Array(1024).fill(LATER_SEND_BYTE));
    } catch (error) {
      if (error instanceof BrokenResourceError && !saysPreviousSendCancelled(error)) {
        throw new CheckFailed(
          `${what}: the BrokenResourceError does not say that a previous send was cancelled: ${describeError(error)}`,
          { cause: error },
        );
      }
      throw error;
    }
  });
}

/**
 * Checks the rule SEMANTICS.md ("I/O resources") gives streams whose
 * `sendAll` can be cancelled mid-write: a cancelled `sendAll` leaves the
 * sending side broken. Every later `sendAll` raises `BrokenResourceError`
 * whose message says a previous send was cancelled, and no byte of it reaches
 * the receiver; a `sendAll` cancelled before it started counts too; `sendEof`
 * (if the stream has it) and `aclose` still work.
 *
 * Opt-in: run it for stream types that claim the rule (`SocketStream`,
 * `TlsStream`…); the memory streams of this package do not. `cloggedMaker`
 * returns a pair whose `sendAll` blocks until the receiver reads, as for the
 * other suites; the cancelled call sends bytes `0xa5`, the later ones `0x5a`,
 * so what clogs the stream must not contain `0x5a`. Call it inside `run()`.
 */
export async function checkCancelledSendAll(
  cloggedMaker: Maker<SendStream, ReceiveStream>,
): Promise<void> {
  checkFunction("cloggedMaker", cloggedMaker);
  const suite = "checkCancelledSendAll";
  const run = (name: string, body: () => Promise<void>) => step(suite, name, body);

  await run(
    "a sendAll cancelled while it blocks breaks sending; no byte of a later sendAll arrives",
    async () => {
      await withPair(cloggedMaker, async (s, r) => {
        await cancelBlockedSendAll(s);
        await expectRefused(s, "sendAll after a cancelled sendAll");
        await expectRefused(s, "a second sendAll after a cancelled sendAll");
        await acloseForcefully(s);
        // Whatever arrives now (the clog, part of the cancelled call) must hold
        // nothing of the refused calls.
        while (true) {
          let chunk: Uint8Array;
          try {
            chunk = await r.receiveSome(65536);
          } catch (error) {
            if (error instanceof BrokenResourceError || error instanceof ClosedResourceError) break;
            throw error;
          }
          if (chunk.length === 0) break;
          expect(
            !chunk.includes(LATER_SEND_BYTE),
            "the receiver got bytes of a sendAll made after a cancelled one",
          );
        }
      });
    },
  );

  await run("a sendAll cancelled before it starts breaks sending too", async () => {
    await withPair(cloggedMaker, async (s) => {
      const scope = new CancelScope();
      scope.cancel("checkCancelledSendAll");
      try {
        await scope.run(() => s.sendAll(bytes("x")));
      } catch (error) {
        throw new CheckFailed(`a sendAll in a cancelled scope threw ${describeError(error)}`, {
          cause: error,
        });
      }
      expect(scope.cancelledCaught, "a sendAll in a cancelled scope did not raise Cancelled");
      await expectRefused(s, "sendAll after a sendAll cancelled before it started");
    });
  });

  await run(
    "aclose, and sendEof if the stream has it, still work after a cancelled sendAll",
    async () => {
      await withPair(cloggedMaker, async (s) => {
        await cancelBlockedSendAll(s);
        if (hasSendEof(s)) await s.sendEof();
        await s.aclose();
        await expectRaises(ClosedResourceError, "sendAll after aclose", () =>
          s.sendAll(bytes("x")),
        );
      });
    },
  );
}
