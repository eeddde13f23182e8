/**
 * One process listener per signal, shared by everything in weft that listens
 * for it: the signal receivers and the Ctrl-C handling of every active run.
 *
 * Why one: several runs can be active in one process (tests do this), and
 * Node warns above ten listeners per event. Why only while needed: any
 * `process.on("SIGINT")` listener turns off Node's default action (exit), so
 * a listener left behind would make the program ignore Ctrl-C.
 *
 * When the last subscriber leaves, the process listener stays one event-loop
 * turn longer: installing and removing one costs about as much as a whole
 * small `run()` (a libuv signal handle and a sigaction each way), and
 * programs and tests often start runs back to back. While it lingers it acts
 * as if it were gone: a signal it catches gets Node's default action.
 */

/** Told of each delivery of a signal it listens for. */
export type SignalListener = (signal: NodeJS.Signals) => void;

interface Subscription {
  readonly listener: SignalListener;
}

interface SignalEntry {
  readonly signal: NodeJS.Signals;
  /** In subscription order; a Set of wrappers, so one function may subscribe twice. */
  readonly subscriptions: Set<Subscription>;
  readonly onProcessSignal: () => void;
  /** Set while nobody subscribes: the pending removal of the process listener. */
  removal: NodeJS.Immediate | null;
}

const entries = new Map<NodeJS.Signals, SignalEntry>();

/** The signals whose default action on Windows is to end the process (Node emulates them). */
const ENDS_PROCESS_ON_WINDOWS: ReadonlySet<string> = new Set([
  "SIGINT",
  "SIGBREAK",
  "SIGHUP",
  "SIGTERM",
]);

function dispatch(entry: SignalEntry): void {
  if (entry.subscriptions.size === 0) {
    // Lingering: nobody in weft wants the signal.
    raiseIfUnheard(entry.signal);
    return;
  }
  // A snapshot: a listener may (un)subscribe others while we go.
  let failure: { error: unknown } | null = null;
  for (const subscription of [...entry.subscriptions]) {
    // Still subscribed? An earlier listener of this delivery may have left.
    if (!entry.subscriptions.has(subscription)) continue;
    try {
      subscription.listener(entry.signal);
    } catch (error) {
      // Every listener hears the signal; the first failure is reported after.
      failure ??= { error };
    }
  }
  if (failure !== null) throw failure.error;
}

/**
 * Calls `listener` on each delivery of `signal` to this process until the
 * returned function is called (calling it again does nothing). Throws what
 * `process.on` throws if Node cannot listen for `signal` on this platform.
 */
export function listenForSignal(signal: NodeJS.Signals, listener: SignalListener): () => void {
  let entry = entries.get(signal);
  if (entry === undefined) {
    const created: SignalEntry = {
      signal,
      subscriptions: new Set(),
      onProcessSignal: () => dispatch(created),
      removal: null,
    };
    process.on(signal, created.onProcessSignal); // throws before we record anything
    entries.set(signal, created);
    entry = created;
  } else if (entry.removal !== null) {
    clearImmediate(entry.removal);
    entry.removal = null;
  }
  const subscription: Subscription = { listener };
  entry.subscriptions.add(subscription);
  const subscribedTo = entry;
  return () => {
    if (!subscribedTo.subscriptions.delete(subscription)) return;
    if (subscribedTo.subscriptions.size === 0 && entries.get(signal) === subscribedTo) {
      // unref: a pending removal must not keep the process alive.
      subscribedTo.removal ??= setImmediate(() => removeEntry(subscribedTo)).unref();
    }
  };
}

function removeEntry(entry: SignalEntry): void {
  if (entry.removal !== null) {
    clearImmediate(entry.removal);
    entry.removal = null;
  }
  if (entries.get(entry.signal) !== entry) return;
  entries.delete(entry.signal);
  process.off(entry.signal, entry.onProcessSignal);
}

/**
 * Drops every weft subscription to `signal` and removes the process listener
 * at once: for a forced exit, which leaves the signal to Node's default action.
 */
export function stopListeningForSignal(signal: NodeJS.Signals): void {
  const entry = entries.get(signal);
  if (entry === undefined) return;
  entry.subscriptions.clear();
  removeEntry(entry);
}

/**
 * For a delivery of `signal` that its receiver did not consume: if nothing
 * in the process listens for `signal` any more (weft or not; a lingering
 * weft listener does not count), sends it again so that it gets Node's
 * default action, as it would have without weft. Whoever still listens
 * heard it when it arrived.
 */
export function raiseIfUnheard(signal: NodeJS.Signals): void {
  // Windows has no signals: process.kill ends the process whatever the
  // signal, which is the default action of these only.
  if (process.platform === "win32" && !ENDS_PROCESS_ON_WINDOWS.has(signal)) return;
  const entry = entries.get(signal);
  if (entry !== undefined) {
    if (entry.subscriptions.size > 0) return;
    removeEntry(entry);
  }
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
