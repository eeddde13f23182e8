/** Starting serveHttp for a test, and raw HTTP over TCP for what clients hide. */
import * as net from "node:net";
import { type Nursery, openNursery, type RunOptions, run } from "@weft/core";
import {
  type HttpHandler,
  type HttpLogEntry,
  type ServeHttpOptions,
  type SocketListener,
  serveHttp,
} from "../../src/index.ts";

/** A running test server: its base URL and port, and what it logged. */
export interface TestServer {
  readonly base: string;
  readonly port: number;
  readonly logged: HttpLogEntry[];
  /** The nursery serveHttp runs in: cancel its scope to shut the server down. */
  readonly nursery: Nursery;
}

/**
 * Runs `body` inside `run()` with `handler` served on 127.0.0.1 (any free
 * port); the server is shut down when `body` returns (or `body` may cancel it).
 */
export async function withServer(
  handler: HttpHandler,
  body: (server: TestServer) => Promise<void>,
  options: Omit<ServeHttpOptions, "port" | "taskStatus"> = {},
  runOptions: RunOptions = {},
): Promise<void> {
  await run(
    async () => {
      const logged: HttpLogEntry[] = [];
      await openNursery(async (nursery) => {
        const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
          serveHttp(handler, {
            host: "127.0.0.1",
            log: (entry) => logged.push(entry),
            ...options,
            port: 0,
            taskStatus,
          }),
        );
        const port = listener!.localAddress.port;
        await body({ base: `http://127.0.0.1:${port}`, port, logged, nursery });
        nursery.cancelScope.cancel();
      });
    },
    { handleSignals: false, ...runOptions },
  );
}

/**
 * Sends `request` bytes on a fresh TCP connection and collects everything the
 * server sends until it closes the connection (or `ms` of real time pass).
 */
export function rawExchange(port: number, request: string | Buffer, ms = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, ms);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** The status codes of the responses in `raw`, in order. */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
}
