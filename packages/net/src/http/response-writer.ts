/**
 * Writing a `Response` to Node's `ServerResponse` with backpressure: each
 * chunk of the body is read only once Node took the previous one (a `'drain'`
 * wait when its buffer is full), so a client that does not read slows the
 * producer and memory stays bounded. Every read and wait is a checkpoint: a
 * cancelled write (the client left, the deadline passed) cancels the body.
 */
import type { ServerResponse } from "node:http";
import { cancellable } from "@weft/core";
import { waitForEvent } from "../host/io-wait.ts";
import { bodySourceOf } from "./body-sources.ts";

function ignore(): void {}

/** Status line and headers (Set-Cookie kept as separate lines). */
export function writeHead(res: ServerResponse, response: Response): void {
  res.statusCode = response.status;
  if (response.statusText !== "") res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
}

/** Writes `response` (head, then body) and ends `res`. */
export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  writeHead(res, response);
  const source = bodySourceOf(response);
  if (source !== undefined) {
    await writeIterable(res, source);
    return;
  }
  const body = response.body;
  if (body === null) {
    res.end();
    return;
  }
  const reader = body.getReader();
  let finished = false;
  try {
    while (true) {
      const result = await cancellable((signal) => {
        signal.addEventListener("abort", () => reader.cancel(signal.reason).catch(ignore), {
          once: true,
        });
        return reader.read();
      });
      if (result.done) break;
      if (!res.write(result.value)) await waitForEvent(res, "drain", "serveHttp: client to read");
    }
    finished = true;
    res.end();
  } finally {
    if (!finished) reader.cancel().catch(ignore);
  }
}

/**
 * Writes a body weft built from an async iterable (see body-sources.ts),
 * iterating it in this task: its weft operations are this task's own waits,
 * a cancellation reaches it at its checkpoints, and leaving the loop early
 * (cancelled, the client gone) runs its `finally`.
 */
async function writeIterable(
  res: ServerResponse,
  source: AsyncIterable<Uint8Array>,
): Promise<void> {
  for await (const chunk of source) {
    if (!res.write(chunk)) await waitForEvent(res, "drain", "serveHttp: client to read");
  }
  res.end();
}
