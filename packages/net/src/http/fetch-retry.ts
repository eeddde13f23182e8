/**
 * The retry policy of {@link fetch}'s `init.retry`: which requests may be sent
 * again (idempotent methods, replayable bodies), which outcomes are worth
 * another try (network failures, a few statuses), and how long a server asks
 * us to wait (`Retry-After`). The loop itself is `@weft/core`'s `retry`.
 */
import { BrokenResourceError, checkRetryOptions, type RetryOptions, retry } from "@weft/core";
import { ignoreError } from "../host/io-wait.ts";
import { HttpStatusError } from "./http-status-error.ts";

/** The retry options of {@link fetch}: `@weft/core`'s `RetryOptions`, and one more. */
export interface FetchRetryOptions extends RetryOptions {
  /**
   * Retry non-idempotent methods (POST, PATCH, …) with the default policy
   * too. Default `false`: only GET, HEAD, OPTIONS, PUT, DELETE and TRACE are
   * sent again, unless `retryIf` is given (then it alone decides).
   */
  retryNonIdempotent?: boolean;
}

/**
 * What {@link fetch} accepts as its second argument: the global `fetch`'s
 * `RequestInit`, plus `retry` — the number of attempts, or retry options.
 */
export type FetchInit = RequestInit & {
  /** The number of attempts (`{ attempts: n }`), or the retry options. */
  retry?: FetchRetryOptions | number;
};

/** Statuses that say "try again later": timeouts, rate limits, a server or gateway in trouble. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Methods that mean the same when sent twice (RFC 9110, section 9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
]);

/** A retryable answer, as the error `retry` sees; the response it stands for. */
const responses = new WeakMap<HttpStatusError, Response>();

/** Checks `init.retry`: undefined, a number of attempts, or retry options. */
export function checkRetryInit(value: unknown): asserts value is FetchRetryOptions | number {
  if (value === undefined || typeof value === "number") {
    checkRetryOptions("init.retry", value === undefined ? undefined : { attempts: value });
    return;
  }
  checkRetryOptions("init.retry", value);
  const nonIdempotent = (value as { retryNonIdempotent?: unknown }).retryNonIdempotent;
  if (nonIdempotent !== undefined && typeof nonIdempotent !== "boolean") {
    throw new TypeError("init.retry.retryNonIdempotent must be a boolean");
  }
}

/**
 * Whether the body can be sent again: not a stream (a `ReadableStream` or an
 * async iterable) given in `init`, and not the body of a `Request` given as
 * `input` (which may be a stream: weft cannot tell, so it does not guess).
 */
function bodyIsReplayable(input: unknown, init: RequestInit | undefined): boolean {
  const body: unknown = init?.body;
  if (body === undefined || body === null) {
    return !(input instanceof Request && input.body !== null && init?.body === undefined);
  }
  if (body instanceof ReadableStream) return false;
  return typeof body !== "object" || !(Symbol.asyncIterator in body);
}

/**
 * `Retry-After` in milliseconds: delay-seconds, or an HTTP date (measured
 * against the wall clock, since it is one); `undefined` if absent or unreadable.
 */
export function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get("retry-after")?.trim();
  if (value === undefined || value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Sends `template` (a clone per attempt) with `send`, retried as `init.retry`
 * says. A retryable status of the last attempt is returned, not thrown.
 */
export async function sendWithRetry(
  template: Request,
  input: unknown,
  init: FetchInit | undefined,
  send: (request: Request) => Promise<Response>,
): Promise<Response> {
  const setting = init?.retry;
  if (setting === undefined || !bodyIsReplayable(input, init)) return await send(template);
  const options: FetchRetryOptions = typeof setting === "number" ? { attempts: setting } : setting;
  const { retryNonIdempotent = false, retryIf, delayFor, onRetry, ...rest } = options;
  const idempotent = IDEMPOTENT_METHODS.has(template.method);
  const callerSignal = template.signal;
  try {
    return await retry(
      async () => {
        const response = await send(template.clone());
        if (!RETRYABLE_STATUSES.has(response.status)) return response;
        const error = new HttpStatusError(
          template.method,
          response.url || template.url,
          response.status,
          response.statusText,
        );
        responses.set(error, response);
        throw error;
      },
      {
        ...rest,
        retryIf: (error, attempt) => {
          // The caller's own abort: every later attempt would fail the same way.
          if (callerSignal.aborted) return false;
          if (retryIf !== undefined) return retryIf(error, attempt);
          if (!idempotent && !retryNonIdempotent) return false;
          return error instanceof BrokenResourceError || responses.has(error as HttpStatusError);
        },
        delayFor: (error, attempt, backoff) => {
          const chosen = delayFor?.(error, attempt, backoff);
          if (chosen !== undefined) return chosen;
          const response = responses.get(error as HttpStatusError);
          return response === undefined ? undefined : retryAfterMs(response);
        },
        onRetry: (error, attempt, delay) => {
          // Nobody will read this answer: release its connection before the next try.
          responses
            .get(error as HttpStatusError)
            ?.body?.cancel()
            .catch(ignoreError);
          onRetry?.(error, attempt, delay);
        },
      },
    );
  } catch (error) {
    // Given up on a retryable status: the answer is the last response, as
    // fetch without retries would have returned it.
    const response = responses.get(error as HttpStatusError);
    if (response !== undefined) return response;
    throw error;
  }
}
