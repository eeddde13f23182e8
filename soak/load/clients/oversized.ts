/**
 * Clients that send more than the server takes: a body over maxBodySize
 * (64 KiB) announced by its Content-Length (413 before the body is read) or
 * sent chunked (413 once the handler has read past the limit), and a head
 * over maxHeaderSize (8 KiB; 431 from Node's parser). The client keeps
 * sending while it reads, as a real one would; the server may answer and
 * close, or reset the connection under the bytes still coming.
 */
import { ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";
import { headOf, RawConnection } from "../raw-connection.ts";

const BODY = 1024 * 1024;
const PIECE = 16 * 1024;

/** The status each variant must get when the server answers at all. */
const EXPECTED = { "content-length": 413, chunked: 413, "large-head": 431 } as const;

export const oversized: ClientKind = {
  name: "oversized",
  concurrency: 2,
  capMs: 15_000,
  async run(target, signal, random) {
    const variant = random.pick(["content-length", "chunked", "large-head"] as const);
    const connection = await RawConnection.open(target.httpPort, signal);
    target.connectionOpened();
    try {
      const piece = random.bytes(PIECE);
      if (variant === "large-head") {
        const big = "x".repeat(12 * 1024);
        await connection.write(
          `GET ${ROUTES.hello} HTTP/1.1\r\nHost: soak\r\nX-Big: ${big}\r\n\r\n`,
        );
      } else if (variant === "content-length") {
        await connection.write(
          `POST ${ROUTES.echo} HTTP/1.1\r\nHost: soak\r\nContent-Length: ${BODY}\r\n\r\n`,
        );
        for (let sent = 0; sent < BODY && connection.status === null; sent += PIECE) {
          if (!(await connection.write(piece))) break;
        }
      } else {
        await connection.write(
          `POST ${ROUTES.echo} HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        const chunk = Buffer.concat([
          Buffer.from(`${PIECE.toString(16)}\r\n`),
          piece,
          Buffer.from("\r\n"),
        ]);
        for (let sent = 0; sent < BODY && connection.status === null; sent += PIECE) {
          if (!(await connection.write(chunk))) break;
        }
        await connection.write("0\r\n\r\n");
      }
      const answered = await connection.until(() => headOf(connection.head) !== null);
      if (!answered) {
        if (connection.received > 0) throw new Error(`${variant}: a partial head before the close`);
        return { type: "disconnect", why: `${variant}: reset before an answer` };
      }
      const { status } = headOf(connection.head)!;
      if (status !== EXPECTED[variant]) throw new Error(`${variant} answered ${status}`);
      return { type: "response", status };
    } finally {
      connection.destroy();
    }
  },
};
