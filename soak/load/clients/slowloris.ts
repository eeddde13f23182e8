/**
 * Slowloris: clients that send a request's head a line at a time, 200 ms
 * apart. Some finish within the server's headersTimeout (2 s) and must get
 * their 200; the rest would trickle for ever, and the server must close the
 * connection when its time is up (a server that lets them trickle runs out
 * of descriptors). Some send nothing at all, and must be closed all the same.
 */
import { ROUTES, SERVER_LIMITS } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";
import { headOf, RawConnection } from "../raw-connection.ts";

const LINE_EVERY_MS = 200;

export const slowloris: ClientKind = {
  name: "slowloris",
  concurrency: 8,
  capMs: SERVER_LIMITS.headersTimeout + 15_000,
  async run(target, signal, random) {
    const connection = await RawConnection.open(target.httpPort, signal);
    target.connectionOpened();
    try {
      // Silent (connects and sends nothing), 1-8 lines before the end of the head (0.2-1.6 s), or endless.
      const draw = random.next();
      if (draw < 0.15) {
        const ending = await connection.closed;
        if (connection.received > 0) throw new Error("a silent connection got an answer");
        if (ending !== "end") throw new Error(`a silent connection ended with ${ending}`);
        return { type: "disconnect", why: "silent connection closed" };
      }
      const lines = draw < 0.55 ? random.int(1, 8) : Infinity;
      await connection.write(`GET ${ROUTES.hello} HTTP/1.1\r\n`);
      for (let i = 0; i < lines && !connection.isClosed; i++) {
        await connection.pause(LINE_EVERY_MS);
        // A write that fails ends the loop: the server closed the connection.
        if (!(await connection.write(`X-Trickle-${i}: ${"x".repeat(random.int(1, 40))}\r\n`)))
          break;
      }
      if (!connection.isClosed) await connection.write("Host: soak\r\n\r\n");
      const answered = await connection.until(() => {
        const head = headOf(connection.head);
        return head !== null && connection.head.length >= head.size + (head.length ?? 0);
      });
      if (!answered) {
        if (connection.received > 0)
          throw new Error(
            `cut off mid-response: ${connection.head.subarray(0, 40).toString("latin1")}`,
          );
        return { type: "disconnect", why: "slow head cut off" };
      }
      const head = headOf(connection.head)!;
      const body = connection.head.subarray(head.size).toString("latin1");
      if (head.status !== 200 || body !== "hello world") {
        throw new Error(`slow head answered ${head.status} ${JSON.stringify(body.slice(0, 40))}`);
      }
      return { type: "response", status: head.status };
    } finally {
      connection.destroy();
    }
  },
};
