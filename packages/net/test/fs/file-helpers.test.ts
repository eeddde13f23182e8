/**
 * The whole-file helpers: `readFile`, `readTextFile`, `writeFile`,
 * `appendFile` and `sendFile`. Errors carry Node's error as `cause`; a
 * cancellation aborts Node's operation and throws `Cancelled` (never Node's
 * `AbortError`) once the file is closed again.
 */
import * as fs from "node:fs";
import { pathToFileURL } from "node:url";
import { Cancelled, CancelScope, isCancelled, openNursery, run } from "@weft/core";
import type { SendStream } from "@weft/core/streams";
import { describe, expect, test } from "vitest";
import {
  appendFile,
  readFile,
  readTextFile,
  sendFile,
  writeFile,
} from "../../src/fs/file-helpers.ts";
import { openFile } from "../../src/fs/file-stream.ts";
import {
  canMakeFifo,
  encode,
  expectedFds,
  expectSameBytes,
  fdsUnder,
  makeFifo,
  patternBytes,
  useTempDir,
} from "../support/files.ts";
import { errorOf } from "../support/io.ts";

const tmp = useTempDir();
const MiB = 1024 * 1024;

/**
 * Runs `operation` in a cancel scope that a second task cancels in the same
 * batch, while the operation is parked waiting for Node. Returns what the
 * operation threw (`null` if it returned).
 */
async function cancelInFlight(operation: () => Promise<unknown>): Promise<unknown> {
  const scope = new CancelScope();
  let thrown: unknown = null;
  await openNursery(async (nursery) => {
    nursery.startSoon(() =>
      scope.run(async () => {
        try {
          await operation();
        } catch (error) {
          thrown = error;
          throw error;
        }
      }),
    );
    nursery.startSoon(async () => scope.cancel("test"));
  });
  return thrown;
}

/** A SendStream that records what it was sent, and fails on the `failAt`-th call if asked. */
function recordingStream(failAt = Infinity): SendStream & { chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    async sendAll(data: Uint8Array) {
      if (chunks.length + 1 >= failAt) throw new Error("peer went away");
      chunks.push(data.slice());
    },
    async waitSendAllMightNotBlock() {},
    async aclose() {},
  };
}

describe("reading and writing whole files", () => {
  test("writeFile then readFile round-trips bytes; readFile returns a plain Uint8Array", async () => {
    const path = tmp.file("data.bin");
    const data = patternBytes(3 * MiB + 17);
    await run(async () => {
      await writeFile(path, data);
      const back = await readFile(path);
      expect(Object.getPrototypeOf(back)).toBe(Uint8Array.prototype);
      expectSameBytes(back, data);
      expectSameBytes(await readFile(pathToFileURL(path)), data);
    });
  });

  test("strings are written as UTF-8; readTextFile decodes, drops a BOM, honours encoding and fatal", async () => {
    const path = tmp.file("text.txt");
    await run(async () => {
      await writeFile(path, "grüße ✓\n");
      expect(fs.readFileSync(path)).toEqual(Buffer.from("grüße ✓\n", "utf8"));
      expect(await readTextFile(path)).toBe("grüße ✓\n");

      await writeFile(path, new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]));
      expect(await readTextFile(path)).toBe("hi");

      await writeFile(path, new Uint8Array([0x63, 0x61, 0x66, 0xe9])); // "café" in latin1
      expect(await readTextFile(path, { encoding: "latin1" })).toBe("café");
      expect(await readTextFile(path)).toBe("caf\ufffd");
      const error = await errorOf(() => readTextFile(path, { fatal: true }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/not valid utf-8/);
    });
  });

  test('writeFile replaces; appendFile and flag "a" append; "wx" refuses an existing file (EEXIST)', async () => {
    const path = tmp.file("log");
    await run(async () => {
      await writeFile(path, "old contents\n");
      await writeFile(path, "one\n");
      await appendFile(path, "two\n");
      await writeFile(path, encode("three\n"), { flag: "a" });
      const error = (await errorOf(() => writeFile(path, "x", { flag: "wx" }))) as Error;
      expect(error.message).toMatch(/^cannot write ".*log": EEXIST/);
      expect(error.cause).toMatchObject({ code: "EEXIST" });
      await writeFile(tmp.file("fresh"), "new", { flag: "wx" });
    });
    expect(fs.readFileSync(path, "utf8")).toBe("one\ntwo\nthree\n");
    expect(fs.readFileSync(tmp.file("fresh"), "utf8")).toBe("new");
  });

  test("options.mode sets the permissions of a file writeFile creates", async () => {
    const path = tmp.file("secret");
    await run(async () => {
      await writeFile(path, "shh", { mode: 0o600 });
    });
    if (process.platform !== "win32") expect(fs.statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe("sendFile", () => {
  test("sends a file into a SendStream in chunks of chunkSize and returns the byte count", async () => {
    const path = tmp.file("src");
    const data = patternBytes(100_000);
    fs.writeFileSync(path, data);
    await run(async () => {
      const stream = recordingStream();
      expect(await sendFile(stream, path, { chunkSize: 30_000 })).toBe(100_000);
      expect(stream.chunks.map((c) => c.length)).toEqual([30_000, 30_000, 30_000, 10_000]);
      expectSameBytes(Buffer.concat(stream.chunks), data);
      expect(await sendFile(recordingStream(), tmp.file("src"))).toBe(100_000);
    });
  });

  test("copies a file into another FileStream, and closes the source even when sending fails", async () => {
    const src = tmp.file("src");
    const dst = tmp.file("dst");
    fs.writeFileSync(src, patternBytes(2 * MiB));
    await run(async () => {
      const out = await openFile(dst, "w");
      expect(await sendFile(out, src)).toBe(2 * MiB);
      await out.aclose();

      const error = await errorOf(() => sendFile(recordingStream(3), src));
      expect((error as Error).message).toBe("peer went away");
      expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
    });
    expectSameBytes(fs.readFileSync(dst), patternBytes(2 * MiB));
  });
});

describe("errors", () => {
  test("readFile of a missing file: an Error naming the path, cause ENOENT; of a directory: EISDIR", async () => {
    const missing = tmp.file("missing");
    await run(async () => {
      const error = (await errorOf(() => readFile(missing))) as Error;
      expect(error.constructor).toBe(Error);
      expect(error.message).toBe(
        `cannot read ${JSON.stringify(missing)}: ${(error.cause as Error).message}`,
      );
      expect(error.cause).toMatchObject({ code: "ENOENT" });
      expect(((await errorOf(() => readTextFile(tmp.dir))) as Error).cause).toMatchObject({
        code: "EISDIR",
      });
    });
  });

  test("writeFile into a missing directory: cause ENOENT; appendFile says it appends", async () => {
    const path = tmp.file("no/such/dir/file");
    await run(async () => {
      expect(((await errorOf(() => writeFile(path, "x"))) as Error).cause).toMatchObject({
        code: "ENOENT",
      });
      const error = (await errorOf(() => appendFile(path, "x"))) as Error;
      expect(error.message).toMatch(/^cannot append to "/);
      expect(error.cause).toMatchObject({ code: "ENOENT" });
    });
  });
});

describe("cancellation", () => {
  test("readFile cancelled in flight throws Cancelled, not AbortError, with the file already closed", async () => {
    const path = tmp.file("big");
    fs.writeFileSync(path, patternBytes(8 * MiB));
    await run(async () => {
      const thrown = await cancelInFlight(async () => {
        await readFile(path);
        throw new Error("readFile returned despite the cancellation");
      });
      expect(thrown).toBeInstanceOf(Cancelled);
      expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
    });
  });

  test("writeFile cancelled in flight throws Cancelled once Node closed the file (which it truncated)", async () => {
    const path = tmp.file("out");
    fs.writeFileSync(path, "previous contents");
    await run(async () => {
      const thrown = await cancelInFlight(() => writeFile(path, patternBytes(16 * MiB)));
      expect(thrown).toBeInstanceOf(Cancelled);
      expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
    });
    // Not undone: the file was truncated and at most partly written.
    expect(fs.statSync(path).size).toBeLessThan(16 * MiB);
  });

  test("helpers in an already cancelled scope do nothing: no file is created or read", async () => {
    const path = tmp.file("never");
    await run(async () => {
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        for (const call of [
          () => writeFile(path, "x"),
          () => appendFile(path, "x"),
          () => readFile(path),
          () => readTextFile(path),
          () => sendFile(recordingStream(), path),
        ]) {
          expect(await errorOf(call)).toBeInstanceOf(Cancelled);
        }
      });
    });
    expect(fs.existsSync(path)).toBe(false);
  });

  test.skipIf(!canMakeFifo)(
    "readFile of a FIFO cancelled while it waits for data: Cancelled once Node lets go of the FIFO",
    async () => {
      const fifo = tmp.file("fifo");
      makeFifo(fifo);
      await run(async () => {
        // Our own end, open for the whole test: readFile's open never blocks,
        // and the FIFO never reaches end of file on its own.
        const writer = await openFile(fifo, "r+");
        try {
          const scope = new CancelScope();
          let thrown: unknown = null;
          await openNursery(async (nursery) => {
            nursery.startSoon(() =>
              scope.run(async () => {
                try {
                  await readFile(fifo);
                } catch (error) {
                  thrown = error;
                  throw error;
                }
              }),
            );
            nursery.startSoon(async () => {
              await writer.sendAll(encode("first"));
              scope.cancel();
              // Node checks its signal between reads: this ends a read that
              // may be blocked, and Node then stops.
              await writer.sendAll(encode("second"));
            });
          });
          expect(isCancelled(thrown)).toBe(true);
          expect(fdsUnder(tmp.dir)).toBe(expectedFds(1)); // only our end
        } finally {
          await writer.aclose();
        }
      });
    },
  );
});

describe("bad input", () => {
  test("the helpers reject bad arguments with TypeError / RangeError naming them", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const cases: [() => Promise<unknown>, ErrorConstructor, RegExp][] = [
        [() => readFile(1 as unknown as string), TypeError, /^path must be a string/],
        [() => readTextFile("", {}), TypeError, /^path must not be empty/],
        [
          () => readTextFile(path, { encoding: "klingon" }),
          RangeError,
          /^options.encoding: unsupported encoding/,
        ],
        [
          () => readTextFile(path, { fatal: "yes" as unknown as boolean }),
          TypeError,
          /^options.fatal/,
        ],
        [
          () => writeFile(path, 5 as unknown as string),
          TypeError,
          /^data must be a string or a Uint8Array/,
        ],
        [
          () => writeFile(path, "x", { flag: "r" as "w" }),
          RangeError,
          /^options.flag must be "w", "wx", "a" or "ax"/,
        ],
        [
          () => writeFile(path, "x", { flag: 1 as unknown as "w" }),
          TypeError,
          /^options.flag must be a string/,
        ],
        [() => writeFile(path, "x", { mode: 1.5 }), RangeError, /^options.mode/],
        [() => appendFile(path, "x", null as unknown as undefined), TypeError, /^options/],
        [() => sendFile({} as SendStream, path), TypeError, /^stream must be a SendStream/],
        [
          () => sendFile(recordingStream(), path, { chunkSize: 0 }),
          RangeError,
          /^options.chunkSize must be an integer >= 1/,
        ],
      ];
      for (const [call, type, message] of cases) {
        const error = await errorOf(call);
        expect(error).toBeInstanceOf(type);
        expect((error as Error).message).toMatch(message);
      }
    });
    expect(fs.existsSync(path)).toBe(false);
  });
});
