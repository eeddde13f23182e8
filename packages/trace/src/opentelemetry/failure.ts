/**
 * What the instrument can learn of how a task ended. The `taskExited` hook
 * does not say whether the task failed or with what; but a task that fails
 * first in its nursery makes the nursery cancel its scope, synchronously
 * right after `taskExited`, with the reason `task "<name>" raised <error>`
 * (the error described as `Name: message`). The instrument reads that reason.
 */

/** A failure as described in a nursery's cancel reason. */
export interface DescribedFailure {
  /** The error's description, e.g. `TypeError: boom`. */
  readonly description: string;
  /** The error's name, e.g. `TypeError` (or `thrown string`…, for a non-Error). */
  readonly name: string;
  /** The error's message (may be empty). */
  readonly message: string;
  /** Whether it was a `Cancelled`: the task was cancelled, which is not an error. */
  readonly cancelled: boolean;
}

/**
 * The failure of the task named `taskName` described by `reason`, a
 * nursery's cancel reason; `null` if `reason` does not describe one.
 */
export function failureFromCancelReason(
  taskName: string,
  reason: string | undefined,
): DescribedFailure | null {
  const prefix = `task ${JSON.stringify(taskName)} raised `;
  if (reason === undefined || !reason.startsWith(prefix)) return null;
  const description = reason.slice(prefix.length);
  const colon = description.indexOf(": ");
  const name = colon < 0 ? description : description.slice(0, colon);
  const message = colon < 0 ? "" : description.slice(colon + 2);
  return { description, name, message, cancelled: name === "Cancelled" };
}
