// Seed 004's `fetch_data(url)`, grown up: many URLs fetched concurrently, but
// at most `limit` at once (`mapConcurrent`), each attempt under its own
// timeout (`failAfter`), and a failed attempt retried with exponential backoff
// when the failure may be temporary (HTTP 5xx or 429, a network error, a
// timeout) — not when it will not be (HTTP 404). A URL that still fails is
// recorded, not raised, so one bad URL never cancels the others. The summary
// counts ok, failed and timed out URLs.
//
// It scrapes the example service of http-service.ts on 127.0.0.1 (nothing
// external is contacted): JSON items, a URL that fails twice before it
// answers (retried), one that is far too slow (every attempt times out), and
// one that does not exist (not retried).
import {
  BrokenResourceError,
  capture,
  failAfter,
  mapConcurrent,
  openNursery,
  type RetryOptions,
  retry,
  run,
  TooSlowError,
} from "@weft/core";
import { fetchJson, HttpStatusError } from "@weft/net";
import { startService } from "./http-service.ts";

/** Failures worth another try: 5xx and 429 answers, network errors, timeouts. */
export function isTransient(error: unknown): boolean {
  if (error instanceof HttpStatusError) return error.status >= 500 || error.status === 429;
  return error instanceof BrokenResourceError || error instanceof TooSlowError;
}

/** The outcome of one URL. */
export interface ScrapeResult {
  readonly url: string;
  readonly result: "ok" | "failed" | "timed out";
  /** The JSON value (ok), or what went wrong. */
  readonly detail: string;
  /** Attempts made, the first included. */
  readonly attempts: number;
}

/** Options of {@link scrape}. */
export interface ScrapeOptions {
  /** At most this many requests in flight (default 5). */
  readonly limit?: number;
  /** Each attempt's own timeout (ms, default 1000). */
  readonly timeoutMs?: number;
  /**
   * How a failed attempt is retried: `retry()`'s options from @weft/core
   * (default here: 3 attempts, 50 ms doubling up to 2 s, full jitter; only
   * {@link isTransient} failures). `onRetry` is below, with the URL.
   */
  readonly retry?: Omit<RetryOptions, "onRetry">;
  /** Called before a URL is retried, with the attempt that failed and its error. */
  readonly onRetry?: (url: string, attempt: number, error: unknown, waitMs: number) => void;
  /** Called as each URL finishes. */
  readonly onDone?: (result: ScrapeResult) => void;
}

/** Fetches every URL as JSON (see the file's comment); results in the order of `urls`. */
export async function scrape(
  urls: Iterable<string> | AsyncIterable<string>,
  options: ScrapeOptions = {},
): Promise<ScrapeResult[]> {
  const timeoutMs = options.timeoutMs ?? 1000;
  return await mapConcurrent(
    urls,
    async (url) => {
      let attempts = 0;
      // capture() turns an error into a Result; a Cancelled still propagates.
      const outcome = await capture(() =>
        retry(
          (attempt) => {
            attempts = attempt;
            return failAfter(timeoutMs, () => fetchJson(url));
          },
          {
            attempts: 3,
            initialDelay: 50,
            maxDelay: 2_000,
            retryIf: isTransient,
            ...options.retry,
            onRetry: (error, attempt, waitMs) => options.onRetry?.(url, attempt, error, waitMs),
          },
        ),
      );
      const result: ScrapeResult = outcome.isOk()
        ? { url, result: "ok", detail: JSON.stringify(outcome.value), attempts }
        : {
            url,
            result: outcome.error instanceof TooSlowError ? "timed out" : "failed",
            detail: describe(outcome.error, timeoutMs),
            attempts,
          };
      options.onDone?.(result);
      return result;
    },
    { limit: options.limit ?? 5 },
  );
}

/** What went wrong, in a few words. */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof TooSlowError) return `no answer within ${timeoutMs} ms`;
  if (error instanceof HttpStatusError) return `HTTP ${error.status}`;
  return String(error);
}

/** `N ok, N failed, N timed out`. */
export function summarize(results: readonly ScrapeResult[]): string {
  const count = (what: ScrapeResult["result"]) => results.filter((r) => r.result === what).length;
  return `${count("ok")} ok, ${count("failed")} failed, ${count("timed out")} timed out`;
}

export async function main(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      const { url } = await startService(nursery, { port: 0 });
      const urls = [
        ...[1, 2, 3].map((id) => `${url}/api/items/${id}`),
        `${url}/slow?ms=80`,
        `${url}/flaky?key=demo&failures=2`, // 503 twice, then an answer: retried
        `${url}/slow?ms=5000`, // every attempt times out
        `${url}/api/items/99`, // 404: not retried
      ];
      const timeoutMs = 200;
      console.log(
        `scraping ${urls.length} URLs from ${url}, at most 3 at once, ${timeoutMs} ms per attempt, 3 attempts:`,
      );
      const start = performance.now();
      const results = await scrape(urls, {
        limit: 3,
        timeoutMs,
        retry: { attempts: 3, initialDelay: 50 },
        onRetry: (failed, attempt, error, waitMs) => {
          const path = failed.slice(url.length);
          const what = describe(error, timeoutMs);
          console.log(
            `  ${path}: attempt ${attempt} failed (${what}), retrying in ${Math.round(waitMs)} ms`,
          );
        },
        onDone: (r) => {
          const path = r.url.slice(url.length).padEnd(30);
          console.log(
            `  ${path} ${r.result.padEnd(9)} after ${r.attempts} attempt(s): ${r.detail}`,
          );
        },
      });
      const seconds = (performance.now() - start) / 1000;
      console.log(`${summarize(results)}, in ${seconds.toFixed(2)} s.`);
      // The service would serve forever: cancel the nursery to shut it down.
      nursery.cancelScope.cancel("done scraping");
    });
  });
}

if (import.meta.main) await main();
