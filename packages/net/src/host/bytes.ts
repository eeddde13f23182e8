/** Views between Node's `Buffer` and the plain `Uint8Array` our streams hand out. */

/** The same bytes as a plain `Uint8Array` (no copy). */
export function toUint8Array(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The same bytes as a `Buffer` (no copy). */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
