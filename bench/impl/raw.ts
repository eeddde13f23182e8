/**
 * The raw implementation: plain async/await and Node APIs, no runtime — the
 * baseline weft's overhead is measured against. Each runner is what a careful
 * Node programmer would write without a concurrency library:
 *
 * - a "task" is an async function call; joining is `Promise.all` (spawn-join,
 *   sleep-many and memory-per-task are support/raw-tasks.ts's, shared with
 *   impl/raw-context.ts, which starts each task in its own async context);
 * - a yield to the scheduler is `await null` (one trip through the microtask
 *   queue: the only scheduler plain async/await has);
 * - sleeping is `setTimeout` wrapped in a promise;
 * - cancellation is an `AbortController` whose one "abort" listener rejects the
 *   registered waits (one listener per wait would make adding 100,000 of them
 *   quadratic in Node's EventTarget — ~30 s — measuring Node, not the pattern);
 * - channels are a hand-rolled promise queue (support/raw-queue.ts);
 * - map-limit is a pool of `limit` workers pulling indices from a shared counter;
 * - tcp-echo uses `net.createServer` / `net.connect` with 'data' events;
 * - http-hello is `http.createServer` answering `res.end("hello world")`;
 * - effection-recursion / effection-events follow bench/scenario.ts (and
 *   Effection's own plain-JS baselines, async+await.recursion.ts and
 *   add-event-listener.events.ts): a nested call of async functions; a chain
 *   of async functions, each holding an `EventTarget` listener until an
 *   `AbortSignal` fires, then waiting for the level below it.
 */
import * as http from "node:http";
import * as net from "node:net";
import type { Implementation, RunResult, Size } from "../scenario.ts";
import { assert } from "../support/check.ts";
import { hostReply } from "../support/host-reply.ts";
import { BODY, driveLoad } from "../support/http.ts";
import { mapItem } from "../support/map-item.ts";
import { RawQueue } from "../support/raw-queue.ts";
import {
  callDirectly,
  memoryPerTask,
  sleepMany,
  spawnJoin,
  timeAll,
} from "../support/raw-tasks.ts";
import { EVENTS, recurse } from "../support/recursion.ts";
import { fillMessage, HOST, MESSAGE_BYTES, matches } from "../support/tcp.ts";

async function checkpoint({ n, m }: Size): Promise<RunResult> {
  let count = 0;
  const body = async (): Promise<void> => {
    for (let s = 0; s < m; s++) {
      await null;
      count++;
    }
  };
  const measured = await timeAll(n, body);
  return { check: count, measured };
}

async function foreignAwait({ n, m }: Size): Promise<RunResult> {
  let count = 0;
  const body = async (): Promise<void> => {
    for (let s = 0; s < m; s++) {
      await hostReply();
      await null;
      count++;
    }
  };
  const measured = await timeAll(n, body);
  return { check: count, measured };
}

async function cancelMany({ n }: Size): Promise<RunResult> {
  const controller = new AbortController();
  const signal = controller.signal;
  // The waits register here; one "abort" listener rejects them all (see the
  // file comment), and a wait removes itself on the way out, as a reusable
  // abortable-wait helper would.
  const waiters = new Set<(reason: unknown) => void>();
  signal.addEventListener(
    "abort",
    () => {
      for (const reject of waiters) reject(signal.reason);
    },
    { once: true },
  );
  let cancelled = 0;
  const body = async (): Promise<void> => {
    let reject: (reason: unknown) => void = () => {};
    const wait = new Promise<never>((_, rej) => {
      reject = rej;
    });
    waiters.add(reject);
    try {
      await wait;
    } catch (error) {
      if (error === signal.reason) cancelled++;
      else throw error;
    } finally {
      waiters.delete(reject);
    }
  };
  const tasks: Promise<void>[] = new Array(n);
  for (let i = 0; i < n; i++) tasks[i] = body();
  // An async function runs synchronously up to its first await: all are blocked now.
  assert(waiters.size === n, `raw cancel-many: ${waiters.size} of ${n} blocked`);
  const t0 = performance.now();
  controller.abort(new Error("benchmark cancel"));
  await Promise.all(tasks);
  const measured = performance.now() - t0;
  assert(waiters.size === 0, `raw cancel-many: ${waiters.size} waits left registered`);
  return { check: cancelled, measured };
}

async function channelUnbuffered({ n }: Size): Promise<RunResult> {
  const ping = new RawQueue<number>(0);
  const pong = new RawQueue<number>(0);
  let trips = 0;
  const pinger = async (): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await ping.send(i);
      const reply = await pong.receive();
      assert(reply === i + 1, `raw ping-pong: reply ${reply} to ${i}`);
      trips++;
    }
  };
  const ponger = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await pong.send((await ping.receive()) + 1);
  };
  const t0 = performance.now();
  await Promise.all([pinger(), ponger()]);
  return { check: trips, measured: performance.now() - t0 };
}

async function channelBuffered({ n, m }: Size): Promise<RunResult> {
  const queue = new RawQueue<number>(m);
  let sum = 0;
  const producer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await queue.send(i);
  };
  const consumer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const value = await queue.receive();
      assert(value === i, `raw buffered: received ${value}, expected ${i}`);
      sum += value;
    }
  };
  const t0 = performance.now();
  await Promise.all([producer(), consumer()]);
  return { check: sum, measured: performance.now() - t0 };
}

async function mapLimit({ n, m }: Size): Promise<RunResult> {
  const items = Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const results: number[] = new Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await mapItem(items[i]!);
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(m, n); w++) workers.push(worker());
  await Promise.all(workers);
  const measured = performance.now() - t0;
  let check = 0;
  for (const result of results) check += result;
  return { check, measured };
}

function listenOnLoopback(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: HOST, noDelay: true });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

async function tcpEcho({ n, m }: Size): Promise<RunResult> {
  // TCP_NODELAY on both ends, as weft's SocketStream sets it.
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on("data", (data) => socket.write(data));
    socket.on("error", () => {});
  });
  const port = await listenOnLoopback(server);
  const sockets = await Promise.all(Array.from({ length: n }, () => connect(port)));
  let echoed = 0;
  const client = (socket: net.Socket, id: number) =>
    new Promise<void>((resolve, reject) => {
      // One buffer per connection, refilled only once its echo is back (so
      // Node is no longer writing it).
      const message = Buffer.alloc(MESSAGE_BYTES);
      let trip = 0;
      let got = 0;
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        if (!matches(chunk, message, got)) {
          reject(new Error(`raw tcp-echo: connection ${id} got a wrong echo`));
          return;
        }
        got += chunk.length;
        echoed += chunk.length;
        if (got < MESSAGE_BYTES) return;
        got = 0;
        if (++trip === m) {
          resolve();
          return;
        }
        fillMessage(message, id, trip);
        socket.write(message);
      });
      fillMessage(message, id, 0);
      socket.write(message);
    });
  const t0 = performance.now();
  await Promise.all(sockets.map(client));
  const measured = performance.now() - t0;
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { check: echoed, measured };
}

async function httpHello(size: Size): Promise<RunResult> {
  const server = http.createServer((_request, response) => {
    response.end(BODY);
  });
  const port = await listenOnLoopback(server);
  try {
    return await driveLoad(port, size);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function effectionRecursion({ n, m }: Size): Promise<RunResult> {
  const counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) await recurse(n, counter);
  return { check: counter.count, measured: performance.now() - t0 };
}

/**
 * Level `depth` of the listener chain: listens for "foo" on `target` until
 * `signal` aborts, re-dispatching each event to the next level's target from
 * the handler; resolves once it and every level below have stopped listening.
 * (An async function runs synchronously up to its first await, so the whole
 * chain listens by the time the first call returns.)
 */
async function listen(
  target: EventTarget,
  signal: AbortSignal,
  depth: number,
  counter: { count: number },
): Promise<void> {
  const next = depth > 1 ? new EventTarget() : undefined;
  const below = next === undefined ? undefined : listen(next, signal, depth - 1, counter);
  const handler = (): void => {
    counter.count++;
    next?.dispatchEvent(new Event("foo"));
  };
  target.addEventListener("foo", handler);
  try {
    await new Promise<void>((resolve) => {
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    target.removeEventListener("foo", handler);
  }
  await below;
}

async function effectionEvents({ n, m }: Size): Promise<RunResult> {
  const counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) {
    const target = new EventTarget();
    const controller = new AbortController();
    const chain = listen(target, controller.signal, n, counter);
    for (let i = 0; i < EVENTS; i++) {
      await null;
      target.dispatchEvent(new Event("foo"));
    }
    await null;
    controller.abort();
    await chain;
  }
  return { check: counter.count, measured: performance.now() - t0 };
}

/** The raw runners (see the file comment). */
export const scenarios: Implementation = {
  checkpoint,
  "foreign-await": foreignAwait,
  "spawn-join": spawnJoin(callDirectly),
  "sleep-many": sleepMany(callDirectly),
  "cancel-many": cancelMany,
  "channel-unbuffered": channelUnbuffered,
  "channel-buffered": channelBuffered,
  "map-limit": mapLimit,
  "tcp-echo": tcpEcho,
  "effection-recursion": effectionRecursion,
  "effection-events": effectionEvents,
  "memory-per-task": memoryPerTask(callDirectly),
  "http-hello": httpHello,
};
