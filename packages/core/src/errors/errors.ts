/** The runtime's error classes other than `Cancelled` and `ExceptionGroup`. */

function named<T extends Error>(error: T, name: string): T {
  error.name = name;
  return error;
}

/** Raised by `failAfter`/`failAt` when their deadline expires. */
export class TooSlowError extends Error {
  constructor(message = "operation timed out", options?: ErrorOptions) {
    super(message, options);
    named(this, "TooSlowError");
  }
}

/** Raised by a `*Nowait` method when the operation would have to block. */
export class WouldBlock extends Error {
  constructor(message = "operation would block", options?: ErrorOptions) {
    super(message, options);
    named(this, "WouldBlock");
  }
}

/** Raised by a receive on a channel whose senders have all closed and whose buffer is empty. */
export class EndOfChannel extends Error {
  constructor(message = "end of channel", options?: ErrorOptions) {
    super(message, options);
    named(this, "EndOfChannel");
  }
}

/** Raised when using a resource (channel, stream, socket) that this side already closed. */
export class ClosedResourceError extends Error {
  constructor(message = "resource is closed", options?: ErrorOptions) {
    super(message, options);
    named(this, "ClosedResourceError");
  }
}

/** Raised when a resource is unusable because of the other side or the network; see `cause`. */
export class BrokenResourceError extends Error {
  constructor(message = "resource is broken", options?: ErrorOptions) {
    super(message, options);
    named(this, "BrokenResourceError");
  }
}

/** Raised when two tasks use a resource that only one may use at a time. */
export class BusyResourceError extends Error {
  constructor(message = "another task is already using this resource", options?: ErrorOptions) {
    super(message, options);
    named(this, "BusyResourceError");
  }
}

/**
 * A run on a virtual clock can never make progress: every task is blocked, no
 * deadline is pending and no I/O is in flight. The message lists each task and
 * what it waits on.
 */
export class DeadlockError extends Error {
  constructor(
    message = "deadlock: every task is blocked and nothing can wake them",
    options?: ErrorOptions,
  ) {
    super(message, options);
    named(this, "DeadlockError");
  }
}

/**
 * A run failed because one of weft's own invariants broke (a bug in weft or
 * in a primitive built on the low-level API): `run()` rejects with it, the
 * original error as `cause`, instead of it escaping as an uncaught exception.
 */
export class InternalError extends Error {
  constructor(message = "weft internal error", options?: ErrorOptions) {
    super(message, options);
    named(this, "InternalError");
  }
}

/**
 * weft was used in a way it does not allow — an operation outside `run()`,
 * two operations of one task at once, a closed nursery, a cancel scope
 * entered twice or exited out of order, a task that returns while its waits
 * or nurseries are still pending. The message says what and how to fix it;
 * the operation rejects with it (or `run()` does), like any error.
 */
export class UsageError extends Error {
  constructor(message = "weft was used in a way it does not allow", options?: ErrorOptions) {
    super(message, options);
    named(this, "UsageError");
  }
}
