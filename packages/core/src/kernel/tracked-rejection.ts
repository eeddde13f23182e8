/**
 * A rejected promise that knows whether anyone handled it.
 *
 * A weft operation called where its task cannot wait (a callback a task left
 * behind, code run in a captured async context) rejects instead of throwing
 * (SEMANTICS.md, "Async context"). If nobody handles that rejection the error
 * must still reach the run, like any task error — not Node's process-wide
 * `unhandledRejection`, which would end the process. So the promise is marked
 * handled for Node at once, and notes whether user code ever called `then`
 * (which `await`, `catch`, `finally` and `Promise.all` all do).
 */
class TrackedRejection<T> extends Promise<T> {
  // Derived promises (`then`'s result) are plain promises.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  handled = false;

  // biome-ignore lint/suspicious/noThenProperty: the point is to see who calls `then`
  override then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.handled = true;
    return super.then(onFulfilled, onRejected);
  }
}

const ignore = (): void => {};

/**
 * A promise rejected with `error`. If no code has handled it by the time the
 * event loop has had a turn, `onUnhandled(error)` is called instead of Node's
 * unhandled-rejection handling.
 */
export function trackedRejection<T>(error: Error, onUnhandled: (error: Error) => void): Promise<T> {
  let reject!: (reason: unknown) => void;
  const promise = new TrackedRejection<T>((_, rejectFn) => {
    reject = rejectFn;
  });
  reject(error);
  // Handled, as far as Node is concerned; the call does not count as a user's.
  Promise.prototype.then.call(promise, undefined, ignore);
  setImmediate(() => {
    if (!promise.handled) onUnhandled(error);
  });
  return promise;
}
