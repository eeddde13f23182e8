/** Receiving POSIX signals (SIGHUP, SIGUSR1, SIGINT …) in a task. */
import { isMainThread } from "node:worker_threads";
import { BusyResourceError, ClosedResourceError, UsageError } from "../errors/errors.ts";
import { cancelPointOf, cancelShieldedCheckpoint, unlessRefused } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import { Abort, type WaitOptions } from "../kernel/kernel.ts";
import type { TaskImpl } from "../kernel/task.ts";
import { receiveIterator } from "../sync/receive-iterator.ts";
import { type RunReceiver, RunSignals } from "./run-signals.ts";
import { listenForSignal } from "./signal-hub.ts";
import { checkCatchableSignal } from "./signal-names.ts";

/**
 * Signals delivered to the process, received one at a time. Made by
 * {@link openSignalReceiver}; see there.
 */
export interface SignalReceiver extends AsyncIterable<NodeJS.Signals>, Disposable {
  /** The signals it listens for (without repeats, in the order given). */
  readonly signals: readonly NodeJS.Signals[];
  /** True once closed (by `close()`, `using`, or the end of the run). */
  readonly closed: boolean;
  /**
   * Waits for the next pending signal and takes it. A checkpoint. Throws
   * `ClosedResourceError` if the receiver is (or gets) closed,
   * `BusyResourceError` if another task is already receiving from it. A
   * cancelled `receive` took nothing.
   */
  receive(): Promise<NodeJS.Signals>;
  /**
   * Stops listening, at once (synchronous, idempotent). Signals it received
   * but never handed out are not lost: each goes where it would have gone
   * without the receiver (the run's Ctrl-C handling, or Node's default action
   * if nothing else in the process listens for it).
   */
  close(): void;
  /** `receive()` forever: `for await (const signal of receiver)`. Leaving the loop does not close it. */
  [Symbol.asyncIterator](): AsyncIterableIterator<NodeJS.Signals>;
  /** Closes it: `using receiver = openSignalReceiver(...)`. */
  [Symbol.dispose](): void;
}

const WAITING: WaitOptions = { waitingFor: "SignalReceiver.receive", external: true };
/** The longest delay Node's timers take (about 24.8 days). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;
function doNothing(): void {}
const neverEnds = (): boolean => false;

class SignalReceiverImpl implements SignalReceiver, RunReceiver {
  readonly signals: readonly NodeJS.Signals[];
  /**
   * Arrived and not yet received, each at most once, in order of first
   * arrival (Trio's coalescing): a signal says "this happened", not how often,
   * and one that keeps coming cannot starve another.
   */
  readonly #pending = new Set<NodeJS.Signals>();
  readonly #owner: RunSignals;
  readonly #unsubscribe: (() => void)[];
  #waiter: TaskImpl | null = null;
  #receiving = false;
  #closed = false;

  constructor(signals: readonly NodeJS.Signals[], owner: RunSignals) {
    this.signals = Object.freeze([...signals]);
    this.#owner = owner;
    const onSignal = (signal: NodeJS.Signals) => this.#arrived(signal);
    this.#unsubscribe = [];
    for (const signal of this.signals) {
      try {
        this.#unsubscribe.push(listenForSignal(signal, onSignal));
      } catch (error) {
        for (const stop of this.#unsubscribe) stop();
        // Node refuses some signals on some platforms (most of them on Windows).
        throw new RangeError(`signals: Node cannot listen for ${signal} on this platform`, {
          cause: error,
        });
      }
    }
    owner.addReceiver(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  receive(): Promise<NodeJS.Signals> {
    return unlessRefused("SignalReceiver.receive()", () => this.#receive());
  }

  async #receive(): Promise<NodeJS.Signals> {
    const task = requireTask("SignalReceiver.receive()");
    if (this.#closed) throw new ClosedResourceError("this signal receiver is closed");
    if (this.#receiving) {
      throw new BusyResourceError("another task is already receiving from this signal receiver");
    }
    const cancelled = cancelPointOf(task);
    if (cancelled !== null) return cancelled;
    this.#receiving = true;
    try {
      if (this.#pending.size === 0) {
        this.#waiter = task;
        // Node's signal listeners do not keep the process alive; a task that
        // waits for a signal does (a daemon waiting for SIGTERM must not exit).
        const keepAlive = setInterval(doNothing, LONGEST_TIMER_MS);
        try {
          await task.kernel.park(task, this.#abortWait, WAITING);
        } finally {
          clearInterval(keepAlive);
        }
      } else {
        // Already pending: still a schedule point (the cancel point was above).
        await cancelShieldedCheckpoint();
      }
    } finally {
      this.#receiving = false;
    }
    const first = this.#pending.values().next();
    // Nothing pending after the wait: `close()` came first and passed it on.
    if (first.done === true) throw new ClosedResourceError("the signal receiver was closed");
    this.#pending.delete(first.value);
    return first.value;
  }

  /** A cancelled wait took nothing: forget the waiter, leave the pending signals. */
  readonly #abortWait = (): Abort => {
    this.#waiter = null;
    return Abort.SUCCEEDED;
  };

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#unsubscribe) stop();
    const pending = [...this.#pending];
    this.#pending.clear();
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.kernel.reschedule(
        waiter,
        true,
        new ClosedResourceError("the signal receiver was closed while receiving"),
      );
    }
    this.#owner.receiverClosed(this, pending);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Each `next()` is a `receive()` by its caller (two tasks at once: `BusyResourceError`). */
  [Symbol.asyncIterator](): AsyncIterableIterator<NodeJS.Signals> {
    return receiveIterator(() => this.receive(), neverEnds);
  }

  #arrived(signal: NodeJS.Signals): void {
    this.#pending.add(signal);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.kernel.reschedule(waiter, false, undefined);
    }
  }
}

/**
 * Starts listening for `signals` and returns a receiver of them: an async
 * iterable whose every step waits for the next one. Must be called inside a
 * run; the receiver belongs to that run and is closed when the run ends, at
 * the latest — close it sooner with `using` or `close()`.
 *
 * Signals are coalesced, as in Trio: while one waits to be received, more of
 * the same kind are not queued; distinct kinds come in order of first arrival.
 *
 * A receiver for SIGINT or SIGTERM replaces the run's Ctrl-C handling for
 * that signal while it is open (see the `handleSignals` option of `run`).
 *
 * ```ts
 * using reloads = openSignalReceiver("SIGHUP");
 * for await (const _ of reloads) await reloadConfiguration();
 * ```
 *
 * Throws a `TypeError` if no signal is given or one is not a string, a
 * `RangeError` if one is not a signal of this platform or cannot be caught
 * (SIGKILL, SIGSTOP), and an `Error` in a worker thread (Node delivers
 * signals to the main thread only).
 */
export function openSignalReceiver(...signals: NodeJS.Signals[]): SignalReceiver {
  if (signals.length === 0) {
    throw new TypeError('openSignalReceiver() needs at least one signal, such as "SIGHUP"');
  }
  for (const [i, signal] of signals.entries()) checkCatchableSignal(`signals[${i}]`, signal);
  const task = requireTask("openSignalReceiver()");
  if (!isMainThread) {
    throw new UsageError(
      "openSignalReceiver() cannot be used in a worker thread: Node delivers signals to the main thread only",
    );
  }
  return new SignalReceiverImpl([...new Set(signals)], RunSignals.of(task.kernel));
}
