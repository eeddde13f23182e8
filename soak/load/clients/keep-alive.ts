/**
 * Well-behaved clients on kept-alive connections (undici's pool): GET /hello
 * and POST /echo with a body of up to 16 KiB, back to back. Each must get a
 * 200 with exactly the expected body.
 */
import { request } from "undici";
import { ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";

export const keepAlive: ClientKind = {
  name: "keep-alive",
  concurrency: 8,
  capMs: 15_000,
  async run(target, signal, random) {
    if (random.next() < 0.5) {
      const { statusCode, body } = await request(`${target.origin}${ROUTES.hello}`, {
        dispatcher: target.keepAlive,
        signal,
      });
      const text = await body.text();
      if (statusCode !== 200 || text !== "hello world") {
        throw new Error(`GET /hello answered ${statusCode} ${JSON.stringify(text.slice(0, 80))}`);
      }
      return { type: "response", status: statusCode };
    }
    const sent = random.bytes(random.int(0, 16 * 1024));
    const { statusCode, body } = await request(`${target.origin}${ROUTES.echo}`, {
      method: "POST",
      body: sent,
      dispatcher: target.keepAlive,
      signal,
    });
    const echoed = Buffer.from(await body.arrayBuffer());
    if (statusCode !== 200 || !echoed.equals(sent)) {
      throw new Error(
        `POST /echo of ${sent.length} bytes answered ${statusCode} with ${echoed.length} other bytes`,
      );
    }
    return { type: "response", status: statusCode };
  },
};
