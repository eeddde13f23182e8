import { Err, Ok } from "ts-results-es";
import { cancelShieldedCheckpoint, checkpoint } from "./checkpoints.ts";
import { Deque } from "./deque.ts";
import { BrokenResourceError, ClosedResourceError, EndOfChannel, WouldBlock } from "./errors.ts";
import {
  Abort,
  currentTask,
  raiseIfCancelled,
  reschedule,
  waitTaskRescheduled,
} from "./lowlevel.ts";
import type { Task } from "./task.ts";

export interface ChannelStatistics {
  currentBufferUsed: number;
  maxBufferSize: number;
  openSendChannels: number;
  openReceiveChannels: number;
  tasksWaitingSend: number;
  tasksWaitingReceive: number;
  /** The most items the buffer has held at once; never decreases. */
  peakBufferUsed: number;
}

/** For waits rescheduled before anything could cancel them. */
const abortNever = (): Abort => Abort.FAILED;

const SEND_WAIT = { waitingFor: "MemorySendChannel.send (buffer full, no receiver)" };
const RECEIVE_WAIT = { waitingFor: "MemoryReceiveChannel.receive (channel empty)" };

/** Returned by the internal non-throwing receive when it would block (T may be undefined). */
const NOTHING: unique symbol = Symbol("weft.channel.nothing");

/** What the send and receive handles of one channel share. */
/** @internal */
export class ChannelState<T> {
  readonly buffer = new Deque<T>();
  readonly maxBufferSize: number;
  openSendChannels = 1;
  openReceiveChannels = 1;
  /** Blocked senders, FIFO, with the value each wants to send and the handle it used. */
  readonly sendTasks = new Map<Task, { value: T; handle: MemorySendChannel<T> }>();
  /** Blocked receivers, FIFO, with the handle each used. */
  readonly receiveTasks = new Map<Task, MemoryReceiveChannel<T>>();
  peakBufferUsed = 0;

  constructor(maxBufferSize: number) {
    this.maxBufferSize = maxBufferSize;
  }

  pushBuffer(value: T): void {
    this.buffer.push(value);
    if (this.buffer.length > this.peakBufferUsed) this.peakBufferUsed = this.buffer.length;
  }

  statistics(): ChannelStatistics {
    return {
      currentBufferUsed: this.buffer.length,
      maxBufferSize: this.maxBufferSize,
      openSendChannels: this.openSendChannels,
      openReceiveChannels: this.openReceiveChannels,
      tasksWaitingSend: this.sendTasks.size,
      tasksWaitingReceive: this.receiveTasks.size,
      peakBufferUsed: this.peakBufferUsed,
    };
  }
}

/**
 * The sending end of a memory channel. Each handle is closed separately;
 * receivers see `EndOfChannel` once every send handle (clones included) is closed.
 */
export class MemorySendChannel<T> implements AsyncDisposable, Disposable {
  readonly #state: ChannelState<T>;
  #closed = false;
  /** Tasks blocked in send() on this handle: closing it wakes them. */
  readonly #tasks = new Set<Task>();

  /** @internal Use `openMemoryChannel`. */
  constructor(state: ChannelState<T>) {
    this.#state = state;
  }

  /**
   * Sends without blocking: hands the value to a waiting receiver, or buffers
   * it; throws `WouldBlock` if the buffer is full, `BrokenResourceError` if no
   * receive handle is open, `ClosedResourceError` if this handle is closed.
   */
  sendNowait(value: T): void {
    if (!this.#trySend(value)) throw new WouldBlock("the channel's buffer is full");
  }

  /**
   * Sends, waiting while the buffer is full. A checkpoint; cancelled, nothing
   * was sent. (Not an `async` function: it returns the wait it ends in, which
   * saves microtask hops on the hot path of message passing.)
   */
  send(value: T): Promise<void> {
    try {
      raiseIfCancelled("MemorySendChannel.send()"); // a cancel point first: cancelled means nothing was sent
      if (this.#trySend(value)) return cancelShieldedCheckpoint();
      return this.#waitToSend(value);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #waitToSend(value: T): Promise<void> {
    const task = currentTask();
    const state = this.#state;
    this.#tasks.add(task);
    state.sendTasks.set(task, { value, handle: this });
    return waitTaskRescheduled(() => {
      this.#tasks.delete(task);
      state.sendTasks.delete(task);
      return Abort.SUCCEEDED;
    }, SEND_WAIT) as Promise<void>;
  }

  /** A new send handle on the same channel (the channel ends when all are closed). */
  clone(): MemorySendChannel<T> {
    if (this.#closed) throw new ClosedResourceError("this send channel is closed");
    this.#state.openSendChannels++;
    return new MemorySendChannel(this.#state);
  }

  /** Closes this handle. Synchronous; not a checkpoint. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const state = this.#state;
    for (const task of this.#tasks) {
      state.sendTasks.delete(task);
      reschedule(task, Err(new ClosedResourceError("the send channel was closed while sending")));
    }
    this.#tasks.clear();
    if (--state.openSendChannels === 0) {
      // No more values can come: waiting receivers see the end of the channel.
      for (const [task, handle] of state.receiveTasks) {
        handle.forget(task);
        reschedule(task, Err(new EndOfChannel()));
      }
      state.receiveTasks.clear();
    }
  }

  /** Closes this handle, then checkpoints. */
  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Closes the handle at the end of an `await using` block. Unlike `aclose()`
   * this is not a checkpoint, so leaving the block never throws `Cancelled`.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  statistics(): ChannelStatistics {
    return this.#state.statistics();
  }

  /** @internal A blocked sender on this handle was served by a receiver. */
  forget(task: Task): void {
    this.#tasks.delete(task);
  }

  #trySend(value: T): boolean {
    if (this.#closed) throw new ClosedResourceError("this send channel is closed");
    const state = this.#state;
    if (state.openReceiveChannels === 0) {
      throw new BrokenResourceError("every receive channel is closed: nobody will receive this");
    }
    const waiting = state.receiveTasks.size > 0 ? state.receiveTasks.entries().next() : null;
    if (waiting !== null && !waiting.done) {
      const [task, handle] = waiting.value;
      state.receiveTasks.delete(task);
      handle.forget(task);
      reschedule(task, Ok(value));
      return true;
    }
    if (state.buffer.length < state.maxBufferSize) {
      state.pushBuffer(value);
      return true;
    }
    return false;
  }
}

/**
 * The receiving end of a memory channel; also an async iterable that ends at
 * `EndOfChannel`.
 */
export class MemoryReceiveChannel<T> implements AsyncIterable<T>, AsyncDisposable, Disposable {
  readonly #state: ChannelState<T>;
  #closed = false;
  readonly #tasks = new Set<Task>();

  /** @internal Use `openMemoryChannel`. */
  constructor(state: ChannelState<T>) {
    this.#state = state;
  }

  /**
   * Receives without blocking: takes from the buffer (moving a blocked
   * sender's value in first); throws `WouldBlock` if there is nothing,
   * `EndOfChannel` if nothing more will come, `ClosedResourceError` if this
   * handle is closed.
   */
  receiveNowait(): T {
    const value = this.#tryReceive();
    if (value === NOTHING) throw new WouldBlock("the channel is empty");
    return value;
  }

  /** Receives, waiting while the channel is empty. A checkpoint; cancelled, nothing was taken. */
  receive(): Promise<T> {
    try {
      raiseIfCancelled("MemoryReceiveChannel.receive()");
      const value = this.#tryReceive();
      if (value === NOTHING) return this.#waitToReceive();
      // A schedule point that hands the value over: block, and be woken at once with it.
      const wait = waitTaskRescheduled(abortNever, RECEIVE_WAIT) as Promise<T>;
      reschedule(currentTask(), Ok(value));
      return wait;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #waitToReceive(): Promise<T> {
    const task = currentTask();
    const state = this.#state;
    this.#tasks.add(task);
    state.receiveTasks.set(task, this);
    return waitTaskRescheduled(() => {
      this.#tasks.delete(task);
      state.receiveTasks.delete(task);
      return Abort.SUCCEEDED;
    }, RECEIVE_WAIT) as Promise<T>;
  }

  clone(): MemoryReceiveChannel<T> {
    if (this.#closed) throw new ClosedResourceError("this receive channel is closed");
    this.#state.openReceiveChannels++;
    return new MemoryReceiveChannel(this.#state);
  }

  /** Closes this handle. Synchronous; not a checkpoint. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const state = this.#state;
    for (const task of this.#tasks) {
      state.receiveTasks.delete(task);
      reschedule(
        task,
        Err(new ClosedResourceError("the receive channel was closed while receiving")),
      );
    }
    this.#tasks.clear();
    if (--state.openReceiveChannels === 0) {
      // Nobody will ever receive: blocked senders fail, and the buffer is dropped.
      for (const [task, { handle }] of state.sendTasks) {
        handle.forget(task);
        reschedule(task, Err(new BrokenResourceError("every receive channel was closed")));
      }
      state.sendTasks.clear();
      state.buffer.clear();
    }
  }

  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Closes the handle at the end of an `await using` block. Unlike `aclose()`
   * this is not a checkpoint, so leaving the block never throws `Cancelled`.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  statistics(): ChannelStatistics {
    return this.#state.statistics();
  }

  /** Receives until the channel ends (`EndOfChannel`); other errors propagate. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let value: T;
      try {
        value = await this.receive();
      } catch (error) {
        if (error instanceof EndOfChannel) return;
        throw error;
      }
      yield value;
    }
  }

  /** @internal A blocked receiver on this handle was served by a sender. */
  forget(task: Task): void {
    this.#tasks.delete(task);
  }

  #tryReceive(): T | typeof NOTHING {
    if (this.#closed) throw new ClosedResourceError("this receive channel is closed");
    const state = this.#state;
    const waiting = state.sendTasks.size > 0 ? state.sendTasks.entries().next() : null;
    if (waiting !== null && !waiting.done) {
      // A blocked sender's value joins the buffer, and the sender is done.
      const [task, { value, handle }] = waiting.value;
      state.sendTasks.delete(task);
      handle.forget(task);
      reschedule(task);
      // Its value joins the back of the buffer; we take the front (without the
      // buffer ever holding more than its size, for peakBufferUsed).
      if (state.buffer.length === 0) return value;
      const first = state.buffer.shift() as T;
      state.pushBuffer(value);
      return first;
    }
    if (state.buffer.length > 0) return state.buffer.shift() as T;
    if (state.openSendChannels === 0) throw new EndOfChannel();
    return NOTHING;
  }
}

/**
 * Opens a channel for passing values between tasks: `[send, receive]`.
 * `maxBufferSize` is how many values may wait in it: 0 makes every send wait
 * for a receiver; `Infinity` never blocks senders.
 *
 * ```ts
 * const [send, receive] = openMemoryChannel<string>(0);
 * nursery.startSoon(async () => { await send.send("hi"); send.close(); });
 * for await (const message of receive) console.log(message);
 * ```
 */
export function openMemoryChannel<T>(
  maxBufferSize: number,
): [MemorySendChannel<T>, MemoryReceiveChannel<T>] {
  if (typeof maxBufferSize !== "number") {
    throw new TypeError(`maxBufferSize must be a number, got ${typeof maxBufferSize}`);
  }
  if (!(maxBufferSize >= 0) || (!Number.isInteger(maxBufferSize) && maxBufferSize !== Infinity)) {
    throw new RangeError(`maxBufferSize must be an integer >= 0 or Infinity, got ${maxBufferSize}`);
  }
  const state = new ChannelState<T>(maxBufferSize);
  return [new MemorySendChannel(state), new MemoryReceiveChannel(state)];
}
