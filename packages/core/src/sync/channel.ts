import {
  BrokenResourceError,
  ClosedResourceError,
  EndOfChannel,
  WouldBlock,
} from "../errors/errors.ts";
import { checkCount } from "../errors/validate.ts";
import { cancelPointOf, checkpoint, unlessRefused, yieldWith } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import { parkTask, wake, wakeWithError } from "../kernel/fast-path.ts";
import { Abort, type WaitOptions } from "../kernel/kernel.ts";
import type { KernelAbortFn, TaskImpl } from "../kernel/task.ts";
import { Deque } from "./deque.ts";
import { receiveIterator } from "./receive-iterator.ts";

/** A snapshot of a memory channel's state (both ends share it), for debugging and monitoring. */
export interface ChannelStatistics {
  /** How many values are buffered. */
  currentBufferUsed: number;
  /** The buffer's capacity (0: every send waits for a receiver; `Infinity`: unbounded). */
  maxBufferSize: number;
  /** How many send handles (clones included) are open. */
  openSendChannels: number;
  /** How many receive handles (clones included) are open. */
  openReceiveChannels: number;
  /** How many tasks wait in `send()`. */
  tasksWaitingSend: number;
  /** How many tasks wait in `receive()`. */
  tasksWaitingReceive: number;
  /** The most items the buffer has held at once; never decreases. */
  peakBufferUsed: number;
}

/** For waits rescheduled before anything could cancel them. */

const SEND_WAIT = { waitingFor: "MemorySendChannel.send (buffer full, no receiver)" };
const RECEIVE_WAIT = { waitingFor: "MemoryReceiveChannel.receive (channel empty)" };

/** Returned by the internal non-throwing receive when it would block (T may be undefined). */
const isEndOfChannel = (error: unknown): boolean => error instanceof EndOfChannel;

const NOTHING: unique symbol = Symbol("weft.channel.nothing");

/** What the send and receive handles of one channel share. */
/** A task blocked in send or receive: a node of its channel's FIFO list. */
interface Waiter<T> {
  readonly task: TaskImpl;
  /** The list it waits in (for the shared abort callback). */
  readonly list: WaiterList<T>;
  /** The value a sender wants to send. */
  readonly value: T | undefined;
  /** The handle it blocked on (closing that handle wakes it). */
  readonly handle: object;
  prev: Waiter<T> | null;
  next: Waiter<T> | null;
}

/**
 * A FIFO list of blocked tasks with O(1) removal. A linked list rather than a
 * Map: a queue that keeps going between 0 and 1 entries churns a hash table.
 */
/** Cancelled, a waiter leaves its queue: nothing was sent or taken (the node is the task's waitData). */
const abortChannelWait: KernelAbortFn = (_raiseCancel, task) => {
  const waiter = task.waitData as Waiter<unknown>;
  waiter.list.remove(waiter);
  return Abort.SUCCEEDED;
};

class WaiterList<T> {
  head: Waiter<T> | null = null;
  tail: Waiter<T> | null = null;
  size = 0;

  append(task: TaskImpl, value: T | undefined, handle: object): Waiter<T> {
    const waiter: Waiter<T> = { task, list: this, value, handle, prev: this.tail, next: null };
    if (this.tail !== null) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
    this.size++;
    return waiter;
  }

  remove(waiter: Waiter<T>): void {
    if (waiter.prev !== null) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next !== null) waiter.next.prev = waiter.prev;
    else this.tail = waiter.prev;
    waiter.prev = waiter.next = null;
    this.size--;
  }

  /** Blocks `task` (the caller) in this list until a counterpart takes it out and reschedules it. */
  wait(
    task: TaskImpl,
    value: T | undefined,
    handle: object,
    options: WaitOptions,
  ): Promise<unknown> {
    // The caller passed its cancel point (and was not refused) in this step:
    // the park below takes place, and its abort finds the node here.
    task.waitData = this.append(task, value, handle);
    return parkTask(task, abortChannelWait, options);
  }

  /** Removes and returns the first waiter, if any. */
  shift(): Waiter<T> | null {
    const first = this.head;
    if (first !== null) this.remove(first);
    return first;
  }

  /** Wakes every waiter (only those blocked on `handle`, if given) with a fresh error each. */
  failAll(makeError: () => Error, handle?: object): void {
    for (const waiter of this.takeAll(handle)) wakeWithError(waiter.task, makeError());
  }

  /** Removes and returns every waiter (only those blocked on `handle`, if given). */
  takeAll(handle?: object): Waiter<T>[] {
    const taken: Waiter<T>[] = [];
    for (let w = this.head; w !== null; ) {
      const next = w.next;
      if (handle === undefined || w.handle === handle) {
        this.remove(w);
        taken.push(w);
      }
      w = next;
    }
    return taken;
  }
}

/** @internal */
export class ChannelState<T> {
  readonly buffer = new Deque<T>();
  readonly maxBufferSize: number;
  openSendChannels = 1;
  openReceiveChannels = 1;
  /** Blocked senders, FIFO, with the value each wants to send and the handle it used. */
  readonly senders = new WaiterList<T>();
  /** Blocked receivers, FIFO, with the handle each used. */
  readonly receivers = new WaiterList<T>();
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
      tasksWaitingSend: this.senders.size,
      tasksWaitingReceive: this.receivers.size,
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
      const task = requireTask("MemorySendChannel.send()");
      const cancelled = cancelPointOf(task); // cancelled, it did nothing
      if (cancelled !== null) return cancelled;
      if (this.#trySend(value)) return yieldWith(task, undefined);
      return this.#state.senders.wait(task, value, this, SEND_WAIT) as Promise<void>;
    } catch (error) {
      return Promise.reject(error);
    }
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
    // Wake only the tasks blocked on this handle; clones' tasks stay blocked.
    state.senders.failAll(
      () => new ClosedResourceError("the send channel was closed while sending"),
      this,
    );
    if (--state.openSendChannels === 0) {
      // No more values can come: waiting receivers see the end of the channel.
      state.receivers.failAll(() => new EndOfChannel());
    }
  }

  /** Closes this handle, then checkpoints. */
  aclose(): Promise<void> {
    return unlessRefused("MemorySendChannel.aclose()", () => {
      this.close();
      return checkpoint();
    });
  }

  /** Closes the handle at the end of a `using` block (`close()`). */
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

  /** A snapshot of the channel's state. */
  statistics(): ChannelStatistics {
    return this.#state.statistics();
  }

  #trySend(value: T): boolean {
    if (this.#closed) throw new ClosedResourceError("this send channel is closed");
    const state = this.#state;
    if (state.openReceiveChannels === 0) {
      throw new BrokenResourceError("every receive channel is closed: nobody will receive this");
    }
    const receiver = state.receivers.shift();
    if (receiver !== null) {
      wake(receiver.task, value);
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
      const task = requireTask("MemoryReceiveChannel.receive()");
      const cancelled = cancelPointOf(task); // cancelled, it did nothing
      if (cancelled !== null) return cancelled;
      const value = this.#tryReceive();
      if (value === NOTHING)
        return this.#state.receivers.wait(task, undefined, this, RECEIVE_WAIT) as Promise<T>;
      // A schedule point that hands the value over.
      return yieldWith(task, value);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A new receive handle on the same channel: values are shared among the handles, each going to
   * one receiver; the channel is closed for senders when all receive handles are closed.
   */
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
    state.receivers.failAll(
      () => new ClosedResourceError("the receive channel was closed while receiving"),
      this,
    );
    if (--state.openReceiveChannels === 0) {
      // Nobody will ever receive: blocked senders fail, and the buffer is dropped.
      state.senders.failAll(() => new BrokenResourceError("every receive channel was closed"));
      state.buffer.clear();
    }
  }

  /** Closes this handle, then checkpoints. */
  aclose(): Promise<void> {
    return unlessRefused("MemoryReceiveChannel.aclose()", () => {
      this.close();
      return checkpoint();
    });
  }

  /** Closes the handle at the end of a `using` block (`close()`). */
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

  /** A snapshot of the channel's state. */
  statistics(): ChannelStatistics {
    return this.#state.statistics();
  }

  /**
   * Receives until the channel ends (`EndOfChannel`); other errors propagate.
   * Each `next()` is a `receive()` by its caller, so tasks may share one
   * iterator.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return receiveIterator(() => this.receive(), isEndOfChannel);
  }

  #tryReceive(): T | typeof NOTHING {
    if (this.#closed) throw new ClosedResourceError("this receive channel is closed");
    const state = this.#state;
    const sender = state.senders.shift();
    if (sender !== null) {
      // A blocked sender's value joins the buffer, and the sender is done.
      const value = sender.value as T;
      wake(sender.task);
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
  checkCount("maxBufferSize", maxBufferSize, { infinity: true });
  const state = new ChannelState<T>(maxBufferSize);
  return [new MemorySendChannel(state), new MemoryReceiveChannel(state)];
}
