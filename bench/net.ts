/**
 * Net benchmarks: a weft TCP echo server and client against the same programs
 * written with raw `node:net` callbacks, in the same process, on 127.0.0.1.
 *
 *   node --conditions=weft-source --expose-gc net.ts [--quick] [--json FILE] [--only NAME,...]
 *
 * - `tcp-echo`: 100 connections, each doing N sequential round trips of a
 *   64-byte message (all connections at once). Reported as round trips per
 *   second and as µs per round trip (wall time / all round trips, the inverse).
 *   Connecting is not timed. Every echo is compared with what was sent.
 * - `tcp-bulk`: one connection; the client sends 256 MB (quick: 8 MB) in 64 KiB
 *   writes to a sink server that counts and spot-checks the bytes and, at end
 *   of file, answers with the count. A sink rather than an echo, so that one
 *   direction is measured, not two flows competing for the same event loop.
 *   Timed from the first write until the count is back; MB = 10^6 bytes.
 *
 * The weft side is one `run()`: `serveTcp` and `openTcpStream`, with
 * `SocketStream.sendAll` / `receiveSome`. The raw side: `net.createServer` and
 * `net.connect`, `'data'` events and `write` (with `'drain'` backpressure for
 * bulk). TCP_NODELAY on both, as `SocketStream` sets it.
 *
 * Raw and weft iterations alternate (see `measurePair`), each after a full GC.
 *
 * Goals (reported, not enforced): weft within 1.25x raw time per round trip,
 * and within 10% of raw throughput. The exit status is non-zero only when a
 * correctness check fails.
 */
import { writeFileSync } from "node:fs";
import * as net from "node:net";
import { parseArgs } from "node:util";
import { openNursery, run } from "@weft/core";
import { openTcpStream, type SocketListener, type SocketStream, serveTcp } from "@weft/net";
import {
  check,
  mapStats,
  measurePair,
  printTable,
  type Row,
  row,
  sourceRevision,
} from "./harness.ts";

// ------------------------------------------------------------------ options

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    only: { type: "string" },
  },
});
const QUICK = flags.quick === true;
const ONLY = flags.only === undefined ? null : new Set(flags.only.split(","));

if (globalThis.gc === undefined) {
  console.error("bench/net.ts needs --expose-gc (run it with `pnpm --filter @weft/bench net`)");
  process.exit(2);
}

const HOST = "127.0.0.1";
const MESSAGE_BYTES = 64;
const BULK_CHUNK = 64 * 1024;

/** Sizes and iteration counts; `--quick` is a smoke run (a few seconds). */
const SIZE = QUICK
  ? { connections: 100, tripsEach: 100, bulkBytes: 8 * 1024 * 1024, warmup: 1, runs: 3 }
  : { connections: 100, tripsEach: 1000, bulkBytes: 256 * 1024 * 1024, warmup: 2, runs: 6 };

// ------------------------------------------------------------------ shared

/** The message of connection `id`'s round trip `trip`: both numbers, then filler. */
function fillMessage(message: Uint8Array, id: number, trip: number): void {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  view.setUint32(0, id);
  view.setUint32(4, trip);
  for (let i = 8; i < message.length; i++) message[i] = (id + trip + i) & 0xff;
}

/** Whether `chunk` equals `expected` from `offset` on. */
function matches(chunk: Uint8Array, expected: Uint8Array, offset: number): boolean {
  if (offset + chunk.length > expected.length) return false;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== expected[offset + i]) return false;
  return true;
}

/**
 * Bulk data: the byte at stream offset `o` is `o & 0xff`, so every 64 KiB chunk
 * is the same buffer, and a receiver can spot-check any chunk it gets by its
 * first and last byte.
 */
const BULK_DATA = new Uint8Array(BULK_CHUNK).map((_, i) => i & 0xff);

/** Spot check of a received bulk chunk starting at stream offset `offset`. */
function bulkChunkOk(chunk: Uint8Array, offset: number): boolean {
  return (
    chunk[0] === (offset & 0xff) && chunk[chunk.length - 1] === ((offset + chunk.length - 1) & 0xff)
  );
}

function waitListening(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function connectRaw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: HOST, noDelay: true });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

// ------------------------------------------------------------------ tcp-echo

async function rawEcho(): Promise<number> {
  const { connections, tripsEach } = SIZE;
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on("data", (data) => socket.write(data));
    socket.on("error", () => {});
  });
  const port = await waitListening(server);
  const sockets = await Promise.all(Array.from({ length: connections }, () => connectRaw(port)));
  let verified = 0;
  let wrong = 0;
  const client = (socket: net.Socket, id: number) =>
    new Promise<void>((resolve, reject) => {
      // One buffer per connection, refilled only once its echo is back (so it
      // is no longer being written).
      const message = Buffer.alloc(MESSAGE_BYTES);
      let trip = 0;
      let got = 0;
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        if (!matches(chunk, message, got)) wrong++;
        got += chunk.length;
        if (got < MESSAGE_BYTES) return;
        verified++;
        got = 0;
        if (++trip === tripsEach) {
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
  const ms = performance.now() - t0;
  for (const socket of sockets) socket.destroy();
  await closeServer(server);
  check(wrong === 0, `raw echo: ${wrong} echoes differ from what was sent`);
  check(verified === connections * tripsEach, `raw echo: ${verified} round trips verified`);
  return ms;
}

/** The weft echo handler: what it receives, it sends back, until end of file. */
async function echoHandler(stream: SocketStream): Promise<void> {
  for (;;) {
    const data = await stream.receiveSome();
    if (data.length === 0) return;
    await stream.sendAll(data);
  }
}

async function weftEcho(): Promise<number> {
  const { connections, tripsEach } = SIZE;
  let verified = 0;
  let wrong = 0;
  const client = async (stream: SocketStream, id: number): Promise<void> => {
    const message = new Uint8Array(MESSAGE_BYTES);
    for (let trip = 0; trip < tripsEach; trip++) {
      fillMessage(message, id, trip);
      await stream.sendAll(message);
      let got = 0;
      while (got < MESSAGE_BYTES) {
        const chunk = await stream.receiveSome(MESSAGE_BYTES - got);
        check(chunk.length > 0, "weft echo: the server closed the connection");
        if (!matches(chunk, message, got)) wrong++;
        got += chunk.length;
      }
      verified++;
    }
  };
  const ms = await run(async () => {
    let elapsed = 0;
    await openNursery(async (nursery) => {
      const listeners = await nursery.start<SocketListener[]>((taskStatus) =>
        serveTcp(echoHandler, 0, { host: HOST, taskStatus }),
      );
      const port = listeners[0]!.localAddress.port;
      const streams: SocketStream[] = [];
      await openNursery(async (connecting) => {
        for (let i = 0; i < connections; i++) {
          connecting.startSoon(async () => {
            streams[i] = await openTcpStream(HOST, port);
          });
        }
      });
      const t0 = performance.now();
      await openNursery(async (clients) => {
        for (let i = 0; i < connections; i++) clients.startSoon(() => client(streams[i]!, i));
      });
      elapsed = performance.now() - t0;
      for (const stream of streams) await stream.aclose();
      nursery.cancelScope.cancel("benchmark done");
    });
    return elapsed;
  });
  check(wrong === 0, `weft echo: ${wrong} echoes differ from what was sent`);
  check(verified === connections * tripsEach, `weft echo: ${verified} round trips verified`);
  return ms;
}

async function echoScenario(): Promise<Row[]> {
  const { connections, tripsEach, warmup, runs } = SIZE;
  const trips = connections * tripsEach;
  const label = `tcp-echo ${connections}x${tripsEach}`;
  const [raw, weft] = await measurePair(label, "ms", rawEcho, weftEcho, warmup, runs);
  const perTrip = (ms: number) => (ms * 1000) / trips;
  const perSecond = (ms: number) => trips / (ms / 1000);
  return [
    row("tcp-echo", "µs/round trip", false, mapStats(raw, perTrip), mapStats(weft, perTrip), {
      text: "<= 1.25x",
      pass: (ratio) => ratio <= 1.25,
    }),
    row(
      "tcp-echo",
      "round trips/s",
      true,
      mapStats(raw, perSecond),
      mapStats(weft, perSecond),
      null,
    ),
  ];
}

// ------------------------------------------------------------------ tcp-bulk

/** The sink's answer at end of file: `<bytes received> <chunks failing the spot check>`. */
function parseAnswer(text: string): { bytes: number; bad: number } {
  const [bytes, bad] = text.trim().split(" ").map(Number);
  return { bytes: bytes ?? Number.NaN, bad: bad ?? Number.NaN };
}

async function rawBulk(): Promise<number> {
  const total = SIZE.bulkBytes;
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    let received = 0;
    let bad = 0;
    socket.on("data", (chunk: Buffer) => {
      if (!bulkChunkOk(chunk, received)) bad++;
      received += chunk.length;
    });
    socket.on("end", () => socket.end(`${received} ${bad}`));
    socket.on("error", () => {});
  });
  const port = await waitListening(server);
  const socket = await connectRaw(port);
  const chunk = Buffer.from(BULK_DATA.buffer);
  const t0 = performance.now();
  const answer = await new Promise<string>((resolve, reject) => {
    let text = "";
    socket.on("error", reject);
    socket.on("data", (data: Buffer) => {
      text += data.toString();
    });
    socket.on("end", () => resolve(text));
    let sent = 0;
    // Write until the socket asks us to wait, then continue on 'drain'. The same
    // buffer every time: Node keeps a reference, and its content never changes.
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  const ms = performance.now() - t0;
  socket.destroy();
  await closeServer(server);
  const { bytes, bad } = parseAnswer(answer);
  check(bytes === total, `raw bulk: the sink got ${bytes} of ${total} bytes`);
  check(bad === 0, `raw bulk: ${bad} chunks failed the spot check`);
  return ms;
}

async function sinkHandler(stream: SocketStream): Promise<void> {
  let received = 0;
  let bad = 0;
  for (;;) {
    const chunk = await stream.receiveSome();
    if (chunk.length === 0) break;
    if (!bulkChunkOk(chunk, received)) bad++;
    received += chunk.length;
  }
  await stream.sendAll(new TextEncoder().encode(`${received} ${bad}`));
}

async function weftBulk(): Promise<number> {
  const total = SIZE.bulkBytes;
  let answer = "";
  const ms = await run(async () => {
    let elapsed = 0;
    await openNursery(async (nursery) => {
      const listeners = await nursery.start<SocketListener[]>((taskStatus) =>
        serveTcp(sinkHandler, 0, { host: HOST, taskStatus }),
      );
      const stream = await openTcpStream(HOST, listeners[0]!.localAddress.port);
      const t0 = performance.now();
      for (let sent = 0; sent < total; sent += BULK_DATA.length) await stream.sendAll(BULK_DATA);
      await stream.sendEof();
      const decoder = new TextDecoder();
      for await (const chunk of stream) answer += decoder.decode(chunk, { stream: true });
      elapsed = performance.now() - t0;
      await stream.aclose();
      nursery.cancelScope.cancel("benchmark done");
    });
    return elapsed;
  });
  const { bytes, bad } = parseAnswer(answer);
  check(bytes === total, `weft bulk: the sink got ${bytes} of ${total} bytes`);
  check(bad === 0, `weft bulk: ${bad} chunks failed the spot check`);
  return ms;
}

async function bulkScenario(): Promise<Row[]> {
  const { bulkBytes, warmup, runs } = SIZE;
  const label = `tcp-bulk ${bulkBytes / 2 ** 20} MiB`;
  const [raw, weft] = await measurePair(label, "ms", rawBulk, weftBulk, warmup, runs);
  const mbPerSecond = (ms: number) => bulkBytes / 1e6 / (ms / 1000);
  return [
    row("tcp-bulk", "MB/s", true, mapStats(raw, mbPerSecond), mapStats(weft, mbPerSecond), {
      text: ">= 0.9x",
      pass: (ratio) => ratio >= 0.9,
    }),
  ];
}

// ------------------------------------------------------------------ main

const SCENARIOS: { name: string; run: () => Promise<Row[]> }[] = [
  { name: "tcp-echo", run: echoScenario },
  { name: "tcp-bulk", run: bulkScenario },
];

async function main(): Promise<void> {
  if (ONLY !== null) {
    const known = new Set(SCENARIOS.map((scenario) => scenario.name));
    const unknown = [...ONLY].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      console.error(`unknown scenario(s) ${unknown.join(", ")}; known: ${[...known].join(", ")}`);
      process.exit(2);
    }
  }
  const revision = sourceRevision(["../packages/core/src", "../packages/net/src"]);
  console.log(
    `node ${process.version} (${process.platform} ${process.arch}, V8 ${process.versions.v8})` +
      ` — weft net benchmarks at ${revision}, ${QUICK ? "quick" : "full"} mode`,
  );
  const started = performance.now();
  const rows: Row[] = [];
  for (const scenario of SCENARIOS) {
    if (ONLY !== null && !ONLY.has(scenario.name)) continue;
    process.stderr.write(`${scenario.name}\n`);
    rows.push(...(await scenario.run()));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log();
  printTable(rows);
  console.log(`\n(${seconds.toFixed(1)} s; values are medians of measured runs after warm-up)`);

  if (flags.json !== undefined) {
    const report = {
      node: process.version,
      v8: process.versions.v8,
      platform: `${process.platform} ${process.arch}`,
      revision,
      mode: QUICK ? "quick" : "full",
      date: new Date().toISOString(),
      seconds,
      rows,
    };
    writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${flags.json}`);
  }
  const failed = rows.filter((r) => r.pass === false);
  if (failed.length > 0) {
    console.log(`goals missed: ${failed.map((r) => `${r.scenario} (${r.unit})`).join(", ")}`);
  }
}

await main();
