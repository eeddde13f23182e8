/**
 * The HTTP service and scraper examples (examples/http-service.ts,
 * scraper.ts) against real sockets on 127.0.0.1: every endpoint of the
 * service through weft's fetch, the client leaving cancels a slow handler, a
 * shutdown lets a request in flight finish, server-sent events read by a real
 * client, and the scraper's limit, timeouts and retries against the service.
 * Real clock, small times and no upper bounds on elapsed time wherever a
 * socket is open: a pending fetch is an external wait, during which a
 * MockClock's autojump (rightly) never fires.
 */
import { Event, failAfter, moveOnAfter, type Nursery, openNursery, run } from "@weft/core";
import { afterEach, describe, expect, test, vi } from "vitest";
import {
  demo as httpServiceDemo,
  type Service,
  startService,
  waitForLog,
} from "../../../../examples/http-service.ts";
import { scrape, main as scraperMain, summarize } from "../../../../examples/scraper.ts";
import { fetch, fetchJson, fetchText, HttpStatusError, readText } from "../../src/index.ts";

/** Runs `body` with the service started on a free port; shuts it down afterwards. */
function withService(body: (service: Service, nursery: Nursery) => Promise<void>): Promise<void> {
  return run(async () => {
    await openNursery(async (nursery) => {
      const service = await startService(nursery, { port: 0, tickMs: 20 });
      await failAfter(10_000, () => body(service, nursery));
      nursery.cancelScope.cancel("test done");
    });
  });
}

/** The HTTP status `fn` fails with. */
async function statusOf(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof HttpStatusError) return error.status;
    throw error;
  }
  throw new Error("expected an HTTP error status");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("http-service example", () => {
  test("the JSON API lists, reads and creates items, and answers 404 / 400 / 405", async () => {
    await withService(async ({ url }) => {
      expect(await fetchJson(`${url}/api/items`)).toEqual([
        { id: 1, name: "loom" },
        { id: 2, name: "shuttle" },
        { id: 3, name: "warp" },
      ]);
      expect(await fetchJson(`${url}/api/items/2`)).toEqual({ id: 2, name: "shuttle" });
      const response = await fetch(`${url}/api/items`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "bobbin" }),
      });
      expect(response.status).toBe(201);
      expect(JSON.parse(await readText(response))).toEqual({ id: 4, name: "bobbin" });
      expect(await fetchJson(`${url}/api/items/4`)).toEqual({ id: 4, name: "bobbin" });
      expect(await statusOf(() => fetchJson(`${url}/api/items/99`))).toBe(404);
      expect(await statusOf(() => fetchJson(`${url}/no/such/route`))).toBe(404);
      expect(await statusOf(() => fetchJson(`${url}/api/items`, { method: "DELETE" }))).toBe(405);
      const post = (body: string) => () => fetchJson(`${url}/api/items`, { method: "POST", body });
      expect(await statusOf(post("not json"))).toBe(400);
      expect(await statusOf(post(JSON.stringify({ name: 7 })))).toBe(400);
    });
  });

  test("/slow answers after sleeping", async () => {
    await withService(async ({ url }) => {
      expect(await fetchJson(`${url}/slow?ms=30`)).toEqual({ slept: 30 });
    });
  });

  test("/slow: the client leaving cancels the handler, whose finally runs", async () => {
    await withService(async (service) => {
      const answer = await moveOnAfter(50, () => fetchText(`${service.url}/slow?ms=60000`));
      expect(answer).toBeUndefined();
      const line = await waitForLog(service, "/slow?ms=60000");
      expect(line).toMatch(/^\/slow\?ms=60000 cancelled after \d+ ms: the client disconnected$/);
      // The server goes on serving.
      expect(await fetchJson(`${service.url}/api/items/1`)).toEqual({ id: 1, name: "loom" });
    });
  });

  test("/stream streams its chunks", async () => {
    await withService(async ({ url }) => {
      const response = await fetch(`${url}/stream?chunks=4`);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await readText(response)).toBe(
        "chunk 1 of 4\nchunk 2 of 4\nchunk 3 of 4\nchunk 4 of 4\n",
      );
      const many = await fetchText(`${url}/stream?chunks=5000`);
      expect(many.split("\n")).toHaveLength(5001);
    });
  });

  test("/events: a real client reads three ticks; leaving stops the producer", async () => {
    await withService(async (service) => {
      const response = await fetch(`${service.url}/events`);
      expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (text.split("\n\n").length <= 3) {
        const { value, done } = await reader.read();
        expect(done).toBe(false);
        text += value;
      }
      const events = text.split("\n\n").slice(0, 3);
      expect(events).toEqual([
        'event: tick\nid: 1\ndata: {"n":1}',
        'event: tick\nid: 2\ndata: {"n":2}',
        'event: tick\nid: 3\ndata: {"n":3}',
      ]);
      await reader.cancel();
      expect(await waitForLog(service, "/events")).toMatch(
        /^\/events stopped after \d+ ticks: the client disconnected$/,
      );
    });
  });

  test("/events?count= ends the stream after that many events", async () => {
    await withService(async ({ url }) => {
      const text = await fetchText(`${url}/events?count=2&every=5`);
      expect(text).toBe(
        'event: tick\nid: 1\ndata: {"n":1}\n\nevent: tick\nid: 2\ndata: {"n":2}\n\n',
      );
    });
  });

  test("/flaky fails `failures` times per key, then answers", async () => {
    await withService(async ({ url }) => {
      const flaky = `${url}/flaky?key=k&failures=2`;
      expect(await statusOf(() => fetchJson(flaky))).toBe(503);
      expect(await statusOf(() => fetchJson(flaky))).toBe(503);
      expect(await fetchJson(flaky)).toEqual({ key: "k", failedFirst: 2 });
    });
  });

  test("shutting the service down lets a request in flight finish (grace period)", async () => {
    await run(async () => {
      await openNursery(async (outer) => {
        const service = await openNursery(async (serviceNursery) => {
          const arrived = new Event();
          const started = await startService(serviceNursery, {
            port: 0,
            onRequest: () => arrived.set(),
          });
          outer.startSoon(async () => {
            expect(await fetchJson(`${started.url}/slow?ms=100`)).toEqual({ slept: 100 });
          });
          await arrived.wait(); // the request is in flight
          serviceNursery.cancelScope.cancel("shutting down");
          return started;
        });
        // serveHttp returned: no new connections.
        await expect(fetch(`${service.url}/api/items`)).rejects.toThrow();
      });
    });
  });

  test("after the grace period, a shutdown cancels the requests still running", async () => {
    await run(async () => {
      await openNursery(async (outer) => {
        let service: Service | undefined;
        await openNursery(async (serviceNursery) => {
          const arrived = new Event();
          service = await startService(serviceNursery, {
            port: 0,
            gracePeriod: 50,
            onRequest: () => arrived.set(),
          });
          const url = service.url;
          outer.startSoon(async () => {
            // The connection is closed mid-request: the client sees a network error.
            await expect(fetchJson(`${url}/slow?ms=60000`)).rejects.toThrow();
          });
          await arrived.wait();
          serviceNursery.cancelScope.cancel("shutting down");
        });
        expect(service!.log).toEqual([
          expect.stringMatching(/^\/slow\?ms=60000 cancelled after \d+ ms: the server shut down$/),
        ]);
      });
    });
  });

  test("demo() exercises every endpoint and shuts the service down", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    await httpServiceDemo();
    const output = lines.join("\n");
    expect(output).toContain('POST /api/items -> {"id":4,"name":"bobbin"}');
    expect(output).toContain("GET /no/such/route -> HTTP 404");
    expect(output).toContain('GET /events -> first 3 events: {"n":1}, {"n":2}, {"n":3}');
    expect(output).toMatch(
      /server: \/slow\?ms=5000 cancelled after \d+ ms: the client disconnected/,
    );
    expect(output).toContain("server shut down");
  });
});

describe("scraper example", () => {
  test("retries transient failures, gives up on timeouts and 404s, keeps the limit", async () => {
    await withService(async ({ url }) => {
      const urls = [
        `${url}/api/items/1`,
        `${url}/flaky?key=s&failures=1`,
        `${url}/slow?ms=60000`,
        `${url}/api/items/99`,
        `${url}/api/items/2`,
        `${url}/slow?ms=10`,
      ];
      const retried: string[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      const results = await scrape(
        (async function* () {
          for (const u of urls) {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            yield u;
          }
        })(),
        {
          limit: 2,
          timeoutMs: 150,
          retry: { attempts: 2, initialDelay: 10 },
          onRetry: (failed, attempt) => retried.push(`${failed.slice(url.length)} #${attempt}`),
          onDone: () => inFlight--,
        },
      );
      expect(results.map((r) => [r.url.slice(url.length), r.result, r.attempts])).toEqual([
        ["/api/items/1", "ok", 1],
        ["/flaky?key=s&failures=1", "ok", 2],
        ["/slow?ms=60000", "timed out", 2],
        ["/api/items/99", "failed", 1],
        ["/api/items/2", "ok", 1],
        ["/slow?ms=10", "ok", 1],
      ]);
      expect(results[3]!.detail).toBe("HTTP 404");
      expect(retried.sort()).toEqual(["/flaky?key=s&failures=1 #1", "/slow?ms=60000 #1"]);
      expect(summarize(results)).toBe("4 ok, 1 failed, 1 timed out");
      expect(maxInFlight).toBeLessThanOrEqual(2);
    });
  });

  test("main() prints the summary", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    await scraperMain();
    const output = lines.join("\n");
    expect(output).toMatch(/\/flaky\?key=demo&failures=2\s+ok\s+after 3 attempt/);
    expect(output).toMatch(/\/slow\?ms=5000\s+timed out\s+after 3 attempt/);
    expect(output).toContain("5 ok, 1 failed, 1 timed out");
  });
});
