/**
 * Writing a `Response` to Node's `ServerResponse` with backpressure: each
 * chunk of the body is read only once Node took the previous one (a `'drain'`
 * wait when its buffer is full), so a client that does not read slows the
 * producer and memory stays bounded. Every read and wait is a checkpoint: a
 * cancelled write (the client left, the deadline passed) cancels the body.
 */
import type { ServerResponse } from "node:http";
import type { ReadableStreamReadResult } from "node:stream/web";
import { checkpoint, lowlevel } from "@weft/core";
import { ignoreError, waitForEvent } from "../host/io-wait.ts";

/** Status line and headers (Set-Cookie kept as separate lines). */
export function writeHead(res: ServerResponse, response: Response): void {
  res.statusCode = response.status;
  if (response.statusText !== "") res.statusMessage = response.statusText;
  const headers = response.headers;
  let cookies = false;
  for (const [name, value] of headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
    else cookies = true;
  }
  // Iteration yields each Set-Cookie line; getSetCookie() only when there was one.
  if (cookies) res.setHeader("set-cookie", headers.getSetCookie());
}

/** A read that has not settled yet (see writeResponse). */
const NOT_YET = Symbol("not yet");

/** Complete bodies up to this many bytes go out in one write with their head (see writeResponse). */
const SMALL_BODY = 4096;

/**
 * Writes `response` (head, then body) and ends `res`. A body that is complete
 * at once (a string, bytes: its second read settles within two microtasks of
 * the first, no I/O in between) goes out in one write with a Content-Length;
 * any other streams, chunked, each chunk read once Node took the one before.
 *
 * Reads are plain awaits, never wrapped in a weft operation: a body made from
 * an async generator runs the generator inside `read()`, as this task, and
 * its weft operations (a `sleep` between events) are this task's own — a
 * weft wait around the read would be a second operation of the task. So no
 * weft operation runs while a read is outstanding, and `signal` (the
 * request's scope) cancels the body to end a read that waits on something
 * foreign (never one whose generator is in a weft operation: the scope's
 * cancellation ends that one); the scope's `Cancelled` then comes from the
 * drain wait or the final checkpoint.
 */
export async function writeResponse(
  res: ServerResponse,
  response: Response,
  signal: AbortSignal,
): Promise<void> {
  writeHead(res, response);
  const body = response.body;
  if (body === null) {
    res.end();
    return;
  }
  // No body goes out (HEAD, 204, 304): Node's write() then always "succeeds",
  // and reading an endless body would never yield to the event loop.
  if (res.req.method === "HEAD" || response.status === 204 || response.status === 304) {
    body.cancel().catch(ignoreError);
    res.end();
    return;
  }
  const reader = body.getReader();
  const task = lowlevel.currentTask();
  /** Set once this function is done with the body: a retried cancel then stops. */
  let over = false;
  /** A cancel retried after the event loop's turn (cleared when done: no host handle outlives the run). */
  let retry: NodeJS.Immediate | null = null;
  const cancelBody = () => {
    if (over) return;
    // A body made from an async generator runs in this task, inside the
    // scope: when the task is in a weft operation (the generator's `sleep`
    // between events), the scope's cancellation reaches it there and the read
    // fails with Cancelled. Cancelling the body now would end the read at once
    // (done) while that operation is pending, and this task would go on, and
    // exit, with it pending: a UsageError instead of the client's 499.
    // Not dropped, though: a task woken normally but not yet resumed counts
    // as in an operation too, and might then await something only this
    // cancel would end. Look again after the event loop's turn.
    retry = null;
    if (lowlevel.isInWeftOperation(task)) {
      retry = setImmediate(cancelBody);
      return;
    }
    reader.cancel(signal.reason).catch(ignoreError);
  };
  signal.addEventListener("abort", cancelBody, { once: true });
  let finished = false;
  try {
    const first = await reader.read();
    // A read that ends because the scope cancelled the body (cancelBody) is
    // not the body's end: raise the scope's Cancelled rather than end the
    // response as if it were complete (SEMANTICS.md, "HTTP").
    if (signal.aborted) await checkpoint();
    if (first.done) {
      finished = true;
      res.end();
      return;
    }
    const next = reader.read();
    // Whether `next` had settled already: its reaction, queued now if so,
    // runs before this function resumes (the job of Promise.race against a
    // resolved promise, without the race's promises).
    let settled: ReadableStreamReadResult<Uint8Array> | typeof NOT_YET = NOT_YET;
    let readFailed: { readonly error: unknown } | null = null;
    next.then(
      (result) => {
        settled = result;
      },
      (error: unknown) => {
        readFailed = { error };
      },
    );
    await Promise.resolve();
    // undici 6 (Node 22) settles the second read of a string or bytes body one
    // microtask later than undici 7: a second look, only when the first saw
    // nothing, so that such a body still goes out in one write.
    if (settled === NOT_YET) await Promise.resolve();
    if (signal.aborted) await checkpoint();
    // The body failed already: raise it before anything is written, so the
    // client gets the handler's error response rather than a cut-off 200.
    if (readFailed !== null) throw (readFailed as { readonly error: unknown }).error;
    if (settled !== NOT_YET && (settled as ReadableStreamReadResult<Uint8Array>).done) {
      finished = true;
      const bytes = first.value;
      if (!res.hasHeader("content-length")) res.setHeader("content-length", bytes.length);
      // A small body as a latin1 string (byte for byte the same): Node then
      // sends head and body as one string in one write, not a writev of two.
      if (bytes.length <= SMALL_BODY) {
        res.end(
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1"),
          "latin1",
        );
      } else {
        res.end(bytes);
      }
      return;
    }
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = next;
    let chunk: Uint8Array = first.value;
    while (true) {
      const full = !res.write(chunk);
      const result = await (pending ?? reader.read());
      pending = null;
      if (result.done) break;
      chunk = result.value;
      if (full && res.writableNeedDrain) {
        await waitForEvent(res, "drain", "serveHttp: the client to read");
      }
    }
    if (signal.aborted) await checkpoint(); // raises the scope's Cancelled
    finished = true;
    res.end();
  } finally {
    over = true;
    if (retry !== null) clearImmediate(retry);
    signal.removeEventListener("abort", cancelBody);
    if (!finished) reader.cancel().catch(ignoreError);
  }
}
