/**
 * Clients that give up mid-request (undici with an AbortSignal): while the
 * server sleeps before answering (/slow), halfway through a large response
 * (/large), or halfway through sending a body (/echo). Each ends aborted, or
 * with the right 200 when the answer won the race; the server must cancel the
 * abandoned handler and close the connection (what the soak's series watch).
 */
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { request } from "undici";
import { LARGE_PATTERN, ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";
import type { Outcome } from "../ledger.ts";

/** Whether `error` is the abort this client asked for (and not something else going wrong). */
function isOurAbort(error: unknown, ours: AbortController): boolean {
  return (
    ours.signal.aborted &&
    error instanceof Error &&
    (error.name === "AbortError" || (error as { code?: string }).code === "UND_ERR_ABORTED")
  );
}

/** Checks that `chunk`, at `offset` of a /large body, is the pattern. */
function checkLarge(chunk: Buffer, offset: number): void {
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== LARGE_PATTERN[(offset + i) % LARGE_PATTERN.length]) {
      throw new Error(`/large: wrong byte at ${offset + i}`);
    }
  }
}

export const abort: ClientKind = {
  name: "abort",
  concurrency: 4,
  capMs: 15_000,
  async run(target, signal, random): Promise<Outcome> {
    const ours = new AbortController();
    const both = AbortSignal.any([signal, ours.signal]);
    const variant = random.pick(["slow", "large", "upload"] as const);
    try {
      if (variant === "slow") {
        // The answer comes after 0-1,000 ms; the client leaves after 0-1,000 ms.
        const timer = setTimeout(() => ours.abort(), random.int(0, 1000));
        try {
          const { statusCode, body } = await request(
            `${target.origin}${ROUTES.slow}?ms=${random.int(0, 1000)}`,
            { dispatcher: target.fresh, signal: both },
          );
          const text = await body.text();
          if (statusCode !== 200 || text !== "slept")
            throw new Error(`/slow answered ${statusCode}`);
          return { type: "response", status: statusCode };
        } finally {
          clearTimeout(timer);
        }
      }
      if (variant === "large") {
        // Reads 0-1 MiB of an 8 MiB body, checking it, then leaves.
        const leaveAfter = random.int(0, 1024 * 1024);
        const { statusCode, body } = await request(
          `${target.origin}${ROUTES.large}?bytes=${8 * 1024 * 1024}`,
          { dispatcher: target.fresh, signal: both },
        );
        if (statusCode !== 200) throw new Error(`/large answered ${statusCode}`);
        let offset = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          checkLarge(chunk, offset);
          offset += chunk.length;
          if (offset >= leaveAfter) {
            ours.abort();
            break;
          }
        }
        body.destroy();
        return { type: "aborted" };
      }
      // Sends 4 KiB every 10 ms, 32 KiB in all, and leaves after 0-100 ms.
      const chunks = Array.from({ length: 8 }, () => random.bytes(4096));
      async function* slowBody(): AsyncGenerator<Buffer> {
        for (const chunk of chunks) {
          yield chunk;
          await delay(10);
        }
      }
      const timer = setTimeout(() => ours.abort(), random.int(0, 100));
      try {
        const { statusCode, body } = await request(`${target.origin}${ROUTES.echo}`, {
          method: "POST",
          body: Readable.from(slowBody()),
          dispatcher: target.fresh,
          signal: both,
        });
        const echoed = Buffer.from(await body.arrayBuffer());
        if (statusCode !== 200 || !echoed.equals(Buffer.concat(chunks))) {
          throw new Error(`upload answered ${statusCode} with ${echoed.length} bytes`);
        }
        return { type: "response", status: statusCode };
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      if (isOurAbort(error, ours)) return { type: "aborted" };
      throw error;
    }
  },
};
