/** Small helpers shared by the socket and stream tests. */
import type { ReceiveStream } from "../../src/index.ts";

/** Receives exactly `n` bytes with plain `receiveSome` calls; EOF first is an Error. */
export async function receiveExactly(stream: ReceiveStream, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const chunk = await stream.receiveSome(n - filled);
    if (chunk.length === 0) throw new Error(`EOF after ${filled} of ${n} bytes`);
    out.set(chunk, filled);
    filled += chunk.length;
  }
  return out;
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
