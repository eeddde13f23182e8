import { ExceptionGroup } from "./exception-group.ts";
import { RaisedBySlot } from "./raised-by-slot.ts";

/** Where a cancellation came from. */
export type CancelSource = "deadline" | "explicit" | "nursery" | "shutdown" | "signal" | "unknown";

/** Why a scope was cancelled; the first reason given to a scope wins. */
export interface CancelReason {
  /** What caused the cancellation. */
  readonly source: CancelSource;
  /** The reason given to `cancel(reason)`, if any. */
  readonly reason?: string | undefined;
}

/**
 * Thrown at a checkpoint inside a cancelled cancel scope. The scope that was
 * cancelled catches it when it reaches the scope's exit; let it propagate (use
 * `finally` for cleanup, or rethrow after checking {@link isCancelled}).
 *
 * There is no public constructor: `new Cancelled()` throws a `TypeError`.
 * Cancelled errors carry no stack trace — they are control flow, created on
 * the hot path of cancelling many tasks; `source` and `reason` say where they
 * came from, and `message` is derived from them.
 */
export class Cancelled extends Error {
  /** What caused the cancellation. */
  declare readonly source: CancelSource;
  /** The reason given to `cancel(reason)`, if any. */
  declare readonly reason?: string;

  constructor() {
    super();
    throw new TypeError(
      "Cancelled has no public constructor; the runtime raises it at checkpoints",
    );
  }

  /** `cancelled due to <source>`, with the reason when one was given. */
  override get message(): string {
    return this.reason === undefined
      ? `cancelled due to ${this.source}`
      : `cancelled due to ${this.source} with reason '${this.reason}'`;
  }

  /** `Cancelled: <message>`: a Cancelled carries no stack trace (it is control flow). */
  override get stack(): string {
    return `Cancelled: ${this.message}`;
  }

  /** Always `"Cancelled"`. */
  override get name(): string {
    return "Cancelled";
  }
}

/**
 * @internal Creates a `Cancelled`; only the runtime calls this. It bypasses the
 * Error constructor (which captures a stack): about 20× cheaper, and the
 * message and stack are derived on demand.
 */
export function createCancelled(reason: CancelReason | null): Cancelled {
  const cancelled = Object.create(Cancelled.prototype) as { source: CancelSource; reason?: string };
  RaisedBySlot.install(cancelled); // where recordRaisingTask records the raising task
  cancelled.source = reason?.source ?? "unknown";
  if (reason?.reason !== undefined) cancelled.reason = reason.reason;
  return cancelled as Cancelled;
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
