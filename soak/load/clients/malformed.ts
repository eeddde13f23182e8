/**
 * Clients that send what is not HTTP, or not valid HTTP: garbage, a bad
 * request line, a bad header, a bad Host, a bad target, conflicting framing,
 * a broken chunked body. The server must answer 400 (or close the connection)
 * and go on serving; never 5xx, never hold the connection.
 */
import type { ClientKind } from "../client-kind.ts";
import { headOf, RawConnection } from "../raw-connection.ts";

const REQUESTS: Readonly<Record<string, string>> = {
  garbage: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
  "bad request line": "GET\r\n\r\n",
  "bad method": "G(T / HTTP/1.1\r\nHost: soak\r\n\r\n",
  "bad version": "GET / HTTP/9.9\r\nHost: soak\r\n\r\n",
  "bad header": "GET /hello HTTP/1.1\r\nHost: soak\r\nBad Header: x\r\n\r\n",
  "bad Host": "GET /hello HTTP/1.1\r\nHost: soak/../../etc\r\n\r\n",
  "bad target": "GET hello HTTP/1.1\r\nHost: soak\r\n\r\n",
  "two framings":
    "POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  "bad chunk":
    "POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n",
  "NUL in header": "GET /hello HTTP/1.1\r\nHost: soak\r\nX-A: a\x00b\r\n\r\n",
};
const NAMES = Object.keys(REQUESTS);

export const malformed: ClientKind = {
  name: "malformed",
  concurrency: 2,
  capMs: 15_000,
  pauseMs: 20,
  async run(target, signal, random) {
    const name = random.pick(NAMES);
    const connection = await RawConnection.open(target.httpPort, signal);
    target.connectionOpened();
    try {
      await connection.write(Buffer.from(REQUESTS[name]!, "latin1"));
      // The server answers and closes, or closes; this client never closes first.
      await connection.closed;
      const head = headOf(connection.head);
      if (head === null) {
        if (connection.received > 0)
          throw new Error(`${name}: not an HTTP answer before the close`);
        return { type: "disconnect", why: `${name}: closed without an answer` };
      }
      if (head.status < 400 || head.status >= 500)
        throw new Error(`${name} answered ${head.status}`);
      return { type: "response", status: head.status };
    } finally {
      connection.destroy();
    }
  },
};
