// A concurrent fetcher, the way a crawler or an API client would write it:
// 20 URLs fetched with `mapConcurrent`, at most 5 requests in flight at once,
// and each request under its own timeout (`failAfter`). The server is local (a
// `node:http` server on 127.0.0.1, run as a task): most answers take 100 to
// 200 ms, one takes 5 s (its timeout aborts the request, and the server sees
// the connection go), and one fails with HTTP 500. The per-URL lines and the
// total time show the limit at work: requests complete in waves, the server
// never sees more than 5 at once, and the whole batch takes a fifth of the
// time the requests would take one after another. Nothing external is contacted.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CancelScope,
  cancellable,
  capture,
  failAfter,
  mapConcurrent,
  openNursery,
  run,
  sleepForever,
  type TaskStatus,
  TooSlowError,
} from "@weft/core";
import { fetchJson, HttpStatusError } from "@weft/net";

const URL_COUNT = 20;
/** At most this many requests in flight. */
const LIMIT = 5;
/** Each request's own timeout. */
const TIMEOUT_MS = 500;
/** This item takes far longer than the timeout. */
const VERY_SLOW_ITEM = 7;
const VERY_SLOW_MS = 5000;
/** This item answers HTTP 500. */
const FAILING_ITEM = 13;

/** How long the server takes to answer `/items/<id>`: 100, 150 or 200 ms, but see above. */
function delayFor(id: number): number {
  if (id === VERY_SLOW_ITEM) return VERY_SLOW_MS;
  if (id === FAILING_ITEM) return 50;
  return 100 + (id % 3) * 50;
}

/** What the server saw, to show the limit from the other side. */
const serverStats = { inFlight: 0, maxInFlight: 0, abandoned: [] as string[] };
/** Called when no request is in flight any more (see `serverIdle`). */
let onIdle: (() => void) | null = null;

/** Resolves once the server has closed every exchange, abandoned ones included. */
function serverIdle(): Promise<void> {
  if (serverStats.inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    onIdle = resolve;
  });
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  const path = request.url ?? "";
  const id = Number(/^\/items\/(\d+)$/.exec(path)?.[1] ?? Number.NaN);
  serverStats.inFlight++;
  serverStats.maxInFlight = Math.max(serverStats.maxInFlight, serverStats.inFlight);
  const timer = setTimeout(
    () => {
      if (id === FAILING_ITEM || Number.isNaN(id)) {
        response.writeHead(id === FAILING_ITEM ? 500 : 404, { "content-type": "text/plain" });
        response.end("no luck");
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ id, name: `item ${id}` }));
    },
    Number.isNaN(id) ? 0 : delayFor(id),
  );
  // 'close' comes once per exchange: after the answer, or when the client gave up.
  response.on("close", () => {
    clearTimeout(timer);
    serverStats.inFlight--;
    if (!response.writableFinished) serverStats.abandoned.push(path);
    if (serverStats.inFlight === 0) onIdle?.();
  });
}

/** Serves on 127.0.0.1 (any free port) until cancelled; reports its base URL through `status`. */
async function serveHttp(status: TaskStatus<string>): Promise<void> {
  const server: Server = createServer(handle);
  try {
    await cancellable((signal) => {
      const listening = once(server, "listening", { signal });
      server.listen(0, "127.0.0.1");
      return listening;
    });
    status.started(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await sleepForever();
  } finally {
    // Cancelled by now: only a shielded scope lets the cleanup await.
    await new CancelScope({ shield: true }).run(() =>
      cancellable(
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections(); // fetch keeps connections alive
        }),
      ),
    );
  }
}

/** The outcome of one URL. */
export interface Outcome {
  readonly url: string;
  readonly result: "ok" | "timed out" | "failed";
  readonly detail: string;
  /** Milliseconds from the start of the batch to this URL's end. */
  readonly finishedAt: number;
  /** Milliseconds this URL's request took. */
  readonly took: number;
}

/**
 * Fetches every URL as JSON, at most `limit` at once, each under `timeoutMs`.
 * A failure or timeout of one URL is recorded, not raised, so the others go on;
 * `onDone` is called as each URL finishes.
 */
export async function fetchAll(
  urls: readonly string[],
  options: { limit: number; timeoutMs: number; onDone?: (outcome: Outcome) => void },
): Promise<Outcome[]> {
  const start = performance.now();
  return await mapConcurrent(
    urls,
    async (url) => {
      const begun = performance.now();
      // capture() turns an error into a Result; a Cancelled still propagates.
      const result = await capture(() => failAfter(options.timeoutMs, () => fetchJson(url)));
      const end = performance.now();
      let outcome: Pick<Outcome, "result" | "detail">;
      if (result.isOk()) {
        outcome = { result: "ok", detail: JSON.stringify(result.value) };
      } else if (result.error instanceof TooSlowError) {
        outcome = { result: "timed out", detail: `no answer within ${options.timeoutMs} ms` };
      } else if (result.error instanceof HttpStatusError) {
        outcome = { result: "failed", detail: `HTTP ${result.error.status}` };
      } else {
        outcome = { result: "failed", detail: String(result.error) };
      }
      const done: Outcome = { url, ...outcome, finishedAt: end - start, took: end - begun };
      options.onDone?.(done);
      return done;
    },
    { limit: options.limit },
  );
}

export async function main(): Promise<void> {
  serverStats.inFlight = 0;
  serverStats.maxInFlight = 0;
  serverStats.abandoned = [];
  await run(async () => {
    await openNursery(async (nursery) => {
      const baseUrl = await nursery.start(serveHttp, { name: "http server" });
      const urls = Array.from({ length: URL_COUNT }, (_, i) => `${baseUrl}/items/${i + 1}`);
      console.log(
        `fetching ${urls.length} URLs from ${baseUrl}, at most ${LIMIT} at once, ${TIMEOUT_MS} ms timeout each:`,
      );
      const start = performance.now();
      const outcomes = await fetchAll(urls, {
        limit: LIMIT,
        timeoutMs: TIMEOUT_MS,
        onDone: (o) => {
          const path = new URL(o.url).pathname.padEnd(10);
          const at = `${o.finishedAt.toFixed(0).padStart(4)} ms`;
          console.log(`  [${at}] ${path} ${o.result.padEnd(9)} ${o.detail}`);
        },
      });
      const elapsed = performance.now() - start;
      // An aborted request reaches the server a moment later: let it catch up.
      await cancellable(serverIdle());
      const count = (result: Outcome["result"]) => outcomes.filter((o) => o.result === result);
      const oneAtATime = outcomes.reduce((sum, o) => sum + o.took, 0);
      console.log(
        `${count("ok").length} ok, ${count("failed").length} failed, ${count("timed out").length} timed out, ` +
          `in ${(elapsed / 1000).toFixed(2)} s (one at a time: about ${(oneAtATime / 1000).toFixed(2)} s).`,
      );
      console.log(
        `the server saw at most ${serverStats.maxInFlight} requests at once; ` +
          `requests abandoned by the client: ${serverStats.abandoned.join(", ") || "none"}.`,
      );
      // The server task would serve forever: cancel the nursery to stop it.
      nursery.cancelScope.cancel("done fetching");
    });
  });
}

if (import.meta.main) await main();
