/**
 * Ctrl-C handling, process-wide: while runs with `handleSignals` are active,
 * the first SIGINT or SIGTERM cancels every one of them, and a second one,
 * arriving while an interrupted run is still shutting down, ends the process
 * at once.
 *
 * Every active run is interrupted because each one is a program running in
 * this process: the user who pressed Ctrl-C wants the process to stop, not
 * one run of it.
 */
import { listenForSignal, stopListeningForSignal } from "./signal-hub.ts";
import { signalNumber } from "./signal-names.ts";

/** The signals that interrupt a run whose `handleSignals` option is on. */
export const INTERRUPT_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(["SIGINT", "SIGTERM"]);

/** A run, as Ctrl-C handling sees it. */
export interface InterruptibleRun {
  /** The signal that first interrupted the run, or `null`. */
  readonly interruption: NodeJS.Signals | null;
  /** Whether an open receiver of the run takes `signal` instead (a receiver replaces Ctrl-C handling). */
  receives(signal: NodeJS.Signals): boolean;
  /** Records `signal` as the interruption (if it is the first) and cancels the whole run. */
  interrupt(signal: NodeJS.Signals): void;
  /** The run's tasks that are still running, in a few words (empty if none). */
  describeLiveTasks(): string;
}

const runs = new Set<InterruptibleRun>();
let unsubscribe: (() => void)[] = [];

function onProcessSignal(signal: NodeJS.Signals): void {
  deliverInterrupt(signal, runs);
}

/**
 * Makes SIGINT and SIGTERM interrupt `run` until the returned function is
 * called (calling it again does nothing).
 */
export function handleInterrupts(run: InterruptibleRun): () => void {
  if (runs.size === 0) {
    unsubscribe = INTERRUPT_SIGNALS.map((signal) => listenForSignal(signal, onProcessSignal));
  }
  runs.add(run);
  return () => {
    if (!runs.delete(run) || runs.size > 0) return;
    for (const stop of unsubscribe) stop();
    unsubscribe = [];
  };
}

/**
 * Hands `signal` to the Ctrl-C handling of `targets`: those with a receiver
 * for it are skipped; if any other was already interrupted (it is shutting
 * down, and the user insists) the process exits at once; otherwise each is
 * interrupted.
 */
export function deliverInterrupt(
  signal: NodeJS.Signals,
  targets: Iterable<InterruptibleRun>,
): void {
  const concerned = [...targets].filter((run) => !run.receives(signal));
  const shuttingDown = concerned.filter((run) => run.interruption !== null);
  if (shuttingDown.length > 0) exitNow(signal, shuttingDown);
  for (const run of concerned) run.interrupt(signal);
}

/**
 * Ends the process at once, as `signal` would have without our listener: it
 * says so on stderr, removes weft's listeners and sends the signal again, so
 * that the process dies of it (the conventional status: a shell sees "killed
 * by SIGINT" and stops a script's loop). If something else in the process
 * listens for the signal it survives that; then it exits with 128 + the
 * signal's number, the shell's code for death by a signal.
 */
function exitNow(signal: NodeJS.Signals, shuttingDown: readonly InterruptibleRun[]): never {
  const live = shuttingDown.map((run) => run.describeLiveTasks()).filter((text) => text !== "");
  const still = live.length === 0 ? "" : ` (still running: ${live.join("; ")})`;
  // stderr is synchronous for files, terminals and (on POSIX) pipes: the line
  // is out before the process dies.
  process.stderr.write(
    `weft: second ${signal} while shutting down, exiting now without waiting for cleanup${still}\n`,
  );
  stopListeningForSignal(signal);
  process.kill(process.pid, signal);
  process.exit(128 + (signalNumber(signal) ?? 0));
}
