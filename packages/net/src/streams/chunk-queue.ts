/**
 * Received bytes waiting for `receiveSome`: a FIFO of Node chunks from which
 * any number of bytes can be taken without losing or reordering any.
 */
import { toUint8Array } from "../host/bytes.ts";

export class ChunkQueue {
  readonly #chunks: Buffer[] = [];
  /** Bytes queued. */
  bytes = 0;

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Takes up to `maxBytes` bytes (at least one if any are queued), oldest first. */
  take(maxBytes: number): Uint8Array {
    const chunks = this.#chunks;
    const parts: Buffer[] = [];
    let total = 0;
    while (chunks.length > 0 && total < maxBytes) {
      const head = chunks[0]!;
      const room = maxBytes - total;
      if (head.length <= room) {
        chunks.shift();
        parts.push(head);
        total += head.length;
      } else {
        parts.push(head.subarray(0, room));
        chunks[0] = head.subarray(room);
        total += room;
      }
    }
    this.bytes -= total;
    return parts.length === 1 ? toUint8Array(parts[0]!) : toUint8Array(Buffer.concat(parts, total));
  }

  clear(): void {
    this.#chunks.length = 0;
    this.bytes = 0;
  }
}
