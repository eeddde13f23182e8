/**
 * Pipelining clients: 2-6 requests written at once on one connection (GETs
 * of /hello and /slow, POSTs to /echo), whose answers must all come back, in
 * order, each with its exact body; then the client closes. A request the
 * server drops in the queue shows up here as a lost operation.
 */
import { ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";
import { headOf, RawConnection } from "../raw-connection.ts";

export const pipelined: ClientKind = {
  name: "pipelined",
  concurrency: 1,
  capMs: 15_000,
  async run(target, signal, random) {
    const count = random.int(2, 6);
    const expected: Buffer[] = [];
    const requests: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const kind = random.pick(["hello", "slow", "echo"] as const);
      if (kind === "echo") {
        const body = random.bytes(random.int(0, 2048));
        requests.push(
          Buffer.from(
            `POST ${ROUTES.echo} HTTP/1.1\r\nHost: soak\r\nContent-Length: ${body.length}\r\n\r\n`,
          ),
          body,
        );
        expected.push(body);
      } else if (kind === "slow") {
        requests.push(
          Buffer.from(`GET ${ROUTES.slow}?ms=${random.int(0, 50)} HTTP/1.1\r\nHost: soak\r\n\r\n`),
        );
        expected.push(Buffer.from("slept"));
      } else {
        requests.push(Buffer.from(`GET ${ROUTES.hello} HTTP/1.1\r\nHost: soak\r\n\r\n`));
        expected.push(Buffer.from("hello world"));
      }
    }
    const connection = await RawConnection.open(target.httpPort, signal);
    target.connectionOpened();
    try {
      await connection.write(Buffer.concat(requests));
      // The answers, one after the other: each a head with a Content-Length and its body.
      let offset = 0;
      for (let i = 0; i < count; i++) {
        let head: ReturnType<typeof headOf> = null;
        const complete = await connection.until(() => {
          head = headOf(connection.head.subarray(offset));
          return head !== null && connection.head.length >= offset + head.size + (head.length ?? 0);
        });
        if (!complete) throw new Error(`closed after ${i} of ${count} pipelined answers`);
        const { status, length, size } = head as unknown as NonNullable<ReturnType<typeof headOf>>;
        const body = connection.head.subarray(offset + size, offset + size + (length ?? 0));
        if (status !== 200 || length === null || !body.equals(expected[i]!)) {
          throw new Error(
            `pipelined answer ${i + 1} of ${count}: ${status}, ${length} bytes, not the expected body`,
          );
        }
        offset += size + length;
      }
      return { type: "response", status: 200 };
    } finally {
      connection.destroy();
    }
  },
};
