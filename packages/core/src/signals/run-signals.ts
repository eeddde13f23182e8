/**
 * What one run knows of signals: its open signal receivers (closed when the
 * run ends, at the latest) and, when its `handleSignals` option is on, its
 * Ctrl-C handling — which SIGINT or SIGTERM interrupted it, if any.
 */
import { isMainThread } from "node:worker_threads";
import type { Kernel } from "../kernel/kernel.ts";
import { type TaskImpl, TaskState } from "../kernel/task.ts";
import {
  deliverInterrupt,
  handleInterrupts,
  INTERRUPT_SIGNALS,
  type InterruptibleRun,
} from "./interrupt-handling.ts";
import { raiseIfUnheard } from "./signal-hub.ts";

/** A signal receiver, as its run sees it. */
export interface RunReceiver {
  readonly signals: readonly NodeJS.Signals[];
  close(): void;
}

/** At most this many tasks are named in the message of a forced exit. */
const TASKS_NAMED = 4;

const ofKernel = new WeakMap<Kernel, RunSignals>();

export class RunSignals implements InterruptibleRun {
  interruption: NodeJS.Signals | null = null;
  readonly #kernel: Kernel;
  readonly #receivers = new Set<RunReceiver>();
  #stopInterrupts: (() => void) | null = null;
  /** Set by `finish`: no task is left to cancel, nothing is shutting down. */
  #finished = false;

  private constructor(kernel: Kernel) {
    this.#kernel = kernel;
  }

  /** The signal state of `kernel`'s run (created on first use). */
  static of(kernel: Kernel): RunSignals {
    let signals = ofKernel.get(kernel);
    if (signals === undefined) {
      signals = new RunSignals(kernel);
      ofKernel.set(kernel, signals);
    }
    return signals;
  }

  /**
   * Turns on Ctrl-C handling (the run's `handleSignals` option). Not in a
   * worker thread: Node delivers signals to the main thread only, and a
   * worker's run must not keep a listener that never fires.
   */
  handleInterrupts(): void {
    if (!isMainThread || this.#stopInterrupts !== null) return;
    this.#stopInterrupts = handleInterrupts(this);
  }

  receives(signal: NodeJS.Signals): boolean {
    for (const receiver of this.#receivers) if (receiver.signals.includes(signal)) return true;
    return false;
  }

  interrupt(signal: NodeJS.Signals): void {
    this.interruption ??= signal;
    // The system nursery holds every task: cancelling it is the run-wide
    // cancellation (a no-op once the run is shutting down anyway).
    this.#kernel.systemNursery?.cancelScope.cancelWithReason({ source: "signal", reason: signal });
  }

  describeLiveTasks(): string {
    const root = this.#kernel.rootTask;
    if (root === null) return "";
    const leaves: string[] = [];
    collectLiveLeaves(root, leaves);
    const named = leaves.slice(0, TASKS_NAMED).join(", ");
    return leaves.length > TASKS_NAMED ? `${named} and ${leaves.length - TASKS_NAMED} more` : named;
  }

  addReceiver(receiver: RunReceiver): void {
    this.#receivers.add(receiver);
  }

  /**
   * `receiver` closed holding `pending` signals it never handed out. They are
   * not lost (Trio does the same): each goes where it would have gone without
   * the receiver — to the run's Ctrl-C handling, or, if nothing in the process
   * listens for it any more, to Node's default action. Other listeners
   * already heard it when it arrived.
   */
  receiverClosed(receiver: RunReceiver, pending: readonly NodeJS.Signals[]): void {
    this.#receivers.delete(receiver);
    for (const signal of pending) {
      if (this.#stopInterrupts !== null && INTERRUPT_SIGNALS.includes(signal)) {
        if (this.receives(signal)) continue; // another receiver of the run heard it
        // Once the run is over, its shutdown is done: a second signal has
        // nothing left to cut short.
        if (this.#finished) this.interruption ??= signal;
        else deliverInterrupt(signal, [this]);
      } else {
        raiseIfUnheard(signal);
      }
    }
  }

  /**
   * The run is over: closes its receivers, stops its Ctrl-C handling, and
   * returns the signal that interrupted it, if any.
   */
  finish(): NodeJS.Signals | null {
    this.#finished = true;
    // Receivers first: a Ctrl-C one of them held back is handled as the
    // run's interruption (Trio raises KeyboardInterrupt in the same case).
    for (const receiver of [...this.#receivers]) receiver.close();
    this.#stopInterrupts?.();
    this.#stopInterrupts = null;
    ofKernel.delete(this.#kernel);
    return this.interruption;
  }
}

/** Appends `"name" (what it does)` for each live task under `task` that has no live child. */
function collectLiveLeaves(task: TaskImpl, into: string[]): void {
  let hasLiveChild = false;
  for (const nursery of task.childNurseries) {
    for (const child of nursery.childTasks) {
      const impl = child as TaskImpl;
      if (impl.state === TaskState.DONE) continue;
      hasLiveChild = true;
      collectLiveLeaves(impl, into);
    }
  }
  if (hasLiveChild || task.state === TaskState.DONE) return;
  const waitingFor = task.waitOptions?.waitingFor;
  const what = typeof waitingFor === "function" ? waitingFor() : waitingFor;
  into.push(
    `${JSON.stringify(task.name)}${task.state === TaskState.PARKED && what !== undefined ? ` in ${what}` : ""}`,
  );
}
