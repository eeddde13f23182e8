/**
 * `run` rejects with this when a SIGINT (Ctrl-C) or SIGTERM cancelled the
 * run (the `handleSignals` option of `run`): every task was cancelled and
 * every `finally` ran. `signal` is the signal that did it. An error raised by
 * the main task is never replaced by this one: `run` rejects with that error.
 *
 * ```ts
 * run(main).catch((error) => {
 *   if (error instanceof Interrupted) return; // exit quietly, exit code already set
 *   throw error;
 * });
 * ```
 */
export class Interrupted extends Error {
  /** The signal that interrupted the run (`"SIGINT"` or `"SIGTERM"`). */
  readonly signal: NodeJS.Signals;

  constructor(signal: NodeJS.Signals, options?: ErrorOptions) {
    if (typeof signal !== "string") {
      throw new TypeError(`signal must be a signal name such as "SIGINT", got ${typeof signal}`);
    }
    super(`interrupted by ${signal}`, options);
    this.name = "Interrupted";
    this.signal = signal;
  }
}
