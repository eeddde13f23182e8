/**
 * Test helpers for reading code: a memory receive stream that delivers given
 * chunks one read at a time, and splitting a byte sequence into chunks.
 */
import { MemoryReceiveStream } from "@weft/testing/streams";

export { rejection, runVirtual } from "../../../core/test/support/helpers.ts";

/**
 * A `MemoryReceiveStream` that puts the next non-empty chunk in its buffer at
 * each `receiveSome`, and end of file once the chunks are used up. (A read
 * that takes less than a chunk leaves the rest, which merges with the next
 * chunk: still a split of the same bytes.)
 */
export function chunkedStream(chunks: readonly Uint8Array[]): MemoryReceiveStream {
  const stream = new MemoryReceiveStream();
  let next = 0;
  stream.receiveSomeHook = async () => {
    while (next < chunks.length && chunks[next]!.length === 0) next++;
    if (next < chunks.length) stream.putData(chunks[next++]!);
    else if (next++ === chunks.length) stream.putEof();
  };
  return stream;
}

/** Splits `bytes` at `points` (each taken modulo `bytes.length + 1`). */
export function splitAt(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.slice(from, cut));
    from = cut;
  }
  chunks.push(bytes.slice(from));
  return chunks;
}

/** The concatenation of `chunks`. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
