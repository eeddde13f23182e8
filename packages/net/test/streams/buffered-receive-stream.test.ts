/**
 * BufferedReceiveStream: receiveExactly / receiveUntil / receiveSome / lines
 * checked against a model that parses the whole byte sequence at once, for
 * any split into chunks and under random cancellation; then the rules one by
 * one (EOF, limits, checkpoints, cancel safety, busy, bad input, closing) and
 * a run over real TCP on 127.0.0.1.
 *
 * Replay a property failure with `WEFT_PROPERTY_SEED=… WEFT_PROPERTY_PATH=…`.
 */
import {
  BrokenResourceError,
  BusyResourceError,
  Cancelled,
  CancelScope,
  ClosedResourceError,
  moveOnAfter,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import { assertCheckpoints } from "@weft/testing";
import { memoryStreamOneWayPair } from "@weft/testing/streams";
import fc from "fast-check";
import { describe, expect, test, vi } from "vitest";
import { propertyParameters } from "../../../core/test/support/property-parameters.ts";
import {
  BufferedReceiveStream,
  IncompleteReadError,
  LimitOverrunError,
  openTcpListeners,
  openTcpStream,
  type SocketStream,
} from "../../src/index.ts";
import { chunkedStream, concat, rejection, runVirtual, splitAt } from "../support/chunks.ts";

const { numRuns: NUM_RUNS, parameters: PARAMETERS } = propertyParameters(300);

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Reads everything left, with `receiveSome`, until EOF. */
async function drain(stream: BufferedReceiveStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  while (true) {
    const chunk = await stream.receiveSome();
    if (chunk.length === 0) return concat(parts);
    parts.push(chunk);
  }
}

// ------------------------------------------------------------------ the model

type Op =
  | { kind: "exactly"; n: number }
  | { kind: "until"; delimiter: Uint8Array; maxBytes: number; asString: boolean }
  | { kind: "some"; maxBytes: number | undefined };

type Outcome =
  | { ok: number[] }
  | { incomplete: number[]; expected: number | null }
  | { overrun: number }
  | { some: number };

function naiveIndexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** What each operation returns when the whole byte sequence is there at once. */
class Model {
  readonly whole: Uint8Array;
  pos = 0;
  constructor(whole: Uint8Array) {
    this.whole = whole;
  }
  get rest(): Uint8Array {
    return this.whole.slice(this.pos);
  }
  apply(op: Op): Outcome {
    const available = this.whole.length - this.pos;
    if (op.kind === "exactly") {
      if (op.n <= available) {
        const got = this.whole.slice(this.pos, this.pos + op.n);
        this.pos += op.n;
        return { ok: [...got] };
      }
      const partial = this.rest;
      this.pos = this.whole.length;
      return { incomplete: [...partial], expected: op.n };
    }
    if (op.kind === "until") {
      const at = naiveIndexOf(this.whole, op.delimiter, this.pos);
      if (at >= 0 && at + op.delimiter.length - this.pos <= op.maxBytes) {
        const got = this.whole.slice(this.pos, at + op.delimiter.length);
        this.pos = at + op.delimiter.length;
        return { ok: [...got] };
      }
      if (available >= op.maxBytes) return { overrun: op.maxBytes };
      const partial = this.rest;
      this.pos = this.whole.length;
      return { incomplete: [...partial], expected: null };
    }
    throw new Error("receiveSome is checked against the model by its length");
  }
}

async function perform(stream: BufferedReceiveStream, op: Op): Promise<Outcome> {
  try {
    if (op.kind === "exactly") return { ok: [...(await stream.receiveExactly(op.n))] };
    if (op.kind === "until") {
      const delimiter = op.asString ? text(op.delimiter) : op.delimiter;
      return { ok: [...(await stream.receiveUntil(delimiter, op.maxBytes))] };
    }
    return { some: (await stream.receiveSome(op.maxBytes)).length };
  } catch (error) {
    if (error instanceof IncompleteReadError) {
      return { incomplete: [...error.partial], expected: error.expected };
    }
    if (error instanceof LimitOverrunError) return { overrun: error.maxBytes };
    throw error;
  }
}

/** Checks one outcome against the model (for receiveSome: a non-empty prefix, or empty at EOF). */
function check(model: Model, op: Op, outcome: Outcome, got: Uint8Array | null): void {
  if (op.kind === "some") {
    const rest = model.rest;
    const n = (outcome as { some: number }).some;
    expect(n === 0).toBe(rest.length === 0);
    expect(n).toBeLessThanOrEqual(op.maxBytes ?? Number.POSITIVE_INFINITY);
    expect(got).toEqual(rest.slice(0, n));
    model.pos += n;
    return;
  }
  expect(outcome).toEqual(model.apply(op));
}

// Bytes from a small alphabet so that delimiters occur often.
const byteArb = fc.constantFrom(0x61, 0x62, 0x0d, 0x0a);
const wholeArb = fc
  .array(byteArb, { maxLength: 40, size: "medium" })
  .map((a) => Uint8Array.from(a));
const splitsArb = fc.array(fc.nat(), { maxLength: 12 });
const receiveSizeArb = fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined });
const framedOpArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("exactly" as const), n: fc.nat(12) }),
  fc
    .record({
      // Mostly a few fixed delimiters, so that consecutive searches share one.
      delimiter: fc.oneof(
        { arbitrary: fc.constantFrom(..."\n|\r\n|b|ab|bab".split("|")).map(bytes), weight: 3 },
        fc.array(byteArb, { minLength: 1, maxLength: 3 }).map((a) => Uint8Array.from(a)),
      ),
      // Mostly small limits, so that they are hit.
      extra: fc.oneof(
        { arbitrary: fc.nat(4), weight: 3 },
        fc.nat(12),
        fc.constant(Number.POSITIVE_INFINITY),
      ),
      asString: fc.boolean(),
    })
    .map(({ delimiter, extra, asString }) => ({
      kind: "until" as const,
      delimiter,
      maxBytes: delimiter.length + extra,
      asString,
    })),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  framedOpArb,
  fc.record({
    kind: fc.constant("some" as const),
    maxBytes: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  }),
);

/** Runs `op` and checks it; for receiveSome the bytes themselves are needed. */
async function performAndCheck(stream: BufferedReceiveStream, model: Model, op: Op): Promise<void> {
  if (op.kind === "some") {
    const got = await stream.receiveSome(op.maxBytes);
    check(model, op, { some: got.length }, got);
  } else {
    check(model, op, await perform(stream, op), null);
  }
}

describe("BufferedReceiveStream: properties", () => {
  test("any split into chunks gives the same results as parsing the whole sequence at once", async () => {
    await fc.assert(
      fc.asyncProperty(
        wholeArb,
        splitsArb,
        receiveSizeArb,
        fc.array(opArb, { maxLength: 10 }),
        async (whole, splits, receiveSize, ops) => {
          await runVirtual(async () => {
            const stream = new BufferedReceiveStream(chunkedStream(splitAt(whole, splits)), {
              receiveSize,
            });
            const model = new Model(whole);
            for (const op of ops) await performAndCheck(stream, model, op);
            expect(await drain(stream)).toEqual(model.rest);
            expect(stream.buffered).toBe(0);
          });
        },
      ),
      { numRuns: NUM_RUNS, ...PARAMETERS },
    );
  });

  test("cancelled reads lose no bytes: retried until they complete, they give the model's results", async () => {
    await fc.assert(
      fc.asyncProperty(
        wholeArb,
        splitsArb,
        fc.array(fc.nat(5), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 }),
        receiveSizeArb,
        fc.array(opArb, { maxLength: 8 }),
        async (whole, splits, gaps, timeouts, receiveSize, ops) => {
          await runVirtual(async () => {
            const [send, receive] = memoryStreamOneWayPair();
            const stream = new BufferedReceiveStream(receive, { receiveSize });
            const model = new Model(whole);
            await openNursery(async (nursery) => {
              nursery.startSoon(async () => {
                const chunks = splitAt(whole, splits);
                for (let i = 0; i < chunks.length; i++) {
                  await sleep(gaps[i % gaps.length]!);
                  await send.sendAll(chunks[i]!);
                }
                await send.aclose();
              });
              let attempt = 0;
              for (const op of ops) {
                while (true) {
                  const timeout = timeouts[attempt++ % timeouts.length]!;
                  const done = await moveOnAfter(timeout, async () => {
                    await performAndCheck(stream, model, op);
                    return true;
                  });
                  if (done === true) break; // else cut short: try again
                }
              }
              expect(await drain(stream)).toEqual(model.rest);
            });
          });
        },
      ),
      { numRuns: NUM_RUNS, ...PARAMETERS },
    );
  });

  test("lines() over any split gives the lines of the whole text", async () => {
    const pieces = fc.constantFrom("a", "b", "\n", "\r", "\r\n", "é", "€", "😀", "\uFEFF");
    await fc.assert(
      fc.asyncProperty(
        fc.array(pieces, { maxLength: 30 }),
        splitsArb,
        receiveSizeArb,
        fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
        async (textPieces, splits, receiveSize, maxLineBytes) => {
          const whole = bytes(textPieces.join(""));
          // The model: split the bytes at each "\n"; a line's bytes with its
          // "\n" must fit in maxLineBytes (a last line without one: fewer).
          const limit = maxLineBytes ?? 65536;
          const expected: string[] = [];
          let overrunAt = -1;
          let from = 0;
          let index = 0;
          while (from < whole.length) {
            const nl = whole.indexOf(0x0a, from);
            const end = nl < 0 ? whole.length : nl + 1;
            if (nl < 0 ? end - from >= limit : end - from > limit) {
              overrunAt = from;
              break;
            }
            // Only the stream's first line may lose a byte order mark.
            let line = new TextDecoder("utf-8", { ignoreBOM: index > 0 }).decode(
              whole.subarray(from, end),
            );
            if (line.endsWith("\n")) line = line.slice(0, line.endsWith("\r\n") ? -2 : -1);
            expected.push(line);
            from = end;
            index++;
          }
          await runVirtual(async () => {
            const stream = new BufferedReceiveStream(chunkedStream(splitAt(whole, splits)), {
              receiveSize,
            });
            const got: string[] = [];
            let error: unknown = null;
            try {
              for await (const line of stream.lines({ maxLineBytes })) got.push(line);
            } catch (e) {
              error = e;
            }
            expect(got).toEqual(expected);
            if (overrunAt < 0) {
              expect(error).toBeNull();
            } else {
              expect(error).toBeInstanceOf(LimitOverrunError);
              // The long line is still there to read.
              expect(await drain(stream)).toEqual(whole.slice(overrunAt));
            }
          });
        },
      ),
      { numRuns: NUM_RUNS, ...PARAMETERS },
    );
  });
});

describe("BufferedReceiveStream: receiveExactly", () => {
  test("returns exactly n bytes across chunks, and 0 bytes for n = 0", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(
        chunkedStream([bytes("he"), bytes("llo wor"), bytes("ld")]),
      );
      expect(text(await stream.receiveExactly(3))).toBe("hel");
      expect(stream.buffered).toBe(6); // the rest of the second chunk, read ahead
      expect((await stream.receiveExactly(0)).length).toBe(0);
      expect(text(await stream.receiveExactly(8))).toBe("lo world");
      expect((await stream.receiveExactly(0)).length).toBe(0);
    });
  });

  test("end of file first: IncompleteReadError with the partial bytes and the count, then EOF", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("ab"), bytes("c")]));
      const error = await rejection(stream.receiveExactly(5));
      expect(error).toBeInstanceOf(IncompleteReadError);
      expect(error).toBeInstanceOf(BrokenResourceError);
      const incomplete = error as IncompleteReadError;
      expect(text(incomplete.partial)).toBe("abc");
      expect(incomplete.expected).toBe(5);
      expect(incomplete.message).toBe("end of file after 3 of 5 bytes");
      expect(stream.buffered).toBe(0);
      expect((await stream.receiveSome()).length).toBe(0);
      // A clean end of file: nothing partial.
      const clean = (await rejection(stream.receiveExactly(4))) as IncompleteReadError;
      expect(clean).toBeInstanceOf(IncompleteReadError);
      expect(clean.partial.length).toBe(0);
    });
  });

  test("returned bytes are copies: reusing them does not touch the buffer", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("abcdef")]));
      const first = await stream.receiveExactly(3);
      first.fill(0);
      expect(text(await stream.receiveExactly(3))).toBe("def");
    });
  });
});

describe("BufferedReceiveStream: receiveUntil", () => {
  test("returns the bytes up to and including the delimiter (string or bytes, split across chunks)", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(
        chunkedStream([bytes("GET / HTTP/1.1\r"), bytes("\nHost: x\r\n\r"), bytes("\nbody")]),
      );
      expect(text(await stream.receiveUntil("\r\n"))).toBe("GET / HTTP/1.1\r\n");
      expect(text(await stream.receiveUntil(bytes("\r\n\r\n")))).toBe("Host: x\r\n\r\n");
      expect(text(await drain(stream))).toBe("body");
    });
  });

  test("a multi-byte UTF-8 delimiter given as a string", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("a€"), bytes("b€c")]));
      expect(text(await stream.receiveUntil("€"))).toBe("a€");
      expect(text(await stream.receiveUntil("€"))).toBe("b€");
    });
  });

  test("no delimiter within maxBytes: LimitOverrunError, and the buffered bytes are intact", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("abc"), bytes("defg\nh")]), {
        receiveSize: 2,
      });
      const error = await rejection(stream.receiveUntil("\n", 5));
      expect(error).toBeInstanceOf(LimitOverrunError);
      expect((error as LimitOverrunError).maxBytes).toBe(5);
      expect(text((error as LimitOverrunError).delimiter)).toBe("\n");
      expect(stream.buffered).toBeGreaterThanOrEqual(5);
      // A larger limit finds it, from the same bytes.
      expect(text(await stream.receiveUntil("\n", 8))).toBe("abcdefg\n");
      expect(text(await drain(stream))).toBe("h");
    });
  });

  test("a delimiter ending exactly at maxBytes fits; one straddling it does not", async () => {
    await runVirtual(async () => {
      const fits = new BufferedReceiveStream(chunkedStream([bytes("abc\r\n")]));
      expect(text(await fits.receiveUntil("\r\n", 5))).toBe("abc\r\n");
      const straddles = new BufferedReceiveStream(chunkedStream([bytes("abcd\r\n")]));
      expect(await rejection(straddles.receiveUntil("\r\n", 5))).toBeInstanceOf(LimitOverrunError);
      expect(text(await straddles.receiveUntil("\r\n", 6))).toBe("abcd\r\n");
    });
  });

  test("maxBytes = Infinity has no limit", async () => {
    await runVirtual(async () => {
      const long = "x".repeat(100_000);
      const stream = new BufferedReceiveStream(chunkedStream([bytes(long), bytes("!")]));
      expect((await stream.receiveUntil("!", Number.POSITIVE_INFINITY)).length).toBe(100_001);
    });
  });

  test("end of file before the delimiter: IncompleteReadError with the partial bytes", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("line\n"), bytes("tail")]));
      expect(text(await stream.receiveUntil("\n"))).toBe("line\n");
      const error = (await rejection(stream.receiveUntil("\n"))) as IncompleteReadError;
      expect(error).toBeInstanceOf(IncompleteReadError);
      expect(text(error.partial)).toBe("tail");
      expect(error.expected).toBeNull();
      expect(error.message).toBe("end of file after 4 bytes, before the delimiter");
    });
  });

  test("a line arriving in small pieces is scanned in linear, not quadratic, time", async () => {
    await runVirtual(async () => {
      const length = 1 << 16;
      const piece = new Uint8Array(16).fill(0x61);
      const chunks = Array.from({ length: length / 16 }, () => piece);
      chunks.push(bytes("\n"));
      const stream = new BufferedReceiveStream(chunkedStream(chunks), { receiveSize: 16 });
      // Count the bytes each delimiter search looks at.
      let scanned = 0;
      const original = Buffer.prototype.indexOf;
      const spy = vi.spyOn(Buffer.prototype, "indexOf").mockImplementation(function (
        this: Buffer,
        value,
        byteOffset,
        encoding,
      ) {
        scanned += this.length - Number(byteOffset ?? 0);
        return original.call(this, value, byteOffset, encoding);
      });
      try {
        expect((await stream.receiveUntil("\n", Number.POSITIVE_INFINITY)).length).toBe(length + 1);
      } finally {
        spy.mockRestore();
      }
      expect(scanned).toBeLessThanOrEqual(2 * (length + 1));
    });
  });
});

describe("BufferedReceiveStream: receiveSome and unreceive", () => {
  test("receiveSome serves the buffer first (up to maxBytes), then reads the wrapped stream", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("ab\ncdef"), bytes("ghi")]));
      expect(text(await stream.receiveUntil("\n"))).toBe("ab\n");
      expect(text(await stream.receiveSome(3))).toBe("cde");
      expect(text(await stream.receiveSome())).toBe("f");
      expect(stream.buffered).toBe(0);
      expect(text(await stream.receiveSome(2))).toBe("gh");
      expect(text(await stream.receiveSome())).toBe("i");
      expect((await stream.receiveSome()).length).toBe(0);
      expect((await stream.receiveSome()).length).toBe(0);
    });
  });

  test("async iteration yields the buffered bytes and then the rest of the stream", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("ab\ncd"), bytes("ef")]));
      await stream.receiveUntil("\n");
      const parts: string[] = [];
      for await (const chunk of stream) parts.push(text(chunk));
      expect(parts.join("")).toBe("cdef");
    });
  });

  test("unreceive puts bytes back in front; a delimiter may span them and the buffer", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("abc\r\ndef")]));
      const head = await stream.receiveExactly(4); // "abc\r"
      stream.unreceive(head.subarray(2)); // "c\r"
      expect(stream.buffered).toBe(6);
      expect(text(await stream.receiveUntil("\r\n"))).toBe("c\r\n");
      stream.unreceive(bytes("xy"));
      stream.unreceive(new Uint8Array(0));
      stream.unreceive(bytes("w"));
      expect(text(await drain(stream))).toBe("wxydef");
      // After end of file too.
      stream.unreceive(bytes("z"));
      expect(text(await stream.receiveExactly(1))).toBe("z");
      expect((await stream.receiveSome()).length).toBe(0);
    });
  });
});

describe("BufferedReceiveStream: lines", () => {
  test("\\n and \\r\\n end lines; a lone \\r does not; empty lines kept; last line without a terminator", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(
        chunkedStream([bytes("one\r\ntwo\n\nthr"), bytes("ee\rstill\r"), bytes("\nlast")]),
      );
      const lines: string[] = [];
      for await (const line of stream.lines()) lines.push(line);
      expect(lines).toEqual(["one", "two", "", "three\rstill", "last"]);
    });
  });

  test("a stream ending with a terminator yields no empty line after it; an empty stream none", async () => {
    await runVirtual(async () => {
      const lines: string[] = [];
      for await (const line of new BufferedReceiveStream(
        chunkedStream([bytes("a\nb\n")]),
      ).lines()) {
        lines.push(line);
      }
      expect(lines).toEqual(["a", "b"]);
      const none: string[] = [];
      for await (const line of new BufferedReceiveStream(chunkedStream([])).lines())
        none.push(line);
      expect(none).toEqual([]);
    });
  });

  test("a byte order mark is dropped only at the start of the stream", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("\uFEFFa\n\uFEFFb\n")]));
      const lines: string[] = [];
      for await (const line of stream.lines()) lines.push(line);
      expect(lines).toEqual(["a", "\uFEFFb"]);
    });
  });

  test("invalid UTF-8: U+FFFD that stays on its line, or a TypeError when fatal", async () => {
    await runVirtual(async () => {
      const data = Uint8Array.from([0x61, 0xe2, 0x82, 0x0a, 0x62, 0x0a]); // "a" + truncated "€"
      const lines: string[] = [];
      for await (const line of new BufferedReceiveStream(chunkedStream([data])).lines()) {
        lines.push(line);
      }
      expect(lines).toEqual(["a\uFFFD", "b"]);
      const fatal = new BufferedReceiveStream(chunkedStream([data])).lines({ fatal: true });
      const error = await rejection(fatal.next());
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe("the received data is not valid utf-8");
      expect((error as Error).cause).toBeInstanceOf(TypeError);
    });
  });

  test("other ASCII-compatible encodings decode (latin1)", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(
        chunkedStream([Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a])]),
      );
      const lines: string[] = [];
      for await (const line of stream.lines({ encoding: "latin1" })) lines.push(line);
      expect(lines).toEqual(["café"]);
    });
  });

  test("a line longer than maxLineBytes ends the iteration with LimitOverrunError and stays buffered", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(
        chunkedStream([bytes("ok\n"), bytes("toolong\nnext\n")]),
      );
      const lines: string[] = [];
      const error = await rejection(
        (async () => {
          for await (const line of stream.lines({ maxLineBytes: 5 })) lines.push(line);
        })(),
      );
      expect(lines).toEqual(["ok"]);
      expect(error).toBeInstanceOf(LimitOverrunError);
      expect(text(await stream.receiveUntil("\n"))).toBe("toolong\n");
      const rest: string[] = [];
      for await (const line of stream.lines({ maxLineBytes: 5 })) rest.push(line);
      expect(rest).toEqual(["next"]);
    });
  });

  test("breaking out of the loop leaves the unread bytes in the buffer", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("a\nb\nc")]));
      for await (const line of stream.lines()) {
        expect(line).toBe("a");
        break;
      }
      expect(text(await drain(stream))).toBe("b\nc");
    });
  });
});

describe("BufferedReceiveStream: checkpoints and cancellation", () => {
  test("every receive method is a checkpoint, also when served from the buffer", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("abcdef\nghij\nk\n")]));
      await stream.receiveExactly(1); // fills the buffer
      expect(stream.buffered).toBeGreaterThan(0);
      await assertCheckpoints(() => stream.receiveExactly(2));
      await assertCheckpoints(() => stream.receiveExactly(0));
      await assertCheckpoints(() => stream.receiveUntil("\n"));
      await assertCheckpoints(() => stream.receiveSome(1));
      const lines = stream.lines();
      await assertCheckpoints(() => lines.next());
      await drain(stream);
      // At end of file, served from nothing.
      await assertCheckpoints(() => stream.receiveSome());
      await assertCheckpoints(async () => {
        await rejection(stream.receiveExactly(1));
      });
      await assertCheckpoints(async () => {
        await rejection(stream.receiveUntil("\n"));
      });
    });
  });

  test("in a cancelled scope, a read that the buffer could serve throws Cancelled and takes nothing", async () => {
    await runVirtual(async () => {
      const stream = new BufferedReceiveStream(chunkedStream([bytes("abc\ndef")]));
      await stream.receiveExactly(1);
      const before = stream.buffered;
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        for (const read of [
          () => stream.receiveExactly(1),
          () => stream.receiveExactly(0),
          () => stream.receiveUntil("\n"),
          () => stream.receiveSome(),
        ]) {
          expect(await rejection(read())).toBeInstanceOf(Cancelled);
        }
      });
      expect(stream.buffered).toBe(before);
      expect(text(await drain(stream))).toBe("bc\ndef");
    });
  });

  test("a receiveExactly cut short by a timeout keeps the bytes it received for the next call", async () => {
    await runVirtual(async () => {
      const [send, receive] = memoryStreamOneWayPair();
      const stream = new BufferedReceiveStream(receive);
      await send.sendAll(bytes("hel"));
      const result = await moveOnAfter(10, () => stream.receiveExactly(5));
      expect(result).toBeUndefined();
      expect(stream.buffered).toBe(3);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(5);
          await send.sendAll(bytes("lo!"));
        });
        expect(text(await stream.receiveExactly(5))).toBe("hello");
      });
      expect(text(await stream.receiveExactly(1))).toBe("!");
    });
  });

  test("a receiveUntil cut short by a timeout keeps the bytes it received for the next call", async () => {
    await runVirtual(async () => {
      const [send, receive] = memoryStreamOneWayPair();
      const stream = new BufferedReceiveStream(receive, { receiveSize: 2 });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (const piece of ["GET ", "/ HTT", "P/1.1", "\r", "\nHost"]) {
            await sleep(3);
            await send.sendAll(bytes(piece));
          }
        });
        let attempts = 0;
        let line: Uint8Array | undefined;
        while (line === undefined && attempts < 100) {
          attempts++;
          line = await moveOnAfter(2, () => stream.receiveUntil("\r\n"));
        }
        expect(attempts).toBeGreaterThan(1);
        expect(text(line!)).toBe("GET / HTTP/1.1\r\n");
      });
      expect(text(await stream.receiveExactly(4))).toBe("Host");
    });
  });

  test("an error of the wrapped stream propagates and the buffered bytes stay", async () => {
    await runVirtual(async () => {
      const inner = chunkedStream([bytes("abc")]);
      const stream = new BufferedReceiveStream(inner);
      expect(text(await stream.receiveExactly(1))).toBe("a");
      inner.receiveSomeHook = async () => {
        throw new BrokenResourceError("connection reset");
      };
      expect(await rejection(stream.receiveExactly(5))).toBeInstanceOf(BrokenResourceError);
      expect(stream.buffered).toBe(2);
      expect(text(await stream.receiveSome())).toBe("bc");
    });
  });
});

describe("BufferedReceiveStream: busy, closed and bad input", () => {
  test("two receives at once: BusyResourceError; unreceive during a receive too", async () => {
    await runVirtual(async () => {
      const [send, receive] = memoryStreamOneWayPair();
      const stream = new BufferedReceiveStream(receive);
      const reads = [
        () => stream.receiveSome(),
        () => stream.receiveExactly(1),
        () => stream.receiveUntil("\n"),
        () => stream.lines().next(),
      ];
      for (const read of reads) {
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await stream.receiveUntil("\n");
          });
          await sleep(1);
          expect(await rejection(read())).toBeInstanceOf(BusyResourceError);
          expect(() => stream.unreceive(bytes("x"))).toThrow(BusyResourceError);
          await send.sendAll(bytes("done\n"));
        });
      }
    });
  });

  test("aclose closes the wrapped stream; later calls throw ClosedResourceError", async () => {
    await runVirtual(async () => {
      const inner = chunkedStream([bytes("abc")]);
      let innerClosed = false;
      inner.closeHook = () => {
        innerClosed = true;
      };
      const stream = new BufferedReceiveStream(inner);
      await stream.receiveExactly(1);
      await stream.aclose();
      expect(innerClosed).toBe(true);
      expect(stream.buffered).toBe(0);
      for (const read of [
        () => stream.receiveSome(),
        () => stream.receiveExactly(1),
        () => stream.receiveUntil("\n"),
        () => stream.lines().next(),
      ]) {
        expect(await rejection(read())).toBeInstanceOf(ClosedResourceError);
      }
      expect(() => stream.unreceive(bytes("x"))).toThrow(ClosedResourceError);
      await stream.aclose(); // idempotent
    });
  });

  test("aclose from another task wakes a blocked receive with ClosedResourceError", async () => {
    await runVirtual(async () => {
      const [, receive] = memoryStreamOneWayPair();
      const stream = new BufferedReceiveStream(receive);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(await rejection(stream.receiveExactly(3))).toBeInstanceOf(ClosedResourceError);
        });
        await sleep(1);
        await stream.aclose();
      });
    });
  });

  test("aclose in a cancelled scope still closes", async () => {
    await runVirtual(async () => {
      const inner = chunkedStream([]);
      const stream = new BufferedReceiveStream(inner);
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => stream.aclose());
      expect(await rejection(stream.receiveSome())).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("`await using` closes the stream and the wrapped one at the end of the block, even when it throws", async () => {
    await runVirtual(async () => {
      const inner = chunkedStream([bytes("abc")]);
      let innerClosed = false;
      inner.closeHook = () => {
        innerClosed = true;
      };
      let reader: BufferedReceiveStream | null = null;
      {
        await using stream = new BufferedReceiveStream(inner);
        reader = stream;
        expect(text(await stream.receiveExactly(2))).toBe("ab");
      }
      expect(innerClosed).toBe(true);
      expect(await rejection(reader.receiveSome())).toBeInstanceOf(ClosedResourceError);

      const boom = new Error("boom");
      const opened: { reader?: BufferedReceiveStream } = {};
      const error = await rejection(
        (async () => {
          await using stream = new BufferedReceiveStream(chunkedStream([bytes("abc")]));
          opened.reader = stream;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(await rejection(opened.reader!.receiveSome())).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("bad arguments throw TypeError / RangeError naming the argument", async () => {
    await runVirtual(async () => {
      const make = (options?: unknown) =>
        new BufferedReceiveStream(
          chunkedStream([]),
          options as ConstructorParameters<typeof BufferedReceiveStream>[1],
        );
      expect(() => new BufferedReceiveStream({} as never)).toThrow(TypeError);
      expect(() => new BufferedReceiveStream(null as never)).toThrow(/stream must be/);
      expect(() => make(5)).toThrow(TypeError);
      expect(() => make({ receiveSize: 0 })).toThrow(/options\.receiveSize/);
      expect(() => make({ receiveSize: 1.5 })).toThrow(RangeError);
      expect(() => make({ receiveSize: "8" })).toThrow(TypeError);
      const stream = make();
      const expectError = async (
        promise: Promise<unknown>,
        type: typeof TypeError | typeof RangeError,
        pattern: RegExp,
      ) => {
        const error = await rejection(promise);
        expect(error).toBeInstanceOf(type);
        expect((error as Error).message).toMatch(pattern);
      };
      await expectError(stream.receiveExactly(-1), RangeError, /^n must/);
      await expectError(stream.receiveExactly(1.5), RangeError, /^n must/);
      await expectError(stream.receiveExactly(Number.NaN), RangeError, /^n must/);
      await expectError(stream.receiveExactly("3" as never), TypeError, /^n must/);
      await expectError(stream.receiveUntil(""), RangeError, /^delimiter/);
      await expectError(stream.receiveUntil(10 as never), TypeError, /^delimiter/);
      await expectError(stream.receiveUntil("\n", 0), RangeError, /^maxBytes/);
      await expectError(stream.receiveUntil("\r\n", 1), RangeError, /^maxBytes/);
      await expectError(stream.receiveUntil("\n", 2.5), RangeError, /^maxBytes/);
      await expectError(stream.receiveUntil("\n", "9" as never), TypeError, /^maxBytes/);
      await expectError(stream.receiveSome(0), RangeError, /^maxBytes/);
      expect(() => stream.lines({ maxLineBytes: 0 })).toThrow(/options\.maxLineBytes/);
      expect(() => stream.lines({ encoding: "bogus" })).toThrow(RangeError);
      expect(() => stream.lines({ encoding: "bogus" })).toThrow(/options\.encoding/);
      expect(() => stream.lines({ encoding: "utf-16le" })).toThrow(/ASCII-compatible/);
      expect(() => stream.lines({ fatal: "yes" as never })).toThrow(/options\.fatal/);
      expect(() => stream.lines(3 as never)).toThrow(TypeError);
      expect(() => stream.unreceive("x" as never)).toThrow(/^data must/);
      // Nothing was consumed or broken by the bad calls.
      expect((await stream.receiveSome()).length).toBe(0);
    });
  });
});

describe("BufferedReceiveStream over TCP", () => {
  test("a header, a sized body and lines, sent in odd pieces over 127.0.0.1", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0);
      try {
        let server: SocketStream | undefined;
        let client: SocketStream | undefined;
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            server = await listener!.accept();
          });
          client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
        });
        const reader = new BufferedReceiveStream(server!);
        try {
          const message = bytes(
            "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789first line\r\nsecond ligne é😀\nlast",
          );
          await openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              // Odd piece sizes, cutting the delimiters and a multi-byte character.
              let offset = 0;
              for (let size = 1; offset < message.length; size = (size * 5 + 3) % 17 || 1) {
                await client!.sendAll(message.subarray(offset, offset + size));
                offset += size;
              }
              await client!.sendEof();
            });
            const head = text(await reader.receiveUntil("\r\n\r\n", 1024));
            expect(head).toBe("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
            expect(text(await reader.receiveExactly(10))).toBe("0123456789");
            const lines: string[] = [];
            for await (const line of reader.lines()) lines.push(line);
            expect(lines).toEqual(["first line", "second ligne é😀", "last"]);
          });
        } finally {
          await reader.aclose();
          await client!.aclose();
        }
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("the peer closing in the middle of a frame is an IncompleteReadError (a BrokenResourceError)", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0);
      try {
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            const server = await listener!.accept();
            await server.sendAll(bytes("abc"));
            await server.aclose();
          });
          const reader = new BufferedReceiveStream(
            await openTcpStream("127.0.0.1", listener!.localAddress.port),
          );
          try {
            const error = await rejection(reader.receiveExactly(8));
            expect(error).toBeInstanceOf(IncompleteReadError);
            expect(error).toBeInstanceOf(BrokenResourceError);
            expect(text((error as IncompleteReadError).partial)).toBe("abc");
          } finally {
            await reader.aclose();
          }
        });
      } finally {
        await listener!.aclose();
      }
    });
  });
});
