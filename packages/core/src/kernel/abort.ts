/** What an abort callback answers when the kernel offers a blocked task a cancellation. */
export const Abort = Object.freeze({
  /** The wait was undone: the kernel reschedules the task with `Cancelled`. */
  SUCCEEDED: "SUCCEEDED",
  /** The wait cannot be undone now: whoever blocked the task will reschedule it later. */
  FAILED: "FAILED",
} as const);
export type Abort = (typeof Abort)[keyof typeof Abort];

/**
 * Called at most once per wait, when the blocked task's cancel status becomes
 * cancelled. `raiseCancel` throws the `Cancelled` the task should see.
 */
export type AbortFn = (raiseCancel: () => never) => Abort;
