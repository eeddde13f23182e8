/**
 * In-memory streams for tests: behaviour ported from Trio's
 * src/trio/testing/_memory_streams.py.
 */
import {
  BrokenResourceError,
  ClosedResourceError,
  checkpoint,
  lowlevel,
  WouldBlock,
} from "@weft/core";
import {
  ConflictDetector,
  checkMaxBytes,
  type ReceiveStream,
  receiveChunks,
  type SendStream,
  StapledStream,
} from "@weft/core/streams";
import { checkBytes, checkFunction, checkMethods, checkOptionsObject } from "@weft/core/validate";

/** A hook option: a function, or null / undefined for none. */
function checkHook(name: string, hook: unknown): void {
  if (hook !== undefined && hook !== null) checkFunction(name, hook);
}

/** An async hook called from a stream operation. */
export type AsyncHook = () => Promise<unknown>;
/** A synchronous hook called from `close` / `aclose`. */
export type SyncHook = () => unknown;

const EMPTY = new Uint8Array(0);

/**
 * An unbounded byte buffer. "Closing" it is like closing the send side of a
 * channel: `put` then throws `ClosedResourceError`, and the `get` variants
 * drain the buffer and then return an empty array.
 */
class UnboundedByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;
  #closed = false;
  readonly #lot = new lowlevel.ParkingLot("memory stream data");
  readonly #fetch = new ConflictDetector("another task is already fetching data");

  close(): void {
    this.#closed = true;
    this.#lot.unparkAll();
  }

  closeAndWipe(): void {
    this.#chunks = [];
    this.#length = 0;
    this.close();
  }

  put(data: Uint8Array): void {
    if (this.#closed) throw new ClosedResourceError("virtual connection closed");
    if (data.length > 0) {
      this.#chunks.push(data.slice());
      this.#length += data.length;
    }
    this.#lot.unparkAll();
  }

  #take(maxBytes: number | undefined): Uint8Array {
    const n = Math.min(maxBytes ?? this.#length, this.#length);
    if (n === 0) return new Uint8Array(0);
    const first = this.#chunks[0]!;
    if (first.length === n) {
      this.#chunks.shift();
      this.#length -= n;
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      this.#length -= n;
      return first.slice(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const want = n - filled;
      if (chunk.length <= want) {
        out.set(chunk, filled);
        filled += chunk.length;
        this.#chunks.shift();
      } else {
        out.set(chunk.subarray(0, want), filled);
        this.#chunks[0] = chunk.subarray(want);
        filled = n;
      }
    }
    this.#length -= n;
    return out;
  }

  getNowait(maxBytes?: number): Uint8Array {
    return this.#fetch.runSync(() => {
      checkMaxBytes(maxBytes);
      if (!this.#closed && this.#length === 0) throw new WouldBlock();
      return this.#take(maxBytes);
    });
  }

  get(maxBytes?: number): Promise<Uint8Array> {
    return this.#fetch.run(async () => {
      checkMaxBytes(maxBytes);
      // Woken by put (data) or close; a put of no bytes wakes us with nothing.
      if (!this.#closed && this.#length === 0) {
        do await this.#lot.park();
        while (!this.#closed && this.#length === 0);
      } else {
        await checkpoint();
      }
      return this.#take(maxBytes);
    });
  }
}

/** Options (hooks) of a `MemorySendStream`; the hooks are also assignable properties. */
export interface MemorySendStreamOptions {
  /** Called by `sendAll` after the data was buffered. */
  sendAllHook?: AsyncHook | null;
  /** Called by `waitSendAllMightNotBlock`. */
  waitSendAllMightNotBlockHook?: AsyncHook | null;
  /** Called by `close` / `aclose` after the stream was marked closed. */
  closeHook?: SyncHook | null;
}

/**
 * An in-memory `SendStream`: `sendAll` appends to an outgoing buffer (read it
 * with `getData` / `getDataNowait`) and then calls `sendAllHook`.
 */
export class MemorySendStream implements SendStream {
  readonly #conflict = new ConflictDetector("another task is using this stream");
  readonly #outgoing = new UnboundedByteQueue();
  /** Called by `sendAll` after the data was buffered. */
  sendAllHook: AsyncHook | null;
  /** Called by `waitSendAllMightNotBlock`. */
  waitSendAllMightNotBlockHook: AsyncHook | null;
  /** Called by `close` / `aclose` after the stream was marked closed. */
  closeHook: SyncHook | null;

  constructor(options: MemorySendStreamOptions = {}) {
    checkOptionsObject("options", options);
    checkHook("options.sendAllHook", options.sendAllHook);
    checkHook("options.waitSendAllMightNotBlockHook", options.waitSendAllMightNotBlockHook);
    checkHook("options.closeHook", options.closeHook);
    this.sendAllHook = options.sendAllHook ?? null;
    this.waitSendAllMightNotBlockHook = options.waitSendAllMightNotBlockHook ?? null;
    this.closeHook = options.closeHook ?? null;
  }

  /** Buffers `data`, then calls `sendAllHook`. */
  sendAll(data: Uint8Array): Promise<void> {
    return this.#conflict.run(async () => {
      checkBytes("data", data);
      // Two checkpoints give concurrent misuse more of a chance to show up.
      await checkpoint();
      await checkpoint();
      this.#outgoing.put(data);
      if (this.sendAllHook) await this.sendAllHook();
    });
  }

  /** Calls `waitSendAllMightNotBlockHook`, then returns. */
  waitSendAllMightNotBlock(): Promise<void> {
    return this.#conflict.run(async () => {
      await checkpoint();
      await checkpoint();
      this.#outgoing.put(EMPTY); // throws if closed
      if (this.waitSendAllMightNotBlockHook) await this.waitSendAllMightNotBlockHook();
    });
  }

  /** Marks the stream closed, then calls `closeHook`. */
  close(): void {
    this.#outgoing.close();
    if (this.closeHook) this.closeHook();
  }

  /** `close()`, then a checkpoint. */
  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  /** `aclose()`, for `await using stream = new MemorySendStream()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /**
   * Takes up to `maxBytes` (default: all) bytes from the buffer, waiting until
   * there is at least one; an empty array once the stream is closed and drained.
   */
  getData(maxBytes?: number): Promise<Uint8Array> {
    return this.#outgoing.get(maxBytes);
  }

  /** Like `getData` but never waits: `WouldBlock` if there is nothing to take. */
  getDataNowait(maxBytes?: number): Uint8Array {
    return this.#outgoing.getNowait(maxBytes);
  }
}

/** Options (hooks) of a `MemoryReceiveStream`; the hooks are also assignable properties. */
export interface MemoryReceiveStreamOptions {
  /** Called by `receiveSome` before it takes from the buffer. */
  receiveSomeHook?: AsyncHook | null;
  /** Called by `close` / `aclose` after the stream was marked closed. */
  closeHook?: SyncHook | null;
}

/**
 * An in-memory `ReceiveStream`: `putData` / `putEof` feed it, `receiveSome`
 * calls `receiveSomeHook` and then takes from the buffer.
 */
export class MemoryReceiveStream implements ReceiveStream {
  readonly #conflict = new ConflictDetector("another task is using this stream");
  readonly #incoming = new UnboundedByteQueue();
  #closed = false;
  /** Called by `receiveSome` before it takes data. */
  receiveSomeHook: AsyncHook | null;
  /** Called by `close` / `aclose` after the stream was marked closed. */
  closeHook: SyncHook | null;

  constructor(options: MemoryReceiveStreamOptions = {}) {
    checkOptionsObject("options", options);
    checkHook("options.receiveSomeHook", options.receiveSomeHook);
    checkHook("options.closeHook", options.closeHook);
    this.receiveSomeHook = options.receiveSomeHook ?? null;
    this.closeHook = options.closeHook ?? null;
  }

  /** Calls `receiveSomeHook`, then waits for data; an empty array at EOF. */
  receiveSome(maxBytes?: number): Promise<Uint8Array> {
    return this.#conflict.run(async () => {
      await checkpoint();
      await checkpoint();
      if (this.#closed) throw new ClosedResourceError();
      if (this.receiveSomeHook) await this.receiveSomeHook();
      // The queue's closed state is EOF; #closed is this stream being closed
      // (which also closes the queue to wake us), so check it again after.
      const data = await this.#incoming.get(maxBytes);
      if (this.#closed) throw new ClosedResourceError();
      return data;
    });
  }

  /** Discards buffered data and marks the stream closed, then calls `closeHook`. */
  close(): void {
    this.#closed = true;
    this.#incoming.closeAndWipe();
    if (this.closeHook) this.closeHook();
  }

  /** `close()`, then a checkpoint. */
  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  /** `aclose()`, for `await using stream = new MemoryReceiveStream()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Appends `data` to the buffer; `ClosedResourceError` after EOF or close. */
  putData(data: Uint8Array): void {
    checkBytes("data", data);
    this.#incoming.put(data);
  }

  /** Adds an end-of-file marker to the buffer. */
  putEof(): void {
    this.#incoming.close();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }
}

/**
 * Moves up to `maxBytes` (default: all) bytes from `send`'s buffer into
 * `receive`'s; passes EOF on once `send` is closed and drained. Returns true if
 * it moved anything (data or EOF), false if there was nothing to move. Throws
 * `BrokenResourceError` if `receive` was closed.
 */
export function memoryStreamPump(
  send: MemorySendStream,
  receive: MemoryReceiveStream,
  maxBytes?: number,
): boolean {
  checkMethods("send", send, ["getDataNowait"], "a MemorySendStream");
  checkMethods("receive", receive, ["putData", "putEof"], "a MemoryReceiveStream");
  let data: Uint8Array;
  try {
    data = send.getDataNowait(maxBytes);
  } catch (error) {
    if (error instanceof WouldBlock) return false;
    throw error;
  }
  try {
    if (data.length === 0) receive.putEof();
    else receive.putData(data);
  } catch (error) {
    if (error instanceof ClosedResourceError) {
      throw new BrokenResourceError("MemoryReceiveStream was closed");
    }
    throw error;
  }
  return true;
}

/**
 * A connected one-way stream with an unbounded buffer: the send stream's
 * `sendAllHook` and `closeHook` call `memoryStreamPump`, so data (and EOF) flows
 * on its own. Reassign the hooks to stall or trickle it.
 */
export function memoryStreamOneWayPair(): [MemorySendStream, MemoryReceiveStream] {
  const send = new MemorySendStream();
  const receive = new MemoryReceiveStream();
  const pump = (): void => {
    memoryStreamPump(send, receive);
  };
  send.sendAllHook = async () => pump();
  send.closeHook = pump;
  return [send, receive];
}

function staple<S extends SendStream, R extends ReceiveStream>(
  oneWayPair: () => [S, R],
): [StapledStream<S, R>, StapledStream<S, R>] {
  const [send1, receive1] = oneWayPair();
  const [send2, receive2] = oneWayPair();
  return [new StapledStream(send1, receive2), new StapledStream(send2, receive1)];
}

/** A connected two-way stream with unbounded buffers: two `memoryStreamOneWayPair`s stapled. */
export function memoryStreamPair(): [
  StapledStream<MemorySendStream, MemoryReceiveStream>,
  StapledStream<MemorySendStream, MemoryReceiveStream>,
] {
  return staple(memoryStreamOneWayPair);
}

/** The shared state of a lockstep one-way stream: no buffering at all. */
class LockstepByteQueue {
  data: Uint8Array = EMPTY;
  senderClosed = false;
  receiverClosed = false;
  #receiverWaiting = false;
  readonly #waiters = new lowlevel.ParkingLot("lockstep stream");
  readonly #send = new ConflictDetector("another task is already sending");
  readonly #receive = new ConflictDetector("another task is already receiving");

  #somethingHappened(): void {
    this.#waiters.unparkAll();
  }

  // Always wakes when one side is closed: everyone reacts to that.
  async #waitFor(condition: () => boolean): Promise<void> {
    while (!condition() && !this.senderClosed && !this.receiverClosed) {
      await this.#waiters.park();
    }
    await checkpoint();
  }

  closeSender(): void {
    this.senderClosed = true;
    this.#somethingHappened();
  }

  closeReceiver(): void {
    this.receiverClosed = true;
    this.#somethingHappened();
  }

  sendAll(data: Uint8Array): Promise<void> {
    return this.#send.run(async () => {
      checkBytes("data", data);
      if (this.senderClosed) throw new ClosedResourceError();
      if (this.receiverClosed) throw new BrokenResourceError();
      const merged = new Uint8Array(this.data.length + data.length);
      merged.set(this.data);
      merged.set(data, this.data.length);
      this.data = merged;
      this.#somethingHappened();
      await this.#waitFor(() => this.data.length === 0);
      if (this.senderClosed) throw new ClosedResourceError();
      if (this.data.length > 0 && this.receiverClosed) throw new BrokenResourceError();
    });
  }

  waitSendAllMightNotBlock(): Promise<void> {
    return this.#send.run(async () => {
      if (this.senderClosed) throw new ClosedResourceError();
      if (this.receiverClosed) {
        await checkpoint();
        return;
      }
      await this.#waitFor(() => this.#receiverWaiting);
      if (this.senderClosed) throw new ClosedResourceError();
    });
  }

  receiveSome(maxBytes?: number): Promise<Uint8Array> {
    return this.#receive.run(async () => {
      checkMaxBytes(maxBytes);
      if (this.receiverClosed) throw new ClosedResourceError();
      // Wake waitSendAllMightNotBlock, then wait for data.
      this.#receiverWaiting = true;
      this.#somethingHappened();
      try {
        await this.#waitFor(() => this.data.length > 0);
      } finally {
        this.#receiverWaiting = false;
      }
      if (this.receiverClosed) throw new ClosedResourceError();
      if (this.data.length > 0) {
        const n = Math.min(maxBytes ?? this.data.length, this.data.length);
        const got = this.data.slice(0, n);
        this.data = this.data.subarray(n);
        this.#somethingHappened();
        return got;
      }
      return new Uint8Array(0); // the sender closed: EOF
    });
  }
}

class LockstepSendStream implements SendStream {
  readonly #queue: LockstepByteQueue;
  constructor(queue: LockstepByteQueue) {
    this.#queue = queue;
  }
  sendAll(data: Uint8Array): Promise<void> {
    return this.#queue.sendAll(data);
  }
  waitSendAllMightNotBlock(): Promise<void> {
    return this.#queue.waitSendAllMightNotBlock();
  }
  /** Closes at once (synchronously). */
  close(): void {
    this.#queue.closeSender();
  }
  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  /** `aclose()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }
}

class LockstepReceiveStream implements ReceiveStream {
  readonly #queue: LockstepByteQueue;
  constructor(queue: LockstepByteQueue) {
    this.#queue = queue;
  }
  receiveSome(maxBytes?: number): Promise<Uint8Array> {
    return this.#queue.receiveSome(maxBytes);
  }
  /** Closes at once (synchronously). */
  close(): void {
    this.#queue.closeReceiver();
  }
  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  /** `aclose()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }
}

/**
 * A connected one-way stream with no buffering at all: each `sendAll` blocks
 * until `receiveSome` calls have taken all of its data. Both ends also have a
 * synchronous `close()`, and `[Symbol.asyncDispose]` for `await using`.
 */
export function lockstepStreamOneWayPair(): [
  SendStream & {
    /** Closes the sending end at once (synchronous). */
    close(): void;
    /** `aclose()`, for `await using`. */
    [Symbol.asyncDispose](): Promise<void>;
  },
  ReceiveStream & {
    /** Closes the receiving end at once (synchronous). */
    close(): void;
    /** `aclose()`, for `await using`. */
    [Symbol.asyncDispose](): Promise<void>;
  },
] {
  const queue = new LockstepByteQueue();
  return [new LockstepSendStream(queue), new LockstepReceiveStream(queue)];
}

/** A connected two-way lockstep stream: two `lockstepStreamOneWayPair`s stapled. */
export function lockstepStreamPair(): [
  StapledStream<SendStream, ReceiveStream>,
  StapledStream<SendStream, ReceiveStream>,
] {
  return staple(lockstepStreamOneWayPair);
}
