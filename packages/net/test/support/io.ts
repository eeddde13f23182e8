/** Small helpers shared by the socket and stream tests. */
import type { ReceiveStream, SocketStream } from "../../src/index.ts";

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

/**
 * Whether `error`, an error in its `cause` chain, or one in an
 * `ExceptionGroup` along the way (a failed `openTcpStream`) has `code`.
 */
export function hasCode(error: unknown, code: string): boolean {
  if (error === null || typeof error !== "object") return false;
  if ((error as { code?: unknown }).code === code) return true;
  const nested = (error as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.some((e) => hasCode(e, code))) return true;
  return hasCode((error as { cause?: unknown }).cause, code);
}

/**
 * Clogs a connected socket pair in both directions (the two-way suites also
 * flip the pair): Node's userspace write buffer holds data the kernel will not
 * take because the peer is not reading, so a sendAll blocks until the peer
 * reads. The kernel's socket buffers absorb a few MB on loopback (3.7 MB
 * measured for TCP on Linux with default sysctls) however long we wait; 16 MB
 * left queued in userspace keeps the stream clogged.
 */
export function clogged(pair: [SocketStream, SocketStream]): [SocketStream, SocketStream] {
  const chunk = Buffer.alloc(1024 * 1024, 120);
  for (const { socket } of pair) {
    while (socket.writableLength < 16 * chunk.length) socket.write(chunk);
  }
  return pair;
}
