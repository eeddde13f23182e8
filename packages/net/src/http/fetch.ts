/**
 * `fetch` as a weft checkpoint, and cancellable ways to read a response's body.
 *
 * The global `fetch` is a foreign promise: weft can only stop waiting for it,
 * not stop the request, unless the request's `AbortSignal` is tied to the
 * cancel scope. Here it is, for the request and for the body that follows, so a
 * timeout or cancellation really closes the connection (the server sees it go).
 */
import {
  BrokenResourceError,
  cancellable,
  cancelShieldedCheckpoint,
  currentSignal,
  isCancelled,
  lowlevel,
} from "@weft/core";
import { checkOptionsObject, describeValue, isInstance } from "@weft/core/validate";
import { errorCode } from "../host/error-codes.ts";
import { ignoreError } from "../host/io-wait.ts";
import { hasCustomSocketFactory } from "../sockets/tcp-seams.ts";
import { fetchOverStreams } from "./fetch-over-streams.ts";
import { checkRetryInit, type FetchInit, sendWithRetry } from "./fetch-retry.ts";
import { HttpStatusError } from "./http-status-error.ts";

/** The first argument of {@link fetch}: what the global `fetch` accepts. */
export type FetchInput = string | URL | Request;

/** The URL schemes Node's fetch implements; others fail late with an unhelpful "fetch failed". */
const SCHEMES: ReadonlySet<string> = new Set(["http:", "https:", "data:", "blob:"]);

const utf8 = new TextDecoder();

function checkScheme(url: URL, name: string): void {
  if (!SCHEMES.has(url.protocol)) {
    throw new TypeError(
      `${name} has an unsupported URL scheme "${url.protocol}" (fetch supports http:, https:, data: and blob:)`,
    );
  }
}

function checkInput(input: unknown): asserts input is FetchInput {
  if (typeof input === "string") {
    const url = URL.parse(input);
    if (url === null) {
      throw new TypeError(`input must be an absolute URL, got ${JSON.stringify(input)}`);
    }
    checkScheme(url, "input");
  } else if (isInstance(input, URL)) {
    checkScheme(input, "input");
  } else if (isInstance(input, Request)) {
    checkScheme(new URL(input.url), "input.url");
  } else {
    throw new TypeError(`input must be a string, a URL or a Request, got ${describeValue(input)}`);
  }
}

function checkInit(init: unknown): asserts init is FetchInit | undefined {
  checkOptionsObject("init", init);
  if (init === undefined) return;
  const signal = (init as { signal?: unknown }).signal;
  if (signal !== undefined && signal !== null && !isInstance(signal, AbortSignal)) {
    throw new TypeError("init.signal must be an AbortSignal");
  }
  checkRetryInit((init as { retry?: unknown }).retry);
}

/**
 * Builds the request up front: `Request`'s own checks (method, headers, a body
 * on GET…) then throw their `TypeError` before anything is sent, and the
 * request's signal is the caller's one, whether it came in `init` or `input`.
 */
function makeRequest(input: unknown, init: unknown): Request {
  checkInput(input);
  checkInit(init);
  return new Request(input, init);
}

/** The deepest `cause` of an undici error, which says what really went wrong. */
function rootCauseText(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof AggregateError && current.message === "" && current.errors.length > 0) {
      current = current.errors[0]; // dual-stack connect failures: one error per address
    } else if (current instanceof Error && current.cause !== undefined) {
      current = current.cause;
    } else {
      break;
    }
  }
  if (current instanceof Error) {
    if (current.message !== "") return current.message;
    return errorCode(current) ?? current.name;
  }
  return String(current);
}

/**
 * undici reports every network failure as a bare `TypeError` ("fetch failed"
 * while connecting or waiting for headers, "terminated" when the body is cut);
 * the real error is its `cause`. Other errors (bad input, the caller's own
 * abort reason, a JSON `SyntaxError`) are passed on as they are.
 */
function isNetworkFailure(error: unknown): error is TypeError {
  return (
    error instanceof TypeError &&
    (error.message === "fetch failed" || error.message === "terminated")
  );
}

function translate(error: unknown, what: string): unknown {
  if (isCancelled(error) || !isNetworkFailure(error)) return error;
  return new BrokenResourceError(`${what} failed: ${rootCauseText(error)}`, { cause: error });
}

/**
 * Whether Node's fetch (undici 7, Node 24) errors a body whose request is
 * aborted mid-read with the signal's reason. undici 6 (Node 22) errors it with
 * a bare `AbortError` instead: a raw `await response.text()` in a cancelled
 * scope would then raise that error out of the scope, not its `Cancelled`.
 */
const UNDICI_ERRORS_BODY_WITH_REASON = Number(process.versions.undici?.split(".")[0] ?? 7) >= 7;

/**
 * For undici 6: `response` with its body passed through a stream that errors
 * with `signal`'s reason when it aborts (the scope's `Cancelled`, the caller's
 * reason), as undici 7 does. Cancelling that body cancels undici's, which
 * drops the connection. `url`, `redirected` and `type` are undici's. Exported for its test.
 */
export function bodyErroredWithReason(response: Response, signal: AbortSignal): Response {
  // A Response cannot be made with a status outside 200–599, which undici 6
  // does return (a server's "999"): such a response keeps undici's body.
  if (response.body === null || response.status < 200 || response.status > 599) return response;
  const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), {
    signal,
  });
  const wrapped = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperties(wrapped, {
    url: { value: response.url },
    redirected: { value: response.redirected },
    type: { value: response.type },
  });
  return wrapped;
}

async function send(request: Request): Promise<Response> {
  const cancelled = lowlevel.cancelPoint("fetch()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const callerSignal = request.signal;
  // The scope's signal stays attached to the response: a cancellation of this
  // scope while the body is still being read aborts the body too.
  const scopeSignal = currentSignal();
  try {
    // A simulated network (a custom socket factory): not undici's real sockets.
    if (hasCustomSocketFactory()) {
      return await fetchOverStreams(request, AbortSignal.any([callerSignal, scopeSignal]));
    }
    const bodySignal = AbortSignal.any([callerSignal, scopeSignal]);
    const response = await cancellable((waitSignal) =>
      globalThis.fetch(request, { signal: AbortSignal.any([bodySignal, waitSignal]) }),
    );
    return UNDICI_ERRORS_BODY_WITH_REASON ? response : bodyErroredWithReason(response, bodySignal);
  } catch (error) {
    // The caller's own abort is theirs to recognise: its reason, untouched.
    if (callerSignal.aborted && error === callerSignal.reason) throw error;
    throw translate(error, `fetch ${request.method} ${request.url}`);
  }
}

/**
 * The global `fetch`, as a weft checkpoint: it takes the same arguments and
 * resolves with the same `Response`, but cancelling the enclosing cancel scope
 * (a timeout, a nursery's failure…) aborts the request and throws weft's
 * `Cancelled`, and the wait is an I/O wait (a `MockClock` run waiting on it is
 * not deadlocked).
 *
 * - `init.signal` (or the signal of a `Request` passed as `input`) still works:
 *   if it aborts, the request is aborted and its reason is thrown as it is
 *   (usually a `DOMException` named "AbortError"), since that is not weft's
 *   cancellation.
 * - A network failure (connection refused, DNS failure, connection reset…)
 *   throws `BrokenResourceError` whose message names the request and the real
 *   error, and whose `cause` is undici's `TypeError("fetch failed")`.
 * - An HTTP error status is not an error here: check `response.ok`, or use
 *   {@link fetchText} / {@link fetchJson} / {@link fetchBytes}.
 * - Bad input (not a string/URL/Request, a relative URL, an unsupported
 *   scheme, a bad method or header, a body on GET, bad `init.retry`) rejects
 *   with `TypeError` (or `RangeError` for a retry option out of range) before
 *   anything is sent.
 *
 * Retries (`init.retry`: a number of attempts, or `FetchRetryOptions` —
 * `@weft/core`'s `retry` options plus `retryNonIdempotent`): a network failure
 * (`BrokenResourceError`) or a status 408, 425, 429, 500, 502, 503 or 504 is
 * tried again after an exponential backoff with full jitter, on the run's
 * clock and never past the enclosing deadline.
 * - By default only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE,
 *   TRACE) are retried; a POST or PATCH only with `retryNonIdempotent: true`
 *   or an explicit `retryIf(error, attempt)` (which then alone decides; a
 *   retryable status reaches it as an `HttpStatusError`).
 * - A `Retry-After` header (seconds or an HTTP date) sets the delay, capped by
 *   `maxDelay` (a `delayFor` of the caller's comes first).
 * - The body of an answer that is retried is cancelled first (its connection
 *   is released). After the last attempt, or when the deadline leaves no time
 *   for another, a retryable status is returned as the `Response` it is, as
 *   without retries; a network failure throws its `BrokenResourceError`.
 * - A body that cannot be sent twice is sent once, without retries: a
 *   `ReadableStream` or async iterable in `init.body`, or any body of a
 *   `Request` given as `input` (it may be a stream; weft does not guess).
 * - `Cancelled` and the caller's own abort are never retried.
 *
 * The body arrives after `fetch` returns. Read it with {@link readText},
 * {@link readJson} or {@link readBytes}, which are checkpoints and close the
 * connection when cancelled. The request stays tied to the cancel scope
 * `fetch` was called in, so a raw `await response.text()` in that same scope is
 * still aborted when the scope is cancelled; but it is not a checkpoint, and
 * after that scope has exited nothing cancels it.
 *
 * ```ts
 * const response = await moveOnAfter(5000, async () => {
 *   const response = await fetch(url);
 *   return { status: response.status, text: await readText(response) };
 * });
 * ```
 */
export async function fetch(input: FetchInput, init?: FetchInit): Promise<Response> {
  return await sendWithRetry(makeRequest(input, init), input, init, send);
}

function checkResponse(response: unknown): asserts response is Response {
  if (!isInstance(response, Response)) throw new TypeError("response must be a Response");
  if (response.bodyUsed) throw new TypeError("response: its body was already read");
  if (response.body?.locked === true) {
    throw new TypeError("response: its body is being read elsewhere");
  }
}

async function readAll(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal,
): Promise<Uint8Array> {
  // Cancelling the stream is what makes undici drop the connection.
  const onAbort = () => {
    reader.cancel(signal.reason).catch(ignoreError);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Reads the whole body of `response` (from {@link fetch} or any other `fetch`)
 * as bytes. A checkpoint: if the enclosing scope is cancelled, the body stream
 * is cancelled (which closes the connection) and `Cancelled` is thrown. The
 * connection failing mid-body throws `BrokenResourceError` (its `cause` is
 * undici's `TypeError("terminated")`). A body that was already read, or is
 * being read, is a `TypeError`. No body (e.g. a 204) gives an empty array.
 */
export async function readBytes(response: Response): Promise<Uint8Array> {
  checkResponse(response);
  const cancelled = lowlevel.cancelPoint("readBytes()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const body = response.body;
  if (body === null) {
    await cancelShieldedCheckpoint();
    return new Uint8Array(0);
  }
  const reader = body.getReader();
  try {
    return await cancellable((signal) => readAll(reader, signal));
  } catch (error) {
    // Whatever went wrong, nothing more will be read: let go of the connection
    // (a no-op if the stream is already cancelled or errored).
    reader.cancel(error).catch(ignoreError);
    throw translate(error, `reading the body of ${response.url || "a response"}`);
  }
}

/** Reads the whole body of `response` as UTF-8 text, like `response.text()`; see {@link readBytes}. */
export async function readText(response: Response): Promise<string> {
  return utf8.decode(await readBytes(response));
}

/**
 * Reads the whole body of `response` and parses it as JSON, like
 * `response.json()` (invalid JSON is a `SyntaxError`); see {@link readBytes}.
 * The result is `unknown`: check its shape before using it.
 */
export async function readJson(response: Response): Promise<unknown> {
  return JSON.parse(await readText(response)) as unknown;
}

/** `fetch`, then a status check: a non-2xx answer throws `HttpStatusError` and its body is discarded. */
async function fetchOk(input: FetchInput, init: FetchInit | undefined): Promise<Response> {
  const request = makeRequest(input, init);
  const response = await sendWithRetry(request, input, init, send);
  if (!response.ok) {
    // Nobody will read this body: cancel it so the connection is released now.
    response.body?.cancel().catch(ignoreError);
    throw new HttpStatusError(
      request.method,
      response.url || request.url,
      response.status,
      response.statusText,
    );
  }
  return response;
}

/**
 * {@link fetch}, then {@link readText} in the same cancel scope: one call that a
 * timeout or cancellation stops at any point. A status outside 200–299 throws
 * `HttpStatusError`; network failures throw `BrokenResourceError`. `init.retry`
 * retries as for {@link fetch}; the status checked is the last attempt's.
 *
 * ```ts
 * const page = await failAfter(2000, () => fetchText("http://127.0.0.1:8080/"));
 * ```
 */
export async function fetchText(input: FetchInput, init?: FetchInit): Promise<string> {
  return await readText(await fetchOk(input, init));
}

/** Like {@link fetchText}, but parses the body as JSON (a `SyntaxError` if it is not). */
export async function fetchJson(input: FetchInput, init?: FetchInit): Promise<unknown> {
  return await readJson(await fetchOk(input, init));
}

/** Like {@link fetchText}, but returns the body as bytes. */
export async function fetchBytes(input: FetchInput, init?: FetchInit): Promise<Uint8Array> {
  return await readBytes(await fetchOk(input, init));
}
