/**
 * What the tcp-echo implementations share: the loopback address, the message
 * size and the message contents, so that every implementation sends (and
 * verifies) exactly the same bytes.
 */

/** Loopback only: the benchmark measures the runtime, not the network. */
export const HOST = "127.0.0.1";

/** Bytes per round trip (issue 6: 64-byte round trips). */
export const MESSAGE_BYTES = 64;

/** Fills `message` for connection `id`'s round trip `trip`: both numbers, then filler. */
export function fillMessage(message: Uint8Array, id: number, trip: number): void {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  view.setUint32(0, id);
  view.setUint32(4, trip);
  for (let i = 8; i < message.length; i++) message[i] = (id + trip + i) & 0xff;
}

/** Whether `chunk` equals `expected` from `offset` on (an echo may arrive in pieces). */
export function matches(chunk: Uint8Array, expected: Uint8Array, offset: number): boolean {
  if (offset + chunk.length > expected.length) return false;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== expected[offset + i]) return false;
  return true;
}
