/**
 * API.md, "Conventions": a function that returns a promise never throws
 * synchronously. Bad arguments and calls outside run() reject the promise it
 * returns (with the argument's name in the message, or saying that it must be
 * called inside run()); synchronous functions and constructors throw at once.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "@weft/core";
import { MemoryReceiveStream, MemorySendStream, memoryStreamPair } from "@weft/testing/streams";
import { describe, test } from "vitest";
import { expectEveryExportClassified, expectRejects } from "../../core/test/support/helpers.ts";
import * as net from "../src/index.ts";
import {
  acloseForcefully,
  appendFile,
  BufferedReceiveStream,
  ConflictDetector,
  fetch,
  fetchBytes,
  fetchJson,
  fetchText,
  openFile,
  openProcess,
  openTcpListeners,
  openTcpStream,
  openTlsOverTcpStream,
  openUdpSocket,
  openUnixListener,
  openUnixSocket,
  readBytes,
  readFile,
  readJson,
  readText,
  readTextFile,
  runProcess,
  StapledStream,
  sendFile,
  serveHttp,
  serveListeners,
  serveTcp,
  TextReceiveStream,
  withTimeouts,
  writeFile,
} from "../src/index.ts";

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;
const bad = <T>(value: unknown) => value as T;
const handler = async () => {};
const httpHandler = () => new Response("");
const OUTSIDE = /must be called inside weft's run\(\)/;
const NOWHERE = path.join(os.tmpdir(), "weft-bad-input-never-created");

/** Bad arguments to every promise-returning function of @weft/net. */
const badArguments: [label: string, call: () => unknown, error: ErrorClass, names: RegExp][] = [
  ["readFile(42)", () => readFile(bad(42)), TypeError, /path/],
  ["readTextFile(42)", () => readTextFile(bad(42)), TypeError, /path/],
  ["writeFile(42, data)", () => writeFile(bad(42), "x"), TypeError, /path/],
  ["writeFile(path, 42)", () => writeFile(NOWHERE, bad(42)), TypeError, /data/],
  ["appendFile(42, data)", () => appendFile(bad(42), "x"), TypeError, /path/],
  ["appendFile(path, data, 3)", () => appendFile(NOWHERE, "x", bad(3)), TypeError, /options/],
  ["sendFile(42, path)", () => sendFile(bad(42), NOWHERE), TypeError, /stream/],
  ["sendFile(stream, 42)", () => sendFile(new MemorySendStream(), bad(42)), TypeError, /path/],
  ["openFile(42)", () => openFile(bad(42)), TypeError, /path/],
  ["openFile(path, 'q')", () => openFile(NOWHERE, bad("q")), RangeError, /flags/],
  ["openTcpListeners(-1)", () => openTcpListeners(-1), RangeError, /port/],
  ["openTcpListeners(0, 5)", () => openTcpListeners(0, bad(5)), TypeError, /options/],
  ["openTcpStream(42, port)", () => openTcpStream(bad(42), 80), TypeError, /host/],
  ["openTcpStream(host, -1)", () => openTcpStream("localhost", -1), RangeError, /port/],
  ["openTlsOverTcpStream(42, port)", () => openTlsOverTcpStream(bad(42), 443), TypeError, /host/],
  ["openProcess('')", () => openProcess(""), TypeError, /command/],
  ["openProcess(cmd, 'x')", () => openProcess("node", bad("x")), TypeError, /args/],
  ["runProcess('')", () => runProcess(""), TypeError, /command/],
  [
    "runProcess(cmd, [], { input: 5 })",
    () => runProcess("node", [], { input: bad(5) }),
    TypeError,
    /options\.input/,
  ],
  [
    "serveListeners(42, [])",
    () => serveListeners(bad<typeof handler>(42), []),
    TypeError,
    /handler/,
  ],
  ["serveListeners(fn, 42)", () => serveListeners(handler, bad<[]>(42)), TypeError, /listeners/],
  ["serveTcp(42, port)", () => serveTcp(bad(42), 0), TypeError, /handler/],
  ["openUdpSocket(42)", () => openUdpSocket(bad(42)), TypeError, /options/],
  ["openUnixSocket(42)", () => openUnixSocket(bad(42)), TypeError, /path/],
  ["openUnixListener(42)", () => openUnixListener(bad(42)), TypeError, /path/],
  ["acloseForcefully(42)", () => acloseForcefully(bad(42)), TypeError, /resource/],
  ["fetch(42)", () => fetch(bad(42)), TypeError, /input/],
  ["fetchBytes(42)", () => fetchBytes(bad(42)), TypeError, /input/],
  ["fetchJson(42)", () => fetchJson(bad(42)), TypeError, /input/],
  ["fetchText(42)", () => fetchText(bad(42)), TypeError, /input/],
  ["readBytes(42)", () => readBytes(bad(42)), TypeError, /response/],
  ["readJson(42)", () => readJson(bad(42)), TypeError, /response/],
  ["readText(42)", () => readText(bad(42)), TypeError, /response/],
  // Methods of objects that can be made outside a run.
  [
    "BufferedReceiveStream.receiveSome(-1)",
    () => new BufferedReceiveStream(new MemoryReceiveStream()).receiveSome(-1),
    RangeError,
    /maxBytes/,
  ],
  [
    "BufferedReceiveStream.receiveExactly(-1)",
    () => new BufferedReceiveStream(new MemoryReceiveStream()).receiveExactly(-1),
    RangeError,
    /\bn\b/,
  ],
  [
    "BufferedReceiveStream.receiveUntil(42)",
    () => new BufferedReceiveStream(new MemoryReceiveStream()).receiveUntil(bad(42)),
    TypeError,
    /delimiter/,
  ],
  [
    "StapledStream.sendAll(42)",
    () => new StapledStream(new MemorySendStream(), new MemoryReceiveStream()).sendAll(bad(42)),
    TypeError,
    /data/,
  ],
  [
    "StapledStream.receiveSome(-1) (a stream that throws synchronously)",
    () =>
      new StapledStream(new MemorySendStream(), {
        receiveSome: () => {
          throw new RangeError("maxBytes must be an integer >= 1");
        },
        aclose: async () => {},
      } as unknown as MemoryReceiveStream).receiveSome(-1),
    RangeError,
    /maxBytes/,
  ],
  ["ConflictDetector.run(42)", () => new ConflictDetector("busy").run(bad(42)), TypeError, /fn/],
  ["serveHttp(42, { port: 0 })", () => serveHttp(bad(42), { port: 0 }), TypeError, /handler/],
  ["serveHttp(fn, {})", () => serveHttp(httpHandler, {}), TypeError, /port/],
  ["serveHttp(fn, null)", () => serveHttp(httpHandler, bad<never>(null)), TypeError, /options/],
  [
    "serveHttp(fn, { gracePeriod: -1 })",
    () => serveHttp(httpHandler, { port: 0, gracePeriod: -1 }),
    RangeError,
    /gracePeriod/,
  ],
  [
    "serveHttp(fn, { maxBodySize: 1.5 })",
    () => serveHttp(httpHandler, { port: 0, maxBodySize: 1.5 }),
    RangeError,
    /maxBodySize/,
  ],
  [
    "serveHttp(fn, { log: 42 })",
    () => serveHttp(httpHandler, { port: 0, log: bad(42) }),
    TypeError,
    /log/,
  ],
];

describe("bad arguments reject, never throw", () => {
  test.each(badArguments)("%s (outside run)", async (_label, call, errorClass, names) => {
    await expectRejects(call, errorClass, names);
  });

  test.each(badArguments)("%s (inside run)", async (_label, call, errorClass, names) => {
    await run(async () => {
      await expectRejects(call, errorClass, names);
    });
  });

  test("methods of sockets, files and timeout streams", async () => {
    await run(async () => {
      const udp = await openUdpSocket();
      try {
        await expectRejects(() => udp.send(bad(42), 9, "127.0.0.1"), TypeError, /data/);
        await expectRejects(() => udp.connect(bad(42), 9), TypeError, /host/);
      } finally {
        await udp.aclose();
      }
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      const address = listener!.localAddress as { port: number };
      const client = await openTcpStream("127.0.0.1", address.port);
      const server = await listener!.accept();
      try {
        await expectRejects(() => client.sendAll(bad(42)), TypeError, /data/);
        await expectRejects(() => client.receiveSome(-1), RangeError, /maxBytes/);
        const timed = withTimeouts(server, { read: 1000, write: 1000 });
        await expectRejects(() => timed.sendAll(bad(42)), TypeError, /data/);
        await expectRejects(() => timed.receiveSome(-1), RangeError, /maxBytes/);
      } finally {
        await client.aclose();
        await server.aclose();
        await listener!.aclose();
      }
      const file = await openFile(path.join(os.tmpdir(), `weft-bad-input-${process.pid}`), "w+");
      try {
        await expectRejects(() => file.truncate(-1), RangeError, /length/);
        await expectRejects(() => file.truncate(bad("3")), TypeError, /length/);
        await expectRejects(() => file.sendAll(bad(42)), TypeError, /data/);
        await expectRejects(() => file.receiveSome(-1), RangeError, /maxBytes/);
      } finally {
        await file.aclose();
        fs.rmSync(file.path, { force: true });
      }
    });
  });
});

/** Every promise-returning function of @weft/net, called outside run(). */
const outsideRun: [label: string, call: () => unknown, names: RegExp][] = [
  ["readFile(path)", () => readFile(NOWHERE), /readFile\(\)/],
  ["readTextFile(path)", () => readTextFile(NOWHERE), /readFile\(\)|readTextFile\(\)/],
  ["writeFile(path, data)", () => writeFile(NOWHERE, "x"), /writeFile\(\)/],
  ["appendFile(path, data)", () => appendFile(NOWHERE, "x"), /writeFile\(\)|appendFile\(\)/],
  ["sendFile(stream, path)", () => sendFile(new MemorySendStream(), NOWHERE), /File\(\)/],
  ["openFile(path)", () => openFile(NOWHERE), /openFile\(\)/],
  ["openTcpListeners(0)", () => openTcpListeners(0), /openTcpListeners\(\)/],
  ["openTcpStream(host, port)", () => openTcpStream("localhost", 1), /openTcpStream\(\)/],
  ["openTlsOverTcpStream(host, port)", () => openTlsOverTcpStream("localhost", 1), /Stream\(\)/],
  ["openProcess(cmd)", () => openProcess("node"), /openProcess\(\)/],
  ["runProcess(cmd)", () => runProcess("node"), /runProcess\(\)/],
  ["serveListeners(fn, [])", () => serveListeners(handler, []), OUTSIDE],
  ["serveTcp(fn, 0)", () => serveTcp(handler, 0), OUTSIDE],
  ["serveHttp(fn, { port: 0 })", () => serveHttp(httpHandler, { port: 0 }), OUTSIDE],
  ["openUdpSocket()", () => openUdpSocket(), /openUdpSocket\(\)/],
  ["openUnixSocket(path)", () => openUnixSocket(NOWHERE), /openUnixSocket\(\)/],
  ["openUnixListener(path)", () => openUnixListener(NOWHERE), /openUnixListener\(\)/],
  ["acloseForcefully(stream)", () => acloseForcefully(new MemorySendStream()), OUTSIDE],
  ["fetch(url)", () => fetch("http://127.0.0.1:1/"), /fetch\(\)/],
  ["fetchBytes(url)", () => fetchBytes("http://127.0.0.1:1/"), /fetch\(\)/],
  ["fetchJson(url)", () => fetchJson("http://127.0.0.1:1/"), /fetch\(\)/],
  ["fetchText(url)", () => fetchText("http://127.0.0.1:1/"), /fetch\(\)/],
  ["readBytes(response)", () => readBytes(new Response("x")), /readBytes\(\)/],
  ["readJson(response)", () => readJson(new Response("1")), /read\w*\(\)/],
  ["readText(response)", () => readText(new Response("x")), /read\w*\(\)/],
  [
    "BufferedReceiveStream.receiveSome()",
    () => new BufferedReceiveStream(new MemoryReceiveStream()).receiveSome(),
    /receiveSome\(\)/,
  ],
  [
    "TextReceiveStream.receiveText()",
    () => new TextReceiveStream(new MemoryReceiveStream()).receiveText(),
    OUTSIDE,
  ],
  [
    "StapledStream.sendAll(data)",
    () => new StapledStream(...memoryStreamPair()).sendAll(new Uint8Array(1)),
    OUTSIDE,
  ],
];

describe("outside run(), promise-returning functions reject, never throw", () => {
  test.each(outsideRun)("%s", async (_label, call, names) => {
    await expectRejects(call, Error, OUTSIDE, names);
  });

  test("every function export of @weft/net is classified", () => {
    // A new export must be added here: promise-returning (and to the tables
    // above), or synchronous (it may throw at once).
    const synchronous = new Set([
      "checkMaxBytes",
      "encodeServerSentEvent",
      "serverSentEvents", // returns a Response
      "periodic", // returns a Ticker; ticker.next() returns a promise
      "receiveChunks", // returns an async iterator
      "setCustomHostnameResolver",
      "setCustomSocketFactory",
      "withTimeouts",
    ]);
    expectEveryExportClassified(net, synchronous, {
      "outside-run()": outsideRun,
      "bad-arguments": badArguments,
    });
  });
});
