/**
 * Clients that do not keep connections alive: one request per connection
 * (`Connection: close`), so the server accepts and closes a connection per
 * request — thousands over a run. Each must get a 200 with the right body.
 */
import { request } from "undici";
import { ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";

export const oneShot: ClientKind = {
  name: "one-shot",
  concurrency: 2,
  capMs: 15_000,
  async run(target, signal, random) {
    const post = random.next() < 0.3;
    const sent = post ? random.bytes(random.int(1, 4096)) : null;
    const { statusCode, body } = await request(
      `${target.origin}${post ? ROUTES.echo : ROUTES.hello}`,
      {
        method: post ? "POST" : "GET",
        body: sent,
        reset: true,
        dispatcher: target.fresh,
        signal,
      },
    );
    const received = Buffer.from(await body.arrayBuffer());
    const expected = sent ?? Buffer.from("hello world");
    if (statusCode !== 200 || !received.equals(expected)) {
      throw new Error(
        `one-shot ${post ? "POST /echo" : "GET /hello"} answered ${statusCode}, ${received.length} bytes`,
      );
    }
    return { type: "response", status: statusCode };
  },
};
