/**
 * An async iterator whose every `next()` is one `receive()` made by whoever
 * calls `next()`, in that caller's task. It keeps no state between calls, so
 * tasks may share one iterator (a pool of workers pulling from one channel):
 * each `next()` is served in its own task, as Trio's receive channels serve
 * `__anext__`. (An async generator would queue a second task's `next()` behind
 * the first and run it in the first task's context.) `isEnd(error)` says which
 * error means the end of the values.
 */
export function receiveIterator<T>(
  receive: () => Promise<T>,
  isEnd: (error: unknown) => boolean,
): AsyncIterableIterator<T> {
  return {
    // Iterable itself, as the async generators it replaces were (`for await` over a shared one).
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () =>
      receive().then(
        (value): IteratorResult<T> => ({ done: false, value }),
        (error: unknown): IteratorResult<T> => {
          if (isEnd(error)) return { done: true, value: undefined };
          throw error;
        },
      ),
  };
}
