import { ExceptionGroup } from "./exception-group.ts";

/** Where a cancellation came from. */
export type CancelSource = "deadline" | "explicit" | "nursery" | "shutdown" | "signal" | "unknown";

/** Why a scope was cancelled; the first reason given to a scope wins. */
export interface CancelReason {
  readonly source: CancelSource;
  readonly reason?: string | undefined;
}

// Only the runtime holds this token, so `new Cancelled()` from user code fails.
const CONSTRUCT = Symbol("weft.Cancelled.construct");

/**
 * Thrown at a checkpoint inside a cancelled cancel scope. The scope that was
 * cancelled catches it when it reaches the scope's exit; let it propagate (use
 * `finally` for cleanup, or rethrow after checking {@link isCancelled}).
 *
 * There is no public constructor: `new Cancelled()` throws a `TypeError`.
 * Cancelled errors carry no stack trace — they are control flow, and their
 * construction sits on the hot path of cancelling many tasks; `source` and
 * `reason` say where they came from.
 */
export class Cancelled extends Error {
  /** What caused the cancellation. */
  readonly source: CancelSource;
  /** The reason given to `cancel(reason)`, if any. */
  readonly reason?: string;

  constructor(token: typeof CONSTRUCT, cancelReason: CancelReason) {
    if (token !== CONSTRUCT) {
      throw new TypeError(
        "Cancelled has no public constructor; the runtime raises it at checkpoints",
      );
    }
    const { source, reason } = cancelReason;
    const message =
      reason === undefined
        ? `cancelled due to ${source}`
        : `cancelled due to ${source} with reason '${reason}'`;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = "Cancelled";
    this.source = source;
    if (reason !== undefined) this.reason = reason;
  }
}

/** @internal Creates a `Cancelled`; only the runtime calls this. */
export function createCancelled(reason: CancelReason | null): Cancelled {
  return new Cancelled(CONSTRUCT, reason ?? { source: "unknown" });
}

/**
 * True for a `Cancelled`, or for an `ExceptionGroup` whose leaves are all
 * `Cancelled` (what a nursery raises when all its children were cancelled).
 * Use it in `catch` blocks to let cancellation through:
 *
 * ```ts
 * catch (e) { if (isCancelled(e)) throw e; ... }
 * ```
 */
export function isCancelled(error: unknown): error is Cancelled | ExceptionGroup {
  if (error instanceof Cancelled) return true;
  if (error instanceof ExceptionGroup) {
    return error.errors.every(isCancelled);
  }
  return false;
}

/**
 * @internal What is left of `error` once the `Cancelled` in it are removed
 * (as a cancelled scope's exit would), or `null` if nothing is left.
 */
export function withoutCancelled(error: unknown): { readonly error: unknown } | null {
  if (error instanceof Cancelled) return null;
  if (error instanceof ExceptionGroup) {
    const rest = error.split(Cancelled)[1];
    return rest === null ? null : { error: rest };
  }
  return { error };
}
