// An HTTP service on `serveHttp` from @weft/net, where every request is a weft
// task: a small JSON API (items, read and created), a slow endpoint whose
// sleep is cancelled when the client leaves (its `finally` says so), a
// streamed body written chunk by chunk, and server-sent events ticking on the
// run's clock. The router is a dozen lines of hand-written matching: the
// handler is fetch-style (`Request → Response`), so any framework with an
// `app.fetch` would do as well.
//
// Run it standalone (Ctrl-C shuts it down gracefully: requests in flight get
// a grace period, then they are cancelled and every `finally` runs):
//
//   node_modules/.bin/node --conditions=weft-source examples/http-service.ts
//   curl localhost:8080/api/items; curl -N localhost:8080/events
//
// `startService(nursery, options)` starts it in any nursery (the tests and the
// demo use port 0); `demo()` starts it, makes a few requests with weft's
// `fetch` and shuts it down.
import {
  type Cancelled,
  cancellable,
  currentSignal,
  currentTime,
  Interrupted,
  moveOnAfter,
  type Nursery,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import {
  fetch,
  fetchJson,
  fetchText,
  HttpStatusError,
  readText,
  type ServerSentEvent,
  type SocketListener,
  serveHttp,
  serverSentEvents,
} from "@weft/net";

/** One item of the JSON API. */
export interface Item {
  readonly id: number;
  readonly name: string;
}

/** Options of {@link startService}. */
export interface ServiceOptions {
  /** TCP port (0: any free port; default 8080). */
  readonly port?: number;
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Milliseconds between two events of /events (default 1000; `?every=` overrides). */
  readonly tickMs?: number;
  /** How long a shutdown lets requests in flight finish (ms, default 2000). */
  readonly gracePeriod?: number;
  /** Called as each request arrives, before it is routed (tests wait on it). */
  readonly onRequest?: (request: Request) => void;
  /** Called with each line the service logs (it is also kept in `Service.log`). */
  readonly onLog?: (line: string) => void;
}

/** A running service. */
export interface Service {
  /** Its base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly listener: SocketListener;
  /** Every line the service logged, oldest first (cleanups of cancelled requests among them). */
  readonly log: string[];
}

const json = (body: unknown, status = 200): Response => Response.json(body, { status });
const problem = (status: number, error: string): Response => json({ error }, status);

/** A non-negative integer query parameter, or `fallback` when absent or malformed. */
function intParam(url: URL, name: string, fallback: number): number {
  const value = Number(url.searchParams.get(name) ?? Number.NaN);
  return Number.isSafeInteger(value) && value >= 0 ? value : fallback;
}

/**
 * Why the running handler was cancelled, for the log: "the client
 * disconnected", or the server shutting down after its grace period.
 * (`currentSignal()`, not `request.signal`, which a shutdown does not abort.)
 */
function whyCancelled(): string {
  const signal = currentSignal();
  if (!signal.aborted) return "cancelled";
  const { reason } = signal.reason as Cancelled;
  return typeof reason === "string" ? reason : "cancelled";
}

/** The request handler: a hand-written router over `method` and `pathname`. */
function makeHandler(options: ServiceOptions, log: (line: string) => void) {
  const items = new Map<number, Item>([
    [1, { id: 1, name: "loom" }],
    [2, { id: 2, name: "shuttle" }],
    [3, { id: 3, name: "warp" }],
  ]);
  let nextId = 4;
  /** How many times /flaky has failed, per `key`. */
  const flakyFailures = new Map<string, number>();

  return async (request: Request): Promise<Response> => {
    options.onRequest?.(request);
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;

    if (path === "/api/items") {
      if (method === "GET") return json([...items.values()]);
      if (method === "POST") {
        // A checkpoint: reading the body stops if the client leaves.
        let body: unknown;
        try {
          body = await cancellable(request.json());
        } catch (error) {
          if (error instanceof SyntaxError) return problem(400, "the body is not JSON");
          throw error;
        }
        const name = (body as { name?: unknown } | null)?.name;
        if (typeof name !== "string" || name === "") {
          return problem(400, 'expected {"name": "<a non-empty string>"}');
        }
        const item: Item = { id: nextId++, name };
        items.set(item.id, item);
        log(`created item ${item.id} (${item.name})`);
        return json(item, 201);
      }
      return problem(405, `${method} not allowed on ${path}`);
    }

    const itemMatch = /^\/api\/items\/(\d+)$/.exec(path);
    if (itemMatch !== null && method === "GET") {
      const item = items.get(Number(itemMatch[1]));
      return item === undefined ? problem(404, `no item ${itemMatch[1]}`) : json(item);
    }

    if (path === "/slow" && method === "GET") {
      // Sleeps on the run's clock. The client leaving cancels this task: the
      // sleep throws Cancelled, and the finally runs (and may not await:
      // the task is cancelled; a shielded CancelScope would allow it).
      const ms = intParam(url, "ms", 1000);
      const start = currentTime();
      let answered = false;
      try {
        await sleep(ms);
        answered = true;
        return json({ slept: ms });
      } finally {
        if (!answered) {
          log(
            `/slow?ms=${ms} cancelled after ${Math.round(currentTime() - start)} ms: ${whyCancelled()}`,
          );
        }
      }
    }

    if (path === "/stream" && method === "GET") {
      // A streamed body: an async generator, pulled chunk by chunk as the
      // client reads (backpressure), so `?chunks=100000` never sits in memory.
      // It runs in the request's task: it may sleep or wait between chunks, and
      // the client leaving cancels it there.
      const chunks = intParam(url, "chunks", 5);
      const encoder = new TextEncoder();
      async function* body(): AsyncGenerator<Uint8Array> {
        for (let n = 1; n <= chunks; n++) yield encoder.encode(`chunk ${n} of ${chunks}\n`);
      }
      return new Response(body(), { headers: { "content-type": "text/plain; charset=utf-8" } });
    }

    if (path === "/events" && method === "GET") {
      // Server-sent events: a tick every `every` ms until the client leaves
      // (or `count` ticks were sent, if given).
      const every = intParam(url, "every", options.tickMs ?? 1000);
      const count = intParam(url, "count", Number.POSITIVE_INFINITY);
      async function* ticks(): AsyncGenerator<ServerSentEvent> {
        let sent = 0;
        try {
          for (let n = 1; n <= count; n++) {
            if (n > 1) await sleep(every);
            yield { event: "tick", id: String(n), data: JSON.stringify({ n }) };
            sent = n;
          }
        } finally {
          if (sent < count) log(`/events stopped after ${sent} ticks: ${whyCancelled()}`);
        }
      }
      return serverSentEvents(ticks());
    }

    if (path === "/flaky" && method === "GET") {
      // Fails `failures` times per `key` (503), then answers: for retries.
      const key = url.searchParams.get("key") ?? "";
      const failures = intParam(url, "failures", 1);
      const failed = flakyFailures.get(key) ?? 0;
      if (failed < failures) {
        flakyFailures.set(key, failed + 1);
        return problem(503, `flaky ${key}: failure ${failed + 1} of ${failures}`);
      }
      return json({ key, failedFirst: failed });
    }

    return problem(404, `no route for ${method} ${path}`);
  };
}

/**
 * Starts the service in `nursery` and returns once it accepts connections.
 * It serves until the nursery's scope is cancelled (a graceful shutdown).
 */
export async function startService(
  nursery: Nursery,
  options: ServiceOptions = {},
): Promise<Service> {
  const log: string[] = [];
  const record = (line: string) => {
    log.push(line);
    options.onLog?.(line);
  };
  const host = options.host ?? "127.0.0.1";
  const [listener] = await nursery.start<SocketListener[]>(
    (taskStatus) =>
      serveHttp(makeHandler(options, record), {
        port: options.port ?? 8080,
        host,
        taskStatus,
        gracePeriod: options.gracePeriod ?? 2000,
      }),
    { name: "http-service" },
  );
  const { address, port } = listener!.localAddress as { address: string; port: number };
  const shown = address.includes(":") ? `[${address}]` : address;
  return { url: `http://${shown}:${port}`, listener: listener!, log };
}

/** Reads the first `n` events of a `text/event-stream` response (data lines only). */
async function firstEvents(response: Response, n: number): Promise<string[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: string[] = [];
  let buffered = "";
  try {
    while (events.length < n) {
      const { value, done } = await cancellable(reader.read());
      if (done) break;
      buffered += value;
      let end = buffered.indexOf("\n\n");
      while (end >= 0 && events.length < n) {
        const data = buffered
          .slice(0, end)
          .split("\n")
          .filter((line) => line.startsWith("data: "))
          .map((line) => line.slice(6));
        events.push(data.join("\n"));
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf("\n\n");
      }
    }
  } finally {
    // Leaving: the server's /events task is cancelled.
    reader.cancel().catch(() => {});
  }
  return events;
}

/** Starts the service on a free port, makes a few requests with weft's fetch, shuts it down. */
export async function demo(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      const service = await startService(nursery, {
        port: 0,
        tickMs: 50,
        onLog: (line) => console.log(`  server: ${line}`),
      });
      const { url } = service;
      console.log(`serving on ${url}`);
      console.log(`GET /api/items -> ${JSON.stringify(await fetchJson(`${url}/api/items`))}`);
      const created = await fetchJson(`${url}/api/items`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "bobbin" }),
      });
      console.log(`POST /api/items -> ${JSON.stringify(created)}`);
      console.log(`GET /api/items/4 -> ${JSON.stringify(await fetchJson(`${url}/api/items/4`))}`);
      try {
        await fetchJson(`${url}/no/such/route`);
      } catch (error) {
        if (!(error instanceof HttpStatusError)) throw error;
        console.log(`GET /no/such/route -> HTTP ${error.status}`);
      }
      const stream = await fetchText(`${url}/stream?chunks=3`);
      console.log(`GET /stream -> ${JSON.stringify(stream)}`);
      const events = await firstEvents(await fetch(`${url}/events`), 3);
      console.log(`GET /events -> first 3 events: ${events.join(", ")}`);
      // The client gives up after 100 ms: the server's sleep is cancelled.
      const slow = await moveOnAfter(100, async () => {
        const response = await fetch(`${url}/slow?ms=5000`);
        return await readText(response);
      });
      console.log(`GET /slow?ms=5000 with a 100 ms timeout -> ${slow ?? "gave up"}`);
      // Let the server notice the client leaving before shutting it down.
      await waitForLog(service, "/slow");
      // Cancelling the nursery shuts the server down gracefully.
      nursery.cancelScope.cancel("demo done");
    });
  });
  console.log("server shut down");
}

/** Waits (polling on the run's clock) until the service logged a line containing `text`. */
export async function waitForLog(service: Service, text: string): Promise<string> {
  for (;;) {
    const line = service.log.find((l) => l.includes(text));
    if (line !== undefined) return line;
    await sleep(5);
  }
}

/** Runs the service on port 8080 (or $PORT) until Ctrl-C. */
export async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 8080);
  try {
    await run(async () => {
      await openNursery(async (nursery) => {
        const service = await startService(nursery, {
          port,
          onLog: (line) => console.log(line),
        });
        console.log(`serving on ${service.url} (Ctrl-C to stop)`);
        console.log(
          "try: /api/items, /api/items/1, POST /api/items, /slow?ms=3000, /stream, /events",
        );
      });
    });
  } catch (error) {
    // Ctrl-C: run() cancelled every task; serveHttp let the requests in flight
    // finish (gracePeriod), then closed. run() has set the exit code (130).
    if (!(error instanceof Interrupted)) throw error;
    console.log(`shut down (${error.signal})`);
  }
}

if (import.meta.main) await main();
