/**
 * The weft implementation: every runner is one `run()` using the public API of
 * @weft/core and @weft/net as an application would:
 *
 * - tasks are started in a nursery (`openNursery` + `startSoon`) and joined by
 *   the nursery's end;
 * - a yield to the scheduler is `checkpoint()`;
 * - sleeping is `sleep(ms)`; blocked tasks wait in `sleepForever()`;
 * - cancellation is `nursery.cancelScope.cancel()`;
 * - channels are `openMemoryChannel(capacity)`;
 * - map-limit is `mapConcurrent(items, fn, { limit })` (the item awaits a
 *   foreign promise directly; through `cancellable()` measured 25% slower);
 * - tcp-echo uses `serveTcp` and `openTcpStream` with `sendAll` / `receiveSome`;
 * - http-hello is `serveHttp` with a handler returning `new Response("hello world")`,
 *   cancelled (graceful shutdown) once the load generator is done;
 * - simulation-pingpong is a `Simulation` of two hosts: `serveTcp` echoing on
 *   one, `openTcpStream("server", …)` on the other;
 * - effection-recursion / effection-events follow bench/scenario.ts: a nested
 *   call of async functions inside `run()`; a chain of listener tasks, each
 *   holding an `EventTarget` listener for as long as it lives (added on entry,
 *   removed in `finally` when cancelled) and started with `nursery.start()` so
 *   that the whole chain listens before the first event is dispatched.
 *
 * `run()` starts and ends inside the measured time: what a user pays for one
 * structured-concurrency region is part of the cost.
 */
import {
  checkpoint,
  isCancelled,
  lowlevel,
  mapConcurrent,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
  sleepForever,
  type TaskStatus,
} from "@weft/core";
import {
  openTcpStream,
  type SocketListener,
  type SocketStream,
  serveHttp,
  serveTcp,
} from "@weft/net";
import { type Implementation, type RunResult, type Size, sleepMs } from "../scenario.ts";
import { assert } from "../support/check.ts";
import { hostReply } from "../support/host-reply.ts";
import { BODY, driveLoad } from "../support/http.ts";
import { mapItem } from "../support/map-item.ts";
import { settledHeapUsed } from "../support/memory.ts";
import { EVENTS, recurse } from "../support/recursion.ts";
import { simulatedPingPong } from "../support/simulation.ts";
import { fillMessage, HOST, MESSAGE_BYTES, matches } from "../support/tcp.ts";

/** Milliseconds of a `run()` whose nursery starts `body` as n tasks. */
async function timeTasks(n: number, body: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run(() =>
    openNursery(async (nursery) => {
      for (let i = 0; i < n; i++) nursery.startSoon(body);
    }),
  );
  return performance.now() - t0;
}

async function checkpointRunner({ n, m }: Size): Promise<RunResult> {
  let count = 0;
  const body = async (): Promise<void> => {
    for (let s = 0; s < m; s++) {
      await checkpoint();
      count++;
    }
  };
  const measured = await timeTasks(n, body);
  return { check: count, measured };
}

async function foreignAwait({ n, m }: Size): Promise<RunResult> {
  let count = 0;
  const body = async (): Promise<void> => {
    for (let s = 0; s < m; s++) {
      await hostReply();
      await checkpoint();
      count++;
    }
  };
  const measured = await timeTasks(n, body);
  return { check: count, measured };
}

async function spawnJoin({ n }: Size): Promise<RunResult> {
  let count = 0;
  const body = async (): Promise<void> => {
    count++;
  };
  const measured = await timeTasks(n, body);
  return { check: count, measured };
}

async function sleepMany({ n }: Size): Promise<RunResult> {
  let woken = 0;
  const body = async (ms: number): Promise<void> => {
    await sleep(ms);
    woken++;
  };
  const t0 = performance.now();
  await run(() =>
    openNursery(async (nursery) => {
      for (let i = 0; i < n; i++) {
        const ms = sleepMs(i);
        nursery.startSoon(() => body(ms));
      }
    }),
  );
  return { check: woken, measured: performance.now() - t0 };
}

/** A task that blocks until cancelled, counting its cancellation. */
function blockedTask(counts: { blocked: number; cancelled: number }): () => Promise<void> {
  return async () => {
    counts.blocked++;
    try {
      await sleepForever();
    } catch (error) {
      if (isCancelled(error)) counts.cancelled++;
      throw error;
    }
  };
}

async function cancelMany({ n }: Size): Promise<RunResult> {
  const counts = { blocked: 0, cancelled: 0 };
  const body = blockedTask(counts);
  const measured = await run(async () => {
    let t0 = 0;
    await openNursery(async (nursery) => {
      for (let i = 0; i < n; i++) nursery.startSoon(body);
      await lowlevel.waitAllTasksBlocked();
      assert(counts.blocked === n, `weft cancel-many: ${counts.blocked} of ${n} blocked`);
      t0 = performance.now();
      nursery.cancelScope.cancel();
    });
    return performance.now() - t0;
  });
  return { check: counts.cancelled, measured };
}

async function channelUnbuffered({ n }: Size): Promise<RunResult> {
  let trips = 0;
  const t0 = performance.now();
  await run(() =>
    openNursery(async (nursery) => {
      const [pingSend, pingReceive] = openMemoryChannel<number>(0);
      const [pongSend, pongReceive] = openMemoryChannel<number>(0);
      nursery.startSoon(async () => {
        for (let i = 0; i < n; i++) {
          await pingSend.send(i);
          const reply = await pongReceive.receive();
          assert(reply === i + 1, `weft ping-pong: reply ${reply} to ${i}`);
          trips++;
        }
      });
      nursery.startSoon(async () => {
        for (let i = 0; i < n; i++) await pongSend.send((await pingReceive.receive()) + 1);
      });
    }),
  );
  return { check: trips, measured: performance.now() - t0 };
}

async function channelBuffered({ n, m }: Size): Promise<RunResult> {
  let sum = 0;
  const t0 = performance.now();
  await run(() =>
    openNursery(async (nursery) => {
      const [send, receive] = openMemoryChannel<number>(m);
      nursery.startSoon(async () => {
        for (let i = 0; i < n; i++) await send.send(i);
      });
      nursery.startSoon(async () => {
        for (let i = 0; i < n; i++) {
          const value = await receive.receive();
          assert(value === i, `weft buffered: received ${value}, expected ${i}`);
          sum += value;
        }
      });
    }),
  );
  return { check: sum, measured: performance.now() - t0 };
}

async function mapLimit({ n, m }: Size): Promise<RunResult> {
  const items = Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const results = await run(() => mapConcurrent(items, mapItem, { limit: m }));
  const measured = performance.now() - t0;
  let check = 0;
  for (let i = 0; i < results.length; i++) {
    assert(results[i] === i * 2, `weft map-limit: result ${i} is ${results[i]}`);
    check += results[i]!;
  }
  return { check, measured };
}

/** The echo server's handler: what it receives, it sends back, until end of file. */
async function echoHandler(stream: SocketStream): Promise<void> {
  for (;;) {
    const data = await stream.receiveSome();
    if (data.length === 0) return;
    await stream.sendAll(data);
  }
}

async function tcpEcho({ n, m }: Size): Promise<RunResult> {
  let echoed = 0;
  const client = async (stream: SocketStream, id: number): Promise<void> => {
    const message = new Uint8Array(MESSAGE_BYTES);
    for (let trip = 0; trip < m; trip++) {
      fillMessage(message, id, trip);
      await stream.sendAll(message);
      let got = 0;
      while (got < MESSAGE_BYTES) {
        const chunk = await stream.receiveSome(MESSAGE_BYTES - got);
        assert(chunk.length > 0, `weft tcp-echo: connection ${id} closed early`);
        assert(matches(chunk, message, got), `weft tcp-echo: connection ${id} got a wrong echo`);
        got += chunk.length;
        echoed += chunk.length;
      }
    }
  };
  const measured = await run(async () => {
    let elapsed = 0;
    await openNursery(async (nursery) => {
      const listeners = await nursery.start<SocketListener[]>((taskStatus) =>
        serveTcp(echoHandler, 0, { host: HOST, taskStatus }),
      );
      const port = listeners[0]!.localAddress.port;
      // Connections are opened before the clock starts (the scenario measures round trips).
      const streams: SocketStream[] = new Array(n);
      await openNursery(async (connecting) => {
        for (let i = 0; i < n; i++) {
          connecting.startSoon(async () => {
            streams[i] = await openTcpStream(HOST, port);
          });
        }
      });
      const t0 = performance.now();
      await openNursery(async (clients) => {
        for (let i = 0; i < n; i++) clients.startSoon(() => client(streams[i]!, i));
      });
      elapsed = performance.now() - t0;
      for (const stream of streams) await stream.aclose();
      nursery.cancelScope.cancel("benchmark done");
    });
    return elapsed;
  });
  return { check: echoed, measured };
}

async function memoryPerTask({ n }: Size): Promise<RunResult> {
  const counts = { blocked: 0, cancelled: 0 };
  const body = blockedTask(counts);
  const measured = await run(async () => {
    let bytes = 0;
    await openNursery(async (nursery) => {
      const before = settledHeapUsed();
      for (let i = 0; i < n; i++) nursery.startSoon(body);
      await lowlevel.waitAllTasksBlocked();
      assert(counts.blocked === n, `weft memory: ${counts.blocked} of ${n} blocked`);
      bytes = settledHeapUsed() - before;
      nursery.cancelScope.cancel();
    });
    return bytes;
  });
  return { check: counts.cancelled, measured };
}

async function effectionRecursion({ n, m }: Size): Promise<RunResult> {
  const counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) await run(() => recurse(n, counter));
  return { check: counter.count, measured: performance.now() - t0 };
}

/**
 * Level `depth` of the listener chain: listens for "foo" on `target` while it
 * lives, re-dispatching each event to the next level's target from the
 * handler; reports started once every level below it listens too.
 */
async function listen(
  target: EventTarget,
  depth: number,
  counter: { count: number },
  taskStatus: TaskStatus,
): Promise<void> {
  const next = depth > 1 ? new EventTarget() : undefined;
  const handler = (): void => {
    counter.count++;
    next?.dispatchEvent(new Event("foo"));
  };
  target.addEventListener("foo", handler);
  try {
    if (next === undefined) {
      taskStatus.started();
      await sleepForever();
    } else {
      await openNursery(async (nursery) => {
        await nursery.start((status) => listen(next, depth - 1, counter, status));
        taskStatus.started();
        await sleepForever();
      });
    }
  } finally {
    target.removeEventListener("foo", handler);
  }
}

async function effectionEvents({ n, m }: Size): Promise<RunResult> {
  const counter = { count: 0 };
  const t0 = performance.now();
  for (let r = 0; r < m; r++) {
    await run(async () => {
      const target = new EventTarget();
      await openNursery(async (nursery) => {
        await nursery.start((status) => listen(target, n, counter, status));
        for (let i = 0; i < EVENTS; i++) {
          await checkpoint();
          target.dispatchEvent(new Event("foo"));
        }
        await checkpoint();
        nursery.cancelScope.cancel();
      });
    });
  }
  return { check: counter.count, measured: performance.now() - t0 };
}

async function simulationPingpong({ n }: Size): Promise<RunResult> {
  const t0 = performance.now();
  const roundTrips = await simulatedPingPong(n, 1);
  return { check: roundTrips, measured: performance.now() - t0 };
}

async function httpHello(size: Size): Promise<RunResult> {
  return run(async () => {
    let result: RunResult | undefined;
    await openNursery(async (nursery) => {
      const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
        serveHttp(() => new Response(BODY), { port: 0, host: HOST, taskStatus }),
      );
      result = await driveLoad(listener!.localAddress.port, size);
      nursery.cancelScope.cancel();
    });
    return result!;
  });
}

/** The weft runners (see the file comment). */
export const scenarios: Implementation = {
  checkpoint: checkpointRunner,
  "foreign-await": foreignAwait,
  "spawn-join": spawnJoin,
  "sleep-many": sleepMany,
  "cancel-many": cancelMany,
  "channel-unbuffered": channelUnbuffered,
  "channel-buffered": channelBuffered,
  "map-limit": mapLimit,
  "tcp-echo": tcpEcho,
  "effection-recursion": effectionRecursion,
  "effection-events": effectionEvents,
  "memory-per-task": memoryPerTask,
  "http-hello": httpHello,
  "simulation-pingpong": simulationPingpong,
};
