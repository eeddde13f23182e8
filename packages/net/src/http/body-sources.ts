/**
 * Response bodies that are async iterables run in the request's task: a
 * `Response` built by weft (serverSentEvents) remembers the iterable it
 * wraps, and the response writer iterates that directly instead of reading
 * the `ReadableStream` around it. Reading the stream would run the
 * iterable's weft operations (a `sleep` between events) while the task waits
 * in `cancellable(reader.read())`: the kernel refuses a second wait of one
 * task (a UsageError), and the handler fails.
 */
const sources = new WeakMap<Response, AsyncIterable<Uint8Array>>();

/** Remembers that `response`'s body is `source`, to be iterated in the request's task. */
export function setBodySource(response: Response, source: AsyncIterable<Uint8Array>): Response {
  sources.set(response, source);
  return response;
}

/** The async iterable `response`'s body wraps, if weft built it. */
export function bodySourceOf(response: Response): AsyncIterable<Uint8Array> | undefined {
  return sources.get(response);
}
