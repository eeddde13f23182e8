/**
 * Clients that ask for a large response (32 MiB, more than the kernel's
 * socket buffers hold) and then do not read, for 0.5-8 s: the server's write
 * blocks, and past its requestTimeout (4 s) it must give up and close the
 * connection rather than hold it and its task for ever. Then the client
 * reads what it was sent: the whole body (it resumed in time), or a cut-off
 * one followed by the close. Every byte is checked against the pattern.
 */
import { LARGE_PATTERN, ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";
import { headOf, RawConnection } from "../raw-connection.ts";

const BYTES = 32 * 1024 * 1024;

export const neverRead: ClientKind = {
  name: "never-read",
  concurrency: 3,
  capMs: 40_000,
  async run(target, signal, random) {
    const connection = await RawConnection.open(target.httpPort, signal);
    target.connectionOpened();
    const { socket } = connection;
    try {
      socket.pause();
      await connection.write(`GET ${ROUTES.large}?bytes=${BYTES} HTTP/1.1\r\nHost: soak\r\n\r\n`);
      await connection.pause(random.int(500, 8000));
      // Read the rest, checking the body's bytes as they come.
      let head: ReturnType<typeof headOf> = null;
      let bodyBytes = 0;
      let wrong: string | null = null;
      let pending = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        if (head === null) {
          pending = Buffer.concat([pending, chunk]);
          head = headOf(pending);
          if (head === null) return;
          chunk = pending.subarray(head.size);
        }
        for (let i = 0; i < chunk.length && wrong === null; i++) {
          if (chunk[i] !== LARGE_PATTERN[(bodyBytes + i) % LARGE_PATTERN.length]) {
            wrong = `wrong byte at ${bodyBytes + i}`;
          }
        }
        bodyBytes += chunk.length;
      });
      socket.resume();
      const complete = await connection.until(() => head !== null && bodyBytes >= BYTES);
      if (wrong !== null) throw new Error(`/large: ${wrong}`);
      const status = (head as ReturnType<typeof headOf>)?.status;
      if (complete) {
        if (status !== 200 || bodyBytes !== BYTES) {
          throw new Error(`/large answered ${status} with ${bodyBytes} body bytes`);
        }
        return { type: "response", status };
      }
      // Closed first: cut off by the server's requestTimeout.
      if (status !== undefined && status !== 200) throw new Error(`/large answered ${status}`);
      return { type: "disconnect", why: "slow reader cut off" };
    } finally {
      connection.destroy();
    }
  },
};
