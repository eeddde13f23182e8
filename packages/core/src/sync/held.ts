/**
 * What `guard()` of a lock, semaphore or capacity limiter returns: a handle
 * that releases what was acquired, by hand or with `using` / `await using`.
 *
 * ```ts
 * {
 *   await using _ = await lock.guard();
 *   // … the lock is held here …
 * } // released here, even if the block threw
 * ```
 */
export class Held implements Disposable, AsyncDisposable {
  #release: (() => void) | null;

  /** @internal */
  constructor(release: () => void) {
    this.#release = release;
  }

  /** Releases what was acquired. Calling it again does nothing. */
  release(): void {
    const release = this.#release;
    if (release === null) return;
    this.#release = null;
    release();
  }

  /** Releases what was acquired at the end of a `using` block (`release()`). */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * Releases what was acquired at the end of an `await using` block (`release()`). Not a
   * checkpoint.
   */
  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.release();
    } catch (error) {
      return Promise.reject(error); // e.g. a Lock released by a task that does not hold it
    }
    return Promise.resolve();
  }
}
