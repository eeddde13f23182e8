/**
 * fetch's `init.retry` against a local node:http server on 127.0.0.1, whose
 * answers each test scripts per path. The backoff sleeps run on a MockClock:
 * with autojump where no deadline is pending (the clock then moves only while
 * every task sleeps), and with a clock that never moves where a deadline is
 * (so it cannot expire while a request is on the wire).
 */
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as net from "node:net";
import {
  BrokenResourceError,
  CancelScope,
  cancellable,
  currentTime,
  Event,
  failAfter,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
  TooSlowError,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { fetch, fetchText, readText } from "../../src/http/fetch.ts";
import { retryAfterMs } from "../../src/http/fetch-retry.ts";
import { HttpStatusError } from "../../src/http/http-status-error.ts";
import { rejection } from "../support/chunks.ts";
import { useNodeHttpServer } from "../support/node-http-server.ts";

type Step = (request: IncomingMessage, response: ServerResponse) => void;

interface Exchange {
  method: string;
  body: string;
  /** Resolves when the server side of the exchange is closed (answered or aborted). */
  closed: Promise<void>;
  response: ServerResponse;
}

/** Per path: the answers still to give (then 200 "ok"), and the exchanges so far. */
const scripts = new Map<string, { steps: Step[]; exchanges: Exchange[] }>();
let nextPath = 0;

/** A fresh path whose first answers are `steps`; the rest are 200 "ok". */
function script(...steps: Step[]): { url: string; exchanges: Exchange[] } {
  const path = `/script/${nextPath++}`;
  const entry = { steps, exchanges: [] as Exchange[] };
  scripts.set(path, entry);
  return { url: `${baseUrl()}${path}`, exchanges: entry.exchanges };
}

const status =
  (code: number, headers: Record<string, string> = {}, body = "busy"): Step =>
  (_request, response) => {
    response.writeHead(code, { "content-type": "text/plain", ...headers });
    response.end(body);
  };

/** Drops the connection without answering: a network failure for the client. */
const drop: Step = (request) => {
  request.socket.destroy();
};

function handle(request: IncomingMessage, response: ServerResponse): void {
  const entry = scripts.get(request.url ?? "");
  if (entry === undefined) {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    entry.exchanges.push({
      method: request.method ?? "",
      body: Buffer.concat(chunks).toString(),
      closed: once(response, "close").then(() => undefined),
      response,
    });
    const step = entry.steps.shift() ?? status(200, {}, "ok");
    step(request, response);
  });
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const autojump = () => ({ clock: new MockClock({ autojumpThreshold: 0 }) });
const frozen = () => ({ clock: new MockClock() });

const baseUrl = useNodeHttpServer(handle);

describe("fetch with init.retry", () => {
  test("503 then 200: the 200, after two requests and one backoff", async () => {
    await run(async () => {
      const { url, exchanges } = script(status(503));
      const response = await fetch(url, { retry: { jitter: "none", initialDelay: 100 } });
      expect(response.status).toBe(200);
      expect(await readText(response)).toBe("ok");
      expect(exchanges.length).toBe(2);
      expect(currentTime()).toBe(100);
    }, autojump());
  });

  test("retry: N is the number of attempts; after the last, the last Response is returned (its body intact)", async () => {
    await run(async () => {
      const { url, exchanges } = script(
        status(500, {}, "one"),
        status(502, {}, "two"),
        status(504, {}, "three"),
      );
      const response = await fetch(url, { retry: 3 });
      expect(response.status).toBe(504);
      expect(await readText(response)).toBe("three");
      expect(exchanges.length).toBe(3);
    }, autojump());
  });

  test("every retryable status is retried; others (404) are returned at once", async () => {
    await run(async () => {
      for (const code of [408, 425, 429, 500, 502, 503, 504]) {
        const { url, exchanges } = script(status(code));
        expect((await fetch(url, { retry: 2 })).status).toBe(200);
        expect(exchanges.length).toBe(2);
      }
      const { url, exchanges } = script(status(404));
      expect((await fetch(url, { retry: 5 })).status).toBe(404);
      expect(exchanges.length).toBe(1);
    }, autojump());
  });

  test("no retry option: a 503 is answered once, as before", async () => {
    await run(async () => {
      const { url, exchanges } = script(status(503));
      expect((await fetch(url)).status).toBe(503);
      expect(exchanges.length).toBe(1);
    });
  });

  test("Retry-After in seconds sets the delay (virtual time)", async () => {
    await run(async () => {
      const { url, exchanges } = script(status(429, { "retry-after": "1" }));
      const response = await fetch(url, { retry: { initialDelay: 5 } });
      expect(response.status).toBe(200);
      expect(exchanges.length).toBe(2);
      expect(currentTime()).toBe(1000);
    }, autojump());
  });

  test("Retry-After is capped by maxDelay", async () => {
    await run(async () => {
      const { url } = script(status(503, { "retry-after": "3600" }));
      const response = await fetch(url, { retry: { maxDelay: 2000 } });
      expect(response.status).toBe(200);
      expect(currentTime()).toBe(2000);
    }, autojump());
  });

  test("Retry-After as an HTTP date is measured against the wall clock", () => {
    const now = Date.parse("Mon, 07 Dec 2026 12:00:00 GMT");
    const at = (value: string) => new Response(null, { headers: { "retry-after": value } });
    expect(retryAfterMs(at("Mon, 07 Dec 2026 12:00:30 GMT"), now)).toBe(30_000);
    expect(retryAfterMs(at("Mon, 07 Dec 2026 11:00:00 GMT"), now)).toBe(0); // in the past
    expect(retryAfterMs(at("120"), now)).toBe(120_000);
    expect(retryAfterMs(at("soon"), now)).toBeUndefined();
    expect(retryAfterMs(new Response(null), now)).toBeUndefined();
  });

  test("an HTTP-date Retry-After on the wire delays by about that much", async () => {
    await run(async () => {
      const when = new Date(Date.now() + 3000).toUTCString(); // whole seconds: 2–3 s from now
      const { url } = script(status(503, { "retry-after": when }));
      expect((await fetch(url, { retry: 2 })).status).toBe(200);
      expect(currentTime()).toBeGreaterThan(1000);
      expect(currentTime()).toBeLessThanOrEqual(3000);
    }, autojump());
  });

  test("a POST is not retried by default; retryNonIdempotent or retryIf opt in, and the body is sent again", async () => {
    await run(async () => {
      const once1 = script(status(503));
      const response = await fetch(once1.url, { method: "POST", body: "x", retry: 3 });
      expect(response.status).toBe(503);
      expect(once1.exchanges.length).toBe(1);

      const opted = script(status(503));
      const retried = await fetch(opted.url, {
        method: "POST",
        body: "payload",
        retry: { retryNonIdempotent: true },
      });
      expect(retried.status).toBe(200);
      expect(opted.exchanges.map((e) => `${e.method} ${e.body}`)).toEqual([
        "POST payload",
        "POST payload",
      ]);

      const asked: unknown[] = [];
      const byRetryIf = script(status(503));
      const viaRetryIf = await fetch(byRetryIf.url, {
        method: "PATCH",
        body: "p",
        retry: {
          retryIf: (error) => {
            asked.push(error);
            return true;
          },
        },
      });
      expect(viaRetryIf.status).toBe(200);
      expect(byRetryIf.exchanges.length).toBe(2);
      expect(asked.length).toBe(1);
      expect(asked[0]).toBeInstanceOf(HttpStatusError);
      expect((asked[0] as HttpStatusError).status).toBe(503);
    }, autojump());
  });

  test("a stream body cannot be replayed: sent once, without retries", async () => {
    await run(async () => {
      const { url, exchanges } = script(status(503));
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("streamed"));
          controller.close();
        },
      });
      const response = await fetch(url, {
        method: "PUT",
        body,
        duplex: "half",
        retry: 3,
      } as RequestInit & { retry: number });
      expect(response.status).toBe(503);
      expect(exchanges.map((e) => e.body)).toEqual(["streamed"]);
    }, autojump());
  });

  test("a dropped connection (network failure) is retried", async () => {
    await run(async () => {
      const { url, exchanges } = script(drop);
      const response = await fetch(url, { retry: 2 });
      expect(response.status).toBe(200);
      expect(exchanges.length).toBe(2);
    }, autojump());
  });

  test("connection refused every time: BrokenResourceError after every attempt", async () => {
    await run(async () => {
      const port = await closedPort();
      let retries = 0;
      const error = await rejection(
        fetch(`http://127.0.0.1:${port}/`, { retry: { attempts: 3, onRetry: () => retries++ } }),
      );
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect(retries).toBe(2);
    }, autojump());
  });

  test("the caller's own abort is never retried, even when retryIf says yes", async () => {
    await run(async () => {
      const { url, exchanges } = script();
      const controller = new AbortController();
      const reason = new Error("the caller gave up");
      controller.abort(reason);
      let asked = 0;
      const error = await rejection(
        fetch(url, {
          signal: controller.signal,
          retry: {
            attempts: 5,
            retryIf: () => {
              asked++;
              return true;
            },
          },
        }),
      );
      expect(error).toBe(reason);
      expect(asked).toBe(0);
      expect(exchanges.length).toBe(0);
    }, autojump());
  });

  test("fetchText retries too, and throws HttpStatusError for the last attempt's status", async () => {
    await run(async () => {
      const ok = script(status(503));
      expect(await fetchText(ok.url, { retry: 2 })).toBe("ok");
      const bad = script(status(503), status(503));
      const error = await rejection(fetchText(bad.url, { retry: 2 }));
      expect(error).toBeInstanceOf(HttpStatusError);
      expect((error as HttpStatusError).status).toBe(503);
      expect(bad.exchanges.length).toBe(2);
    }, autojump());
  });

  test("a retried answer's body is cancelled: its connection is released", async () => {
    await run(async () => {
      // A body too big to be sent unless it is read.
      const big: Step = (_request, response) => {
        response.writeHead(503, { "content-type": "application/octet-stream" });
        response.write(Buffer.alloc(8 * 1024 * 1024));
      };
      const { url, exchanges } = script(big);
      // Holding the errors keeps the retried responses reachable, so that no
      // garbage collection (undici releases a collected response's connection)
      // can do what retry must do itself.
      const errors: unknown[] = [];
      const response = await fetch(url, { retry: { attempts: 2, onRetry: (e) => errors.push(e) } });
      expect(response.status).toBe(200);
      expect(errors.length).toBe(1);
      await cancellable(exchanges[0]!.closed);
      expect(exchanges[0]!.response.writableFinished).toBe(false);
    }, autojump());
  });

  test("the deadline: a retry that would sleep past it is not taken, the last Response is returned", async () => {
    await run(async () => {
      const { url, exchanges } = script(status(503, { "retry-after": "10" }), status(503));
      const response = await moveOnAfter(5000, () => fetch(url, { retry: 5 }));
      expect(response?.status).toBe(503);
      expect(exchanges.length).toBe(1);
      expect(currentTime()).toBe(0);
    }, frozen());
  });

  test("the deadline under failAfter: a network failure comes out, not TooSlowError", async () => {
    await run(async () => {
      const port = await closedPort();
      const error = await rejection(
        failAfter(5000, () =>
          fetch(`http://127.0.0.1:${port}/`, {
            retry: { attempts: 10, initialDelay: 6000, jitter: "none" },
          }),
        ),
      );
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect(error).not.toBeInstanceOf(TooSlowError);
    }, frozen());
  });

  test("cancelled during the backoff: Cancelled, and no further request", async () => {
    await run(async () => {
      const { url, exchanges } = script(status(503), status(503), status(503));
      const sleeping = new Event();
      let caught: unknown = null;
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          scope.run(async () => {
            try {
              await fetch(url, {
                retry: { attempts: Infinity, onRetry: () => sleeping.set() },
              });
            } catch (error) {
              caught = error;
              throw error;
            }
          }),
        );
        await sleeping.wait();
        scope.cancel();
      });
      expect(isCancelled(caught)).toBe(true);
      expect(scope.cancelledCaught).toBe(true);
      expect(exchanges.length).toBe(1);
    }, frozen());
  });
});
