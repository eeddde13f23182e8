/**
 * Bad-input fuzzing of every export of @weft/net (generated from the sources:
 * see core's test/support/bad-input-fuzz.ts for the contract). Receivers that
 * need I/O (sockets, files, a process) are made inside the run and closed
 * after each case.
 */
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { sleepForever } from "@weft/core";
import { StapledStream } from "@weft/core/streams";
import { MemoryReceiveStream, MemorySendStream, memoryStreamPair } from "@weft/testing/streams";
import { afterAll } from "vitest";
import { fuzzBadInput } from "../../core/test/support/bad-input-fuzz.ts";
import {
  BufferedReceiveStream,
  HalfCloseableTimeoutStream,
  openFile,
  openProcess,
  openTcpListeners,
  openTcpStream,
  openUdpSocket,
  TextReceiveStream,
  TimeoutStream,
  TlsStream,
  WebReceiveStream,
} from "../src/index.ts";

const DIRECTORY = fs.mkdtempSync(path.join(os.tmpdir(), "weft-net-fuzz-"));
const FILE = path.join(DIRECTORY, "file.txt");
fs.writeFileSync(FILE, "x");
/** Listening servers and bound UDP sockets made for SocketListener and UdpSocket; closed at the end. */
const opened: { close(): unknown }[] = [];
afterAll(() => {
  for (const each of opened) {
    try {
      each.close();
    } catch {
      // already closed, by the SocketListener or UdpSocket that wrapped it
    }
  }
  fs.rmSync(DIRECTORY, { recursive: true, force: true });
});

async function listeningServer(): Promise<net.Server> {
  const server = net.createServer();
  opened.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

async function boundSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  opened.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return socket;
}

/** Refused: nothing listens on port 2 of the loopback address (fetch refuses port 1 itself). */
const NOWHERE = "http://127.0.0.1:2/";
const handler = async () => {};
const stapled = () => new StapledStream(new MemorySendStream(), new MemoryReceiveStream());
/** A listener that nobody connects to (its accept is cancellable, as a listener's must be). */
const transportListener = () => ({ accept: () => sleepForever(), aclose: async () => {} });

/**
 * Why an error class's constructor with fields (not a message) is not fuzzed:
 * weft raises it with values it has, and it stores them as given.
 */
const ERROR_FIELDS =
  "an error class weft raises with its own values: the constructor stores its fields as given, as Error's stores a message";

fuzzBadInput("@weft/net", {
  receivers: {
    BufferedReceiveStream: () => new BufferedReceiveStream(new MemoryReceiveStream()),
    FileStream: async (defer) => {
      const file = await openFile(path.join(DIRECTORY, `stream-${process.hrtime.bigint()}`), "w+");
      defer(() => fs.rmSync(file.path, { force: true }));
      return file;
    },
    HalfCloseableTimeoutStream: () =>
      new HalfCloseableTimeoutStream(memoryStreamPair()[0], { idle: 1_000 }),
    Process: () =>
      openProcess(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], {
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
      }),
    SocketStream: async (defer) => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      defer(() => listener!.aclose());
      const port = (listener!.localAddress as { port: number }).port;
      const client = await openTcpStream("127.0.0.1", port);
      const server = await listener!.accept();
      defer(() => server.aclose());
      return client;
    },
    TextReceiveStream: () => new TextReceiveStream(new MemoryReceiveStream()),
    TimeoutStream: () => new TimeoutStream(stapled(), { idle: 1_000 }),
    TlsStream: () => new TlsStream(memoryStreamPair()[0], { serverName: "localhost" }),
    UdpSocket: () => openUdpSocket({ address: "127.0.0.1" }),
    WebReceiveStream: () => new WebReceiveStream(new ReadableStream()),
  },
  validArguments: {
    appendFile: () => [FILE, "x"],
    readFile: () => [FILE],
    readTextFile: () => [FILE],
    sendFile: () => [new MemorySendStream(), FILE],
    writeFile: () => [FILE, "x"],
    openFile: () => [FILE, "r"],
    fetch: () => [NOWHERE],
    fetchBytes: () => [NOWHERE],
    fetchJson: () => [NOWHERE],
    fetchText: () => [NOWHERE],
    readBytes: () => [new Response("x")],
    readJson: () => [new Response("1")],
    readText: () => [new Response("x")],
    serveHttp: () => [() => new Response("x"), { port: 0, host: "127.0.0.1" }],
    openTcpListeners: () => [0, { host: "127.0.0.1" }],
    openTcpStream: () => ["127.0.0.1", 1],
    openTlsOverTcpStream: () => ["127.0.0.1", 1],
    serveListeners: () => [handler, [transportListener()]],
    serverSentEvents: () => [(async function* () {})()],
    serveTcp: () => [handler, 0, { host: "127.0.0.1" }],
    "new SocketListener": async () => [await listeningServer()],
    "new SocketStream": () => [
      new net.Socket(),
      {
        local: { family: 4, address: "127.0.0.1", port: 1 },
        remote: { family: 4, address: "127.0.0.1", port: 2 },
      },
    ],
    openUdpSocket: () => [{ address: "127.0.0.1" }],
    "new UdpSocket": async () => [await boundSocket()],
    openUnixListener: () => [path.join(DIRECTORY, `listener-${process.hrtime.bigint()}.sock`)],
    openUnixSocket: () => [path.join(DIRECTORY, "nothing.sock")],
    "new BufferedReceiveStream": () => [new MemoryReceiveStream()],
    "new TextReceiveStream": () => [new MemoryReceiveStream()],
    "new WebReceiveStream": () => [new ReadableStream()],
    "new HalfCloseableTimeoutStream": () => [memoryStreamPair()[0], {}],
    "new TimeoutStream": () => [stapled(), {}],
    withTimeouts: () => [stapled(), {}],
    "new TlsListener": () => [transportListener(), {}],
    "new TlsStream": () => [memoryStreamPair()[0], { serverName: "localhost" }],
    "TlsStream.connect": () => [memoryStreamPair()[0], { serverName: "localhost" }],
    "TlsStream.accept": () => [memoryStreamPair()[0], {}],
    "FileStream.prototype.receiveSome": () => [1],
    "BufferedReceiveStream.prototype.receiveUntil": () => ["\n"],
    "UdpSocket.prototype.send": () => [new Uint8Array(1), 9, "127.0.0.1"],
    "UdpSocket.prototype.connect": () => ["127.0.0.1", 9],
  },
  allow: {
    "new HttpStatusError": ERROR_FIELDS,
    "new PayloadTooLargeError": ERROR_FIELDS,
    "new CalledProcessError": ERROR_FIELDS,
    "new SpawnError": ERROR_FIELDS,
    "new IncompleteReadError": ERROR_FIELDS,
    "new LimitOverrunError": ERROR_FIELDS,
    "new Ticker":
      "made by periodic(), which checks the arguments (the constructor's documentation: 'Use periodic()'); periodic is fuzzed",
  },
});
