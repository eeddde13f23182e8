/**
 * Effection → weft: an Effection operation that runs weft code in a weft run.
 */
import { checkRunOptions, lowlevel, run } from "@weft/core";
import { checkFunction } from "@weft/core/validate";
import { call, type Operation } from "effection";
import type { WeftOperationOptions } from "./types.ts";

type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown };

/**
 * An Effection operation that runs `fn` as the main task of a new weft
 * `run()` and returns its value, or throws its error (the same object).
 *
 * Halting the Effection task cancels the weft run: every weft cancel scope in
 * it sees `Cancelled`, weft `finally` blocks run, shielded scopes finish their
 * work — and the halt completes only once the run has finished. An error the
 * weft code raises while being cancelled is not lost: it is thrown from the
 * halting operation's cleanup, as an error from a `finally` block would be.
 *
 * The weft run is separate from any run that called into Effection (weft runs
 * do not nest): it has its own clock (`options.clock`) and its own tasks.
 *
 * @param fn - the weft code to run, as weft's `run()` takes it.
 * @param options - the options of weft's `run()`; `handleSignals` defaults to
 *   `false` (see {@link WeftOperationOptions}).
 * @returns an Effection operation; each time it is run, `fn` runs in a new weft
 *   run. Throws a `TypeError` at once, naming the argument, for a `fn` that is
 *   not a function or `options` that are not an object (it returns no promise).
 *
 * ```ts
 * import { run as effection } from "effection";
 * import { sleep } from "@weft/core";
 * import { weftOperation } from "@weft/effection";
 *
 * await effection(function* () {
 *   return yield* weftOperation(async () => { await sleep(10); return 42; });
 * });
 * ```
 */
export function weftOperation<T>(
  fn: () => Promise<T>,
  options?: WeftOperationOptions,
): Operation<T> {
  checkFunction("fn", fn);
  checkRunOptions("options", options);
  return {
    *[Symbol.iterator]() {
      const halted = new AbortController();
      const signal =
        options?.signal === undefined
          ? halted.signal
          : AbortSignal.any([options.signal, halted.signal]);
      // Outside any weft task context: Effection code may be resumed from one
      // (a promise a weft task settled), and this run is not nested in it.
      const running = lowlevel.runOutsideTask(() =>
        run(fn, { handleSignals: false, ...options, signal }),
      );
      let outcome: Outcome<T> | undefined;
      const settled = running.then(
        (value): Outcome<T> => (outcome = { ok: true, value }),
        (error: unknown): Outcome<T> => (outcome = { ok: false, error }),
      );
      try {
        const result = yield* call(() => settled);
        if (result.ok) return result.value;
        throw result.error;
      } finally {
        if (outcome === undefined) {
          // Halted while the run is active: cancel it, and finish the halt only
          // once the run has finished (its finally blocks, its shields).
          const reason = new Error("the Effection operation running weft code was halted");
          halted.abort(reason);
          const result = yield* call(() => settled);
          if (!result.ok && result.error !== reason) {
            // Not lost: an error raised while the weft code was being cancelled.
            // biome-ignore lint/correctness/noUnsafeFinally: the halt must report it
            throw result.error;
          }
        }
      }
    },
  };
}
