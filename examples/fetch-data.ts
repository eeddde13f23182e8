// Ports seed 004's simulated `fetch_data(url)` (returns "Data from <url>",
// then `Results: [...]` is printed), and replaces the aiohttp examples of
// seeds 002 and 003 with real HTTP: a local `node:http` server on 127.0.0.1
// (a task of the run, closed in its `finally`) and several concurrent `fetch`
// calls wrapped in `cancellable`, so that cancelling the task aborts the
// request. Nothing here contacts an external host.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CancelScope,
  cancellable,
  gather,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  sleepForever,
  type TaskStatus,
} from "@weft/core";

// --- seed 004: the simulated fetch -------------------------------------------

async function fetchData(url: string): Promise<string> {
  await sleep(1000); // simulate network latency
  console.log(`Fetched data from ${url}`);
  return `Data from ${url}`;
}

export async function simulatedMain(): Promise<void> {
  const start = performance.now();
  const results = await run(() =>
    gather(
      () => fetchData("https://example.com"),
      () => fetchData("https://google.com"),
    ),
  );
  console.log("Results:", results);
  console.log(`(${((performance.now() - start) / 1000).toFixed(2)} seconds)`);
}

// --- real HTTP against a local server ----------------------------------------

/** Each response is delayed this long, so that overlapping requests are visible in the timing. */
const SERVER_DELAY_MS = 300;

/** Answers `/posts/<id>` with a JSON post shaped like jsonplaceholder's (the seeds' test API). */
function handle(request: IncomingMessage, response: ServerResponse): void {
  const match = /^\/posts\/(\d+)$/.exec(request.url ?? "");
  const timer = setTimeout(() => {
    if (match === null) {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "not found" }));
      return;
    }
    const id = Number(match[1]);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ userId: 1, id, title: `post number ${id}`, body: `body of post ${id}` }),
    );
  }, SERVER_DELAY_MS);
  response.on("close", () => clearTimeout(timer)); // the client gave up, or the server is closing
}

/**
 * A task that listens on 127.0.0.1 (port 0: any free port), reports its base
 * URL through `status.started()`, and serves until cancelled. The `finally`
 * closes the server and waits for that inside a shielded scope: the task is
 * already cancelled there, and only a shield lets cleanup await.
 */
async function serveHttp(status: TaskStatus<string>): Promise<void> {
  const server: Server = createServer(handle);
  try {
    await cancellable((signal) => {
      const listening = once(server, "listening", { signal });
      server.listen(0, "127.0.0.1");
      return listening;
    });
    const { port } = server.address() as AddressInfo;
    console.log(`server listening on http://127.0.0.1:${port}`);
    status.started(`http://127.0.0.1:${port}`);
    await sleepForever();
  } finally {
    await new CancelScope({ shield: true }).run(() =>
      cancellable(
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections(); // fetch keeps connections alive; drop them now
        }),
      ),
    );
    console.log("server closed");
  }
}

async function fetchJson(url: string): Promise<unknown> {
  // One cancellable around the request and the body: a cancellation aborts either.
  return await cancellable(async (signal) => {
    const response = await fetch(url, { signal });
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
    return (await response.json()) as unknown;
  });
}

export async function httpMain(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      // start() returns once the server is listening, with its URL.
      const baseUrl = await nursery.start(serveHttp, { name: "http server" });
      const urls = [1, 2, 3].map((id) => `${baseUrl}/posts/${id}`);
      const start = performance.now();
      const bodies = await gather(...urls.map((url) => () => fetchJson(url)));
      const elapsed = (performance.now() - start) / 1000;
      for (const body of bodies) console.log(JSON.stringify(body, null, 2));
      console.log(
        `${urls.length} requests of ${SERVER_DELAY_MS} ms each took ${elapsed.toFixed(2)} seconds in all.`,
      );
      // A request cut short: at the deadline the fetch's signal is aborted and
      // moveOnAfter resolves undefined, without waiting for the server.
      const late = await moveOnAfter(100, () => fetchJson(`${baseUrl}/posts/4`));
      console.log(
        `with a 100 ms timeout: ${late === undefined ? "moved on without an answer" : "answered"}`,
      );
      // The server task would serve forever: cancel the nursery to stop it.
      nursery.cancelScope.cancel("done fetching");
    });
  });
}

export async function main(): Promise<void> {
  console.log("-- simulated fetch_data (seed 004):");
  await simulatedMain();
  console.log("-- real HTTP: fetch from a local node:http server:");
  await httpMain();
}

if (import.meta.main) await main();
