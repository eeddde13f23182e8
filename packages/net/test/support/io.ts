/** Small helpers shared by the socket and stream tests. */
export { errorOf } from "../../../core/test/support/helpers.ts";

import { CancelScope, openNursery } from "@weft/core";
import { waitAllTasksBlocked } from "@weft/testing";
import {
  openTcpListeners,
  openTcpStream,
  type ReceiveStream,
  type SocketListener,
  type SocketStream,
} from "../../src/index.ts";

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

/** Runs `fn` with a TCP listener on 127.0.0.1 (an ephemeral port), closed afterwards. */
export async function withTcpListener<T>(fn: (listener: SocketListener) => Promise<T>): Promise<T> {
  const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
  try {
    return await fn(listener!);
  } finally {
    await listener!.aclose();
  }
}

/** A connected `[client, server]` pair: `connect()` runs while `listener` accepts. */
export async function acceptedPair(
  listener: SocketListener,
  connect: () => Promise<SocketStream>,
): Promise<[SocketStream, SocketStream]> {
  let server: SocketStream | undefined;
  let client: SocketStream | undefined;
  await openNursery(async (nursery) => {
    nursery.startSoon(async () => {
      server = await listener.accept();
    });
    client = await connect();
  });
  return [client!, server!];
}

/** A connected `[client, server]` pair of TCP `SocketStream`s through `listener`. */
export function tcpStreamPair(listener: SocketListener): Promise<[SocketStream, SocketStream]> {
  return acceptedPair(listener, () => openTcpStream("127.0.0.1", listener.localAddress.port));
}

/** What `cancelOnceBlocked` saw: whether the scope cancelled the call, and what else it threw. */
export interface CancelOutcome {
  readonly cancelled: boolean;
  /** The call's error, if it threw something other than the scope's `Cancelled`; else null. */
  readonly error: unknown;
}

/**
 * Runs `operation` in a task of its own inside a cancel scope that is
 * cancelled as soon as every task of the run is blocked: a `sendAll` to a peer
 * that does not read is then parked with its write queued in Node (it parks
 * only then), so this cancels it mid-write without any timing. An operation
 * that completes without blocking is not cancelled.
 */
export async function cancelOnceBlocked(operation: () => Promise<unknown>): Promise<CancelOutcome> {
  const scope = new CancelScope();
  let error: unknown = null;
  await openNursery(async (nursery) => {
    nursery.startSoon(async () => {
      try {
        await scope.run(operation);
      } catch (e) {
        error = e;
      }
    });
    await waitAllTasksBlocked();
    scope.cancel("cancelled once blocked");
  });
  return { cancelled: scope.cancelledCaught, error };
}

/** `n` bytes, all `value`: which call sent a received byte shows at a glance. */
export function filled(n: number, value: number): Uint8Array {
  return new Uint8Array(n).fill(value);
}
