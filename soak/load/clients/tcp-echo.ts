/**
 * TCP echo clients of serveTcp: send 1-20 messages of up to 64 KiB, each
 * echoed byte for byte, then end the connection (the server must end its
 * side too); one in five resets the connection halfway instead (the server
 * must shrug it off).
 */
import type { ClientKind } from "../client-kind.ts";
import { RawConnection } from "../raw-connection.ts";

export const tcpEcho: ClientKind = {
  name: "tcp-echo",
  concurrency: 3,
  capMs: 15_000,
  async run(target, signal, random) {
    const connection = await RawConnection.open(target.tcpPort, signal);
    target.connectionOpened();
    try {
      const messages = random.int(1, 20);
      const resetAt = random.next() < 0.2 ? random.int(0, messages - 1) : -1;
      const sent: Buffer[] = [];
      let sentBytes = 0;
      for (let i = 0; i < messages; i++) {
        if (i === resetAt) {
          connection.socket.resetAndDestroy();
          return { type: "aborted" };
        }
        const message = random.bytes(random.int(1, 64 * 1024));
        sent.push(message);
        sentBytes += message.length;
        if (!(await connection.write(message)))
          throw new Error("echo: the server closed mid-stream");
        // Kept bytes stop at 64 KiB; the echo is compared on what was kept.
        if (!(await connection.until(() => connection.received >= sentBytes))) {
          throw new Error(`echo: closed after ${connection.received} of ${sentBytes} bytes`);
        }
      }
      const all = Buffer.concat(sent);
      const kept = connection.head;
      if (connection.received !== sentBytes || !kept.equals(all.subarray(0, kept.length))) {
        throw new Error(`echo: ${connection.received} bytes back for ${sentBytes}, not the same`);
      }
      connection.socket.end();
      const ending = await connection.closed;
      if (ending !== "end") throw new Error(`echo: ended with ${ending} after our EOF`);
      return { type: "response", status: "echo" };
    } finally {
      connection.destroy();
    }
  },
};
