/**
 * TextReceiveStream: decoding a byte stream to text, with characters split
 * across chunks at every possible place, invalid and truncated input, other
 * encodings, cancellation, busy, closing and bad input.
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
  sleep,
} from "@weft/core";
import { assertCheckpoints } from "@weft/testing";
import { memoryStreamOneWayPair } from "@weft/testing/streams";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { propertyParameters } from "../../../core/test/support/property-parameters.ts";
import { TextReceiveStream } from "../../src/index.ts";
import { chunkedStream, rejection, runVirtual, splitAt } from "../support/chunks.ts";

const { numRuns: NUM_RUNS, parameters: PARAMETERS } = propertyParameters(300);

const bytes = (s: string) => new TextEncoder().encode(s);

/** All the text until end of file. */
async function readAll(stream: TextReceiveStream, maxBytes?: number): Promise<string> {
  let out = "";
  while (true) {
    const piece = await stream.receiveText(maxBytes);
    if (piece.length === 0) return out;
    out += piece;
  }
}

describe("TextReceiveStream: decoding", () => {
  test("UTF-8 split in every possible place, into two and three chunks, decodes to the same text", async () => {
    // 1-, 2-, 3- and 4-byte characters, and one at each end.
    const original = "😀a\u00e9\u20acb\u{10348}\u0800z€";
    const encoded = bytes(original);
    await runVirtual(async () => {
      for (let i = 0; i <= encoded.length; i++) {
        for (let j = i; j <= encoded.length; j++) {
          const stream = new TextReceiveStream(chunkedStream(splitAt(encoded, [i, j])));
          const pieces: string[] = [];
          for await (const piece of stream) pieces.push(piece);
          expect(pieces.join("")).toBe(original);
          // No piece ends in half a surrogate pair: every piece is whole characters.
          for (const piece of pieces) expect(piece.isWellFormed()).toBe(true);
        }
      }
    });
  });

  test("reading one byte at a time (maxBytes = 1) still returns whole characters", async () => {
    await runVirtual(async () => {
      const stream = new TextReceiveStream(chunkedStream([bytes("a€😀")]));
      expect(await stream.receiveText(1)).toBe("a");
      expect(await stream.receiveText(1)).toBe("€");
      expect(await stream.receiveText(1)).toBe("😀");
      expect(await stream.receiveText(1)).toBe("");
    });
  });

  test("property: any text, split anywhere, decodes as the whole byte sequence does at once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }),
        async (original, splits, maxBytes) => {
          const encoded = bytes(original);
          await runVirtual(async () => {
            const stream = new TextReceiveStream(chunkedStream(splitAt(encoded, splits)));
            // The reference decodes everything in one call (and so drops a leading BOM too).
            expect(await readAll(stream, maxBytes)).toBe(new TextDecoder().decode(encoded));
          });
        },
      ),
      { numRuns: NUM_RUNS, ...PARAMETERS },
    );
  });

  test("property: arbitrary bytes decode as TextDecoder decodes them at once (U+FFFD included)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (data, splits) => {
          await runVirtual(async () => {
            const stream = new TextReceiveStream(chunkedStream(splitAt(data, splits)));
            expect(await readAll(stream)).toBe(new TextDecoder().decode(data));
          });
        },
      ),
      { numRuns: NUM_RUNS, ...PARAMETERS },
    );
  });

  test("invalid data: U+FFFD, or with fatal a TypeError, after which the stream is broken", async () => {
    await runVirtual(async () => {
      const invalid = Uint8Array.from([0x61, 0xff, 0x62]);
      expect(await readAll(new TextReceiveStream(chunkedStream([invalid])))).toBe("a\uFFFDb");
      const fatal = new TextReceiveStream(chunkedStream([invalid, bytes("more")]), { fatal: true });
      const error = await rejection(fatal.receiveText());
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe("the received data is not valid utf-8");
      expect((error as Error).cause).toBeInstanceOf(TypeError);
      const later = await rejection(fatal.receiveText());
      expect(later).toBeInstanceOf(BrokenResourceError);
      expect((later as Error).cause).toBe(error);
    });
  });

  test("a character still incomplete at end of file: U+FFFD then EOF, or a TypeError when fatal", async () => {
    await runVirtual(async () => {
      const truncated = bytes("ok€").subarray(0, 4); // "ok" + 2 of the 3 bytes of "€"
      const stream = new TextReceiveStream(chunkedStream([truncated]));
      expect(await stream.receiveText()).toBe("ok");
      expect(await stream.receiveText()).toBe("\uFFFD");
      expect(await stream.receiveText()).toBe("");
      expect(await stream.receiveText()).toBe("");
      const fatal = new TextReceiveStream(chunkedStream([truncated]), { fatal: true });
      expect(await fatal.receiveText()).toBe("ok");
      expect(await rejection(fatal.receiveText())).toBeInstanceOf(TypeError);
    });
  });

  test("a leading byte order mark is dropped, a later U+FEFF kept", async () => {
    await runVirtual(async () => {
      const data = bytes("\uFEFFa\uFEFFb");
      const stream = new TextReceiveStream(chunkedStream(splitAt(data, [1, 2, 5])));
      expect(await readAll(stream)).toBe("a\uFEFFb");
    });
  });

  test("other encodings: latin1, and UTF-16LE split inside a code unit and a surrogate pair", async () => {
    await runVirtual(async () => {
      const latin1 = new TextReceiveStream(
        chunkedStream([Uint8Array.from([0x63, 0x61, 0x66, 0xe9])]),
        {
          encoding: "latin1",
        },
      );
      expect(latin1.encoding).toBe("windows-1252");
      expect(await readAll(latin1)).toBe("café");
      const original = "a😀b";
      const utf16 = new Uint8Array(original.length * 2);
      for (let i = 0; i < original.length; i++) {
        const unit = original.charCodeAt(i);
        utf16[2 * i] = unit & 0xff;
        utf16[2 * i + 1] = unit >> 8;
      }
      for (let cut = 0; cut <= utf16.length; cut++) {
        const stream = new TextReceiveStream(chunkedStream(splitAt(utf16, [cut, cut + 3])), {
          encoding: "utf-16le",
        });
        expect(await readAll(stream)).toBe(original);
      }
    });
  });
});

describe("TextReceiveStream: checkpoints, cancellation, busy, closing", () => {
  test("a read cut short while a character is incomplete loses nothing", async () => {
    await runVirtual(async () => {
      const [send, receive] = memoryStreamOneWayPair();
      const stream = new TextReceiveStream(receive);
      const euro = bytes("€");
      await send.sendAll(euro.subarray(0, 2));
      expect(await moveOnAfter(10, () => stream.receiveText())).toBeUndefined();
      await send.sendAll(euro.subarray(2));
      expect(await stream.receiveText()).toBe("€");
    });
  });

  test("every call is a checkpoint, also at end of file; in a cancelled scope nothing is read", async () => {
    await runVirtual(async () => {
      const stream = new TextReceiveStream(chunkedStream([bytes("abc")]));
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        expect(await rejection(stream.receiveText())).toBeInstanceOf(Cancelled);
      });
      expect(await assertCheckpoints(() => stream.receiveText())).toBe("abc");
      expect(await assertCheckpoints(() => stream.receiveText())).toBe("");
      expect(await assertCheckpoints(() => stream.receiveText())).toBe("");
    });
  });

  test("two reads at once: BusyResourceError", async () => {
    await runVirtual(async () => {
      const [send, receive] = memoryStreamOneWayPair();
      const stream = new TextReceiveStream(receive);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(await stream.receiveText()).toBe("x");
        });
        await sleep(1);
        expect(await rejection(stream.receiveText())).toBeInstanceOf(BusyResourceError);
        await send.sendAll(bytes("x"));
      });
    });
  });

  test("aclose closes the wrapped stream, wakes a blocked read, and later reads throw ClosedResourceError", async () => {
    await runVirtual(async () => {
      const [, receive] = memoryStreamOneWayPair();
      let innerClosed = false;
      receive.closeHook = () => {
        innerClosed = true;
      };
      const stream = new TextReceiveStream(receive);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(await rejection(stream.receiveText())).toBeInstanceOf(ClosedResourceError);
        });
        await sleep(1);
        await stream.aclose();
      });
      expect(innerClosed).toBe(true);
      expect(await rejection(stream.receiveText())).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("`await using` closes the stream and the wrapped one at the end of the block, even when it throws", async () => {
    await runVirtual(async () => {
      const inner = chunkedStream([bytes("héllo")]);
      let innerClosed = false;
      inner.closeHook = () => {
        innerClosed = true;
      };
      let reader: TextReceiveStream | null = null;
      {
        await using stream = new TextReceiveStream(inner);
        reader = stream;
        expect(await stream.receiveText()).toBe("héllo");
      }
      expect(innerClosed).toBe(true);
      expect(await rejection(reader.receiveText())).toBeInstanceOf(ClosedResourceError);

      const boom = new Error("boom");
      const opened: { reader?: TextReceiveStream } = {};
      const error = await rejection(
        (async () => {
          await using stream = new TextReceiveStream(chunkedStream([bytes("x")]));
          opened.reader = stream;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(await rejection(opened.reader!.receiveText())).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("bad arguments throw TypeError / RangeError naming the argument", async () => {
    await runVirtual(async () => {
      expect(() => new TextReceiveStream("x" as never)).toThrow(/stream must be/);
      expect(() => new TextReceiveStream(chunkedStream([]), 1 as never)).toThrow(TypeError);
      expect(() => new TextReceiveStream(chunkedStream([]), { encoding: "nope" })).toThrow(
        /options\.encoding/,
      );
      expect(() => new TextReceiveStream(chunkedStream([]), { encoding: 8 as never })).toThrow(
        TypeError,
      );
      expect(() => new TextReceiveStream(chunkedStream([]), { fatal: 1 as never })).toThrow(
        /options\.fatal/,
      );
      const stream = new TextReceiveStream(chunkedStream([]));
      const error = await rejection(stream.receiveText(0));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(/^maxBytes/);
      expect(await stream.receiveText()).toBe("");
    });
  });
});
