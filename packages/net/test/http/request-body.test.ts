/**
 * serveHttp's request bodies as web streams (request-body.ts), on a plain
 * Node Readable standing in for the IncomingMessage: no 'data' event Node
 * emits after the stream settled may throw (an uncaught exception in a
 * server), and the body arrives whole or fails with the right error.
 */
import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, expect, test } from "vitest";
import { PayloadTooLargeError, requestBodyStream } from "../../src/http/request-body.ts";

/** A request stand-in whose event listeners' exceptions are recorded instead of escaping. */
function requestWithBufferedBody(chunks: number, size: number) {
  const source = new PassThrough();
  const thrown: unknown[] = [];
  const emit = source.emit.bind(source);
  source.emit = (event: string | symbol, ...args: unknown[]) => {
    try {
      return emit(event, ...args);
    } catch (error) {
      thrown.push(error);
      return true;
    }
  };
  for (let i = 0; i < chunks; i++) source.write(Buffer.alloc(size, i));
  return { source, request: source as unknown as IncomingMessage, thrown };
}

/** One turn of the event loop: Node's scheduled stream resumes (nextTick) have run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function readAll(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  return bytes;
}

describe("requestBodyStream", () => {
  test("a body over the limit with more of it buffered fails with PayloadTooLargeError, and the data Node still emits throws nowhere", async () => {
    // Ten 16 KiB chunks buffered (the stream paused on its high-water mark),
    // a limit crossed by the third: a resume is pending when the stream fails.
    const { request, thrown } = requestWithBufferedBody(10, 16 * 1024);
    const tooLarge: PayloadTooLargeError[] = [];
    const stream = requestBodyStream(request, 40_000, (error) => tooLarge.push(error));
    await expect(readAll(stream)).rejects.toBeInstanceOf(PayloadTooLargeError);
    await nextTurn();
    expect(thrown).toEqual([]);
    expect(tooLarge).toHaveLength(1);
  });

  test("a body whose reader cancels it while more is buffered destroys the request, and throws nowhere", async () => {
    const { source, request, thrown } = requestWithBufferedBody(10, 16 * 1024);
    const reader = requestBodyStream(request, Infinity, () => {}).getReader();
    await reader.read();
    const pending = reader.read();
    await reader.cancel();
    await pending;
    await nextTurn();
    expect(thrown).toEqual([]);
    expect(source.destroyed).toBe(true);
  });

  test("a body within the limit arrives whole, and one cut short fails with an AbortError", async () => {
    const { source, request } = requestWithBufferedBody(4, 1000);
    source.end();
    expect(await readAll(requestBodyStream(request, 4000, () => {}))).toBe(4000);

    const cut = requestWithBufferedBody(2, 1000);
    const stream = requestBodyStream(cut.request, Infinity, () => {});
    const reading = readAll(stream);
    await nextTurn();
    cut.source.destroy();
    await expect(reading).rejects.toMatchObject({ name: "AbortError" });
  });
});
