/**
 * Stream conformance suites: they pass on the memory and lockstep streams and
 * fail, with a message naming the property, on deliberately broken streams.
 */
import { BrokenResourceError, Cancelled, ClosedResourceError, run, sleepForever } from "@weft/core";
import type { ReceiveStream, SendStream } from "@weft/net";
import { describe, expect, test } from "vitest";
import { MockClock } from "../src/index.ts";
import {
  checkCancelledSendAll,
  checkHalfCloseableStream,
  checkOneWayStream,
  checkTwoWayStream,
  lockstepStreamOneWayPair,
  lockstepStreamPair,
  memoryStreamOneWayPair,
  memoryStreamPair,
} from "../src/streams.ts";

const inRun = (fn: () => Promise<void>) =>
  run(fn, { clock: new MockClock({ autojumpThreshold: 0 }) });

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** A receive stream that forwards to `inner`, with overridable behaviour. */
class WrappedReceive implements ReceiveStream {
  closed = false;
  readonly inner: ReceiveStream;
  readonly mode: "acceptsZero" | "hangsOnClose";
  constructor(inner: ReceiveStream, mode: "acceptsZero" | "hangsOnClose") {
    this.inner = inner;
    this.mode = mode;
  }
  async receiveSome(maxBytes?: number): Promise<Uint8Array> {
    if (this.mode === "acceptsZero" && maxBytes !== undefined && maxBytes < 1) {
      return this.inner.receiveSome();
    }
    if (this.mode === "hangsOnClose" && this.closed) await sleepForever();
    try {
      return await this.inner.receiveSome(maxBytes);
    } catch (error) {
      if (this.mode === "hangsOnClose" && error instanceof ClosedResourceError) {
        await sleepForever();
      }
      throw error;
    }
  }
  async aclose(): Promise<void> {
    this.closed = true;
    await this.inner.aclose();
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inner[Symbol.asyncIterator]();
  }
}

/** A send stream that applies `transform` to each chunk or, without one, drops the last byte of every chunk of 2+ bytes and every 2nd one-byte chunk. */
class LossySend implements SendStream {
  #count = 0;
  readonly inner: SendStream;
  readonly transform: ((data: Uint8Array) => Uint8Array) | null;
  constructor(inner: SendStream, transform: ((data: Uint8Array) => Uint8Array) | null = null) {
    this.inner = inner;
    this.transform = transform;
  }
  sendAll(data: Uint8Array): Promise<void> {
    if (this.transform) return this.inner.sendAll(this.transform(data));
    this.#count++;
    if (data.length === 1 && this.#count % 2 === 0) return this.inner.sendAll(new Uint8Array(0));
    return this.inner.sendAll(data.length > 1 ? data.subarray(0, data.length - 1) : data);
  }
  waitSendAllMightNotBlock(): Promise<void> {
    return this.inner.waitSendAllMightNotBlock();
  }
  aclose(): Promise<void> {
    return this.inner.aclose();
  }
}

/**
 * A send stream that keeps SEMANTICS.md's rule for cancelled sends over a
 * memory stream: once `sendAll` raised `Cancelled`, it refuses to send.
 */
class CancelBreaksSending implements SendStream {
  readonly inner: SendStream;
  #cancelled: Cancelled | null = null;
  #closed = false;
  constructor(inner: SendStream) {
    this.inner = inner;
  }
  async sendAll(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new ClosedResourceError("closed");
    if (this.#cancelled !== null) {
      throw new BrokenResourceError("a previous sendAll was cancelled", { cause: this.#cancelled });
    }
    try {
      await this.inner.sendAll(data);
    } catch (error) {
      if (error instanceof Cancelled) this.#cancelled = error;
      throw error;
    }
  }
  waitSendAllMightNotBlock(): Promise<void> {
    return this.inner.waitSendAllMightNotBlock();
  }
  aclose(): Promise<void> {
    this.#closed = true;
    return this.inner.aclose();
  }
}

describe("stream conformance suites pass on good streams", () => {
  test("checkOneWayStream: memoryStreamOneWayPair", async () => {
    await inRun(() => checkOneWayStream(async () => memoryStreamOneWayPair()));
  });

  test("checkOneWayStream: lockstepStreamOneWayPair (also as the clogged maker)", async () => {
    const maker = async () => lockstepStreamOneWayPair();
    await inRun(() => checkOneWayStream(maker, maker));
  });

  test("checkTwoWayStream: memoryStreamPair", async () => {
    await inRun(() => checkTwoWayStream(async () => memoryStreamPair()));
  });

  test("checkTwoWayStream: lockstepStreamPair (also as the clogged maker)", async () => {
    const maker = async () => lockstepStreamPair();
    await inRun(() => checkTwoWayStream(maker, maker));
  });

  test("checkHalfCloseableStream: memoryStreamPair", async () => {
    await inRun(() => checkHalfCloseableStream(async () => memoryStreamPair()));
  });

  test("checkCancelledSendAll: a lockstep stream that breaks sending once a sendAll is cancelled", async () => {
    await inRun(() =>
      checkCancelledSendAll(async () => {
        const [s, r] = lockstepStreamOneWayPair();
        return [new CancelBreaksSending(s), r];
      }),
    );
  });

  test("the suites also run on the real clock", async () => {
    await run(() => checkHalfCloseableStream(async () => memoryStreamPair()));
  });
});

describe("stream conformance suites fail on broken streams", () => {
  test("a stream that accepts receiveSome(0)", async () => {
    const error = await caught(
      inRun(() =>
        checkOneWayStream(async () => {
          const [s, r] = memoryStreamOneWayPair();
          return [s, new WrappedReceive(r, "acceptsZero")];
        }),
      ),
    );
    expect(error.message).toMatch(/receiveSome\(0\) and receiveSome\(-1\) throw RangeError/);
  });

  test("a stream that loses data", async () => {
    const error = await caught(
      inRun(() =>
        checkOneWayStream(async () => {
          const [s, r] = memoryStreamOneWayPair();
          return [new LossySend(s), r];
        }),
      ),
    );
    expect(error.message).toMatch(
      /checkOneWayStream: (data crosses|an empty sendAll|sendAll accepts a subarray)/,
    );
  });

  test("a two-way stream that loses data fails the duplex transfer or earlier", async () => {
    const error = await caught(
      inRun(() =>
        checkTwoWayStream(async () => {
          const [a, b] = memoryStreamPair();
          a.sendStream = new LossySend(a.sendStream) as never;
          return [a, b];
        }),
      ),
    );
    expect(error.message).toMatch(/^checkTwoWayStream/);
  });

  test("a two-way stream that corrupts only large chunks fails the duplex transfer", async () => {
    const error = await caught(
      inRun(() =>
        checkTwoWayStream(async () => {
          const [a, b] = memoryStreamPair();
          a.sendStream = new LossySend(a.sendStream, (data) =>
            data.length > 1000 ? data.map((x) => x ^ 1) : data,
          ) as never;
          return [a, b];
        }),
      ),
    );
    expect(error.message).toMatch(/1 MiB full-duplex transfer .*corrupted data/);
  });

  test("a stream that hangs instead of raising on close", async () => {
    const error = await caught(
      inRun(() =>
        checkOneWayStream(async () => {
          const [s, r] = memoryStreamOneWayPair();
          return [s, new WrappedReceive(r, "hangsOnClose")];
        }),
      ),
    );
    expect(error.message).toMatch(/ClosedResourceError — the stream hung/);
  });

  test("checkCancelledSendAll: memory streams do not claim the rule, and fail it", async () => {
    const error = await caught(
      inRun(() => checkCancelledSendAll(async () => lockstepStreamOneWayPair())),
    );
    expect(error.message).toMatch(
      /^checkCancelledSendAll: a sendAll cancelled while it blocks breaks sending/,
    );
  });
});
