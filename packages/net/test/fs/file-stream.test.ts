/**
 * `openFile` and `FileStream`: files as weft byte streams. Reads and writes at
 * the stream's position, flags, errors with Node's error as cause, one
 * operation at a time, and cancellation: a cancelled read consumed nothing, a
 * cancelled write breaks sending, and no descriptor outlives `aclose` or `run`.
 *
 * Cancellations "while the operation is in flight" are made deterministic by
 * batch order: a task starts the operation and parks in it (in the thread
 * pool), and a task started after it cancels in the same batch — before any
 * I/O completion can be delivered, which takes a turn of Node's event loop.
 */
import * as fs from "node:fs";
import { pathToFileURL } from "node:url";
import {
  BrokenResourceError,
  BusyResourceError,
  Cancelled,
  CancelScope,
  ClosedResourceError,
  cancellable,
  moveOnAfter,
  openNursery,
  run,
} from "@weft/core";
import { assertCheckpoints, MockClock, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { expectRejects } from "../../../core/test/support/helpers.ts";
import { readFile, writeFile } from "../../src/fs/file-helpers.ts";
import { type FileStream, openFile } from "../../src/fs/file-stream.ts";
import {
  canMakeFifo,
  decode,
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

/** Reads `file` to its end with plain `receiveSome` calls; returns the chunks. */
async function receiveAllChunks(file: FileStream, maxBytes?: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  while (true) {
    const chunk = await file.receiveSome(maxBytes);
    if (chunk.length === 0) return chunks;
    chunks.push(chunk);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Runs `operation` in a task of its own inside a cancel scope that a second
 * task cancels while the operation is in flight (same batch, see above). The
 * second task first checks that the file is busy: proof that the operation
 * had started. Returns the scope.
 */
async function cancelWhileInFlight(
  file: FileStream,
  operation: () => Promise<unknown>,
): Promise<CancelScope> {
  const scope = new CancelScope();
  await openNursery(async (nursery) => {
    nursery.startSoon(() => scope.run(operation));
    nursery.startSoon(async () => {
      expect(() => file.seek(0)).toThrow(BusyResourceError);
      scope.cancel("test");
    });
  });
  return scope;
}

describe("reading and writing", () => {
  test("a 5 MiB file written in one sendAll reads back identical, in chunks of at most maxBytes", async () => {
    const data = patternBytes(5 * MiB);
    const path = tmp.file("big.bin");
    await run(async () => {
      const writer = await openFile(path, "w");
      await writer.sendAll(data);
      expect(writer.position).toBe(data.length);
      await writer.aclose();

      const reader = await openFile(path);
      const chunks = await receiveAllChunks(reader);
      expect(chunks.every((c) => c.length > 0 && c.length <= 65536)).toBe(true);
      expect(chunks.length).toBe(80);
      expectSameBytes(concat(chunks), data);
      expect(reader.position).toBe(data.length);
      // At end of file: empty, again and again.
      expect(await reader.receiveSome()).toHaveLength(0);
      expect(await reader.receiveSome()).toHaveLength(0);
      await reader.aclose();
    });
  });

  test("receiveSome(maxBytes) returns at most maxBytes, and at most 1 MiB whatever it asks", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, patternBytes(3 * MiB));
    await run(async () => {
      const file = await openFile(path);
      expect(await file.receiveSome(3)).toEqual(patternBytes(3));
      expect((await file.receiveSome(10 * MiB)).length).toBe(MiB);
      expect(file.position).toBe(MiB + 3);
      const rest = await receiveAllChunks(file, 10 * MiB);
      expect(rest.map((c) => c.length)).toEqual([MiB, MiB - 3]);
      await file.aclose();
    });
  });

  test("async iteration yields the chunks until end of file; `await using` closes", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, patternBytes(200_000));
    await run(async () => {
      let handle: FileStream | null = null;
      {
        await using file = await openFile(path);
        handle = file;
        const chunks: Uint8Array[] = [];
        for await (const chunk of file) chunks.push(chunk);
        expectSameBytes(concat(chunks), patternBytes(200_000));
        expect(fdsUnder(tmp.dir)).toBe(expectedFds(1));
      }
      expect(handle.closed).toBe(true);
      expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
    });
  });

  test("seek moves the position shared by reads and writes; writing past the end leaves zeros", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "hello world");
    await run(async () => {
      const file = await openFile(path, "r+");
      file.seek(6);
      expect(decode(await file.receiveSome())).toBe("world");
      expect(file.position).toBe(11);
      file.seek(0);
      await file.sendAll(encode("J"));
      expect(file.position).toBe(1);
      expect(decode(await file.receiveSome(4))).toBe("ello");
      file.seek(13);
      await file.sendAll(encode("!"));
      expect((await file.stat()).size).toBe(14);
      await file.aclose();
    });
    expect(fs.readFileSync(path)).toEqual(Buffer.from("Jello world\0\0!"));
  });

  test('"w" truncates, "w+" reads back what it wrote, "r+" keeps what it does not overwrite', async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "0123456789");
    await run(async () => {
      const rplus = await openFile(path, "r+");
      await rplus.sendAll(encode("ab"));
      await rplus.aclose();
      expect(fs.readFileSync(path, "utf8")).toBe("ab23456789");

      const wplus = await openFile(path, "w+");
      expect((await wplus.stat()).size).toBe(0);
      await wplus.sendAll(encode("new"));
      wplus.seek(0);
      expect(decode(await wplus.receiveSome())).toBe("new");
      await wplus.aclose();
    });
    expect(fs.readFileSync(path, "utf8")).toBe("new");
  });

  test('append modes write at the end whatever the position; "a+" reads from the position', async () => {
    const path = tmp.file("log");
    fs.writeFileSync(path, "one\n");
    await run(async () => {
      const file = await openFile(path, "a+");
      await file.sendAll(encode("two\n"));
      expect(file.position).toBe(0);
      expect(decode(await file.receiveSome(4))).toBe("one\n");
      await file.sendAll(encode("three\n"));
      expect(file.position).toBe(4);
      expect(decode(await file.receiveSome())).toBe("two\nthree\n");
      await file.aclose();

      const appendOnly = await openFile(path, "a");
      await appendOnly.sendAll(encode("four\n"));
      await appendOnly.aclose();
    });
    expect(fs.readFileSync(path, "utf8")).toBe("one\ntwo\nthree\nfour\n");
  });

  test("stat reports the file's size; sync flushes; a file: URL is a path too", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const file = await openFile(pathToFileURL(path), "wx");
      expect(file.path).toBe(path);
      await file.sendAll(patternBytes(1000));
      expect((await file.stat()).size).toBe(1000);
      expect((await file.stat()).isFile()).toBe(true);
      await file.sync();
      await file.aclose();
    });
  });

  test("truncate cuts or extends the file and leaves position alone; datasync flushes", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "hello, world");
    await run(async () => {
      const file = await openFile(path, "r+");
      file.seek(7);
      await assertCheckpoints(() => file.truncate(5));
      expect(file.position).toBe(7);
      expect(fs.readFileSync(path, "utf8")).toBe("hello");
      await file.truncate(8); // extends with zeros
      expect([...fs.readFileSync(path)]).toEqual([...encode("hello"), 0, 0, 0]);
      await assertCheckpoints(() => file.datasync());
      await file.truncate();
      expect(fs.statSync(path).size).toBe(0);
      await expectRejects(() => file.truncate(-1), RangeError);
      await expectRejects(() => file.truncate("3" as unknown as number), /length must be a number/);
      await file.aclose();
      await expect(file.truncate()).rejects.toThrow(ClosedResourceError);
      const readOnly = await openFile(path, "r");
      await expect(readOnly.truncate()).rejects.toThrow(TypeError);
      await readOnly.aclose();
    });
  });

  test("on a virtual clock, waiting for file I/O is an external wait, not a deadlock", async () => {
    const path = tmp.file("f");
    // With autojump and no deadline pending, a run whose tasks all wait on
    // anything but external work is reported deadlocked.
    await run(
      async () => {
        await writeFile(path, "virtual");
        const file = await openFile(path, "r+");
        expect(decode(await file.receiveSome())).toBe("virtual");
        await file.sendAll(encode("!"));
        await file.stat();
        await file.aclose();
        expect(decode(await readFile(path))).toBe("virtual!");
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("every operation is a checkpoint, also an empty sendAll and a read at end of file", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const file = await assertCheckpoints(() => openFile(path, "w+"));
      await assertCheckpoints(() => file.sendAll(encode("abc")));
      await assertCheckpoints(() => file.sendAll(new Uint8Array(0)));
      await assertCheckpoints(() => file.waitSendAllMightNotBlock());
      await assertCheckpoints(() => file.receiveSome());
      await assertCheckpoints(() => file.stat());
      await assertCheckpoints(() => file.sync());
      await assertCheckpoints(() => file.aclose());
      await assertCheckpoints(() => file.aclose());
    });
  });
});

describe("access, concurrency and closing", () => {
  test("a read-only stream rejects writing and a write-only one reading, with TypeError", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "data");
    await run(async () => {
      const reader = await openFile(path, "r");
      expect([reader.readable, reader.writable]).toEqual([true, false]);
      await expect(reader.sendAll(encode("x"))).rejects.toThrow(
        /sendAll: ".*" was opened with flags "r", which do not allow writing/,
      );
      await expect(reader.sendAll(encode("x"))).rejects.toBeInstanceOf(TypeError);
      await expect(reader.waitSendAllMightNotBlock()).rejects.toBeInstanceOf(TypeError);
      expect(decode(await reader.receiveSome())).toBe("data"); // still usable
      await reader.aclose();

      const writer = await openFile(path, "a");
      expect([writer.readable, writer.writable]).toEqual([false, true]);
      await expect(writer.receiveSome()).rejects.toThrow(/which do not allow reading/);
      await expect(writer.receiveSome()).rejects.toBeInstanceOf(TypeError);
      await writer.sendAll(encode("!")); // still usable
      await writer.aclose();
    });
    expect(fs.readFileSync(path, "utf8")).toBe("data!");
  });

  test("a second operation while one is in flight throws BusyResourceError, reading or writing", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "data");
    await run(async () => {
      const file = await openFile(path, "r+");
      const busy: unknown[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(decode(await file.receiveSome())).toBe("data");
        });
        nursery.startSoon(async () => {
          // Same batch: the first task is parked in its read.
          busy.push(await errorOf(() => file.receiveSome()));
          busy.push(await errorOf(() => file.sendAll(encode("x"))));
          busy.push(await errorOf(() => file.stat()));
          busy.push(await errorOf(async () => file.seek(0)));
        });
      });
      expect(busy).toHaveLength(4);
      for (const error of busy) expect(error).toBeInstanceOf(BusyResourceError);
      expect(file.position).toBe(4); // the seek did not happen
      await file.aclose();
    });
  });

  test("after aclose every operation throws ClosedResourceError, and aclose again is fine", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const file = await openFile(path, "w+");
      await file.aclose();
      expect(file.closed).toBe(true);
      await expect(file.receiveSome()).rejects.toThrow(ClosedResourceError);
      await expect(file.sendAll(encode("x"))).rejects.toThrow(ClosedResourceError);
      await expect(file.waitSendAllMightNotBlock()).rejects.toThrow(ClosedResourceError);
      await expect(file.stat()).rejects.toThrow(ClosedResourceError);
      await expect(file.sync()).rejects.toThrow(ClosedResourceError);
      expect(() => file.seek(0)).toThrow(ClosedResourceError);
      await file.aclose();
    });
    expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
  });

  test.skipIf(!canMakeFifo)(
    "aclose wakes a task blocked in receiveSome with ClosedResourceError, and returns once the descriptor is closed",
    async () => {
      const fifo = tmp.file("fifo");
      makeFifo(fifo);
      await run(async () => {
        // "r+" opens a FIFO without waiting for a writer (Linux).
        const file = await openFile(fifo, "r+");
        expect(file.seekable).toBe(false);
        let readerError: unknown = null;
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            readerError = await errorOf(() => file.receiveSome());
          });
          nursery.startSoon(async () => {
            await waitAllTasksBlocked(); // the reader is blocked in the thread pool
            nursery.startSoon(async () => {
              await waitAllTasksBlocked(); // aclose waits for the blocked read
              expect(fdsUnder(tmp.dir)).toBe(expectedFds(1));
              fs.writeFileSync(fifo, "x"); // the read returns; Node closes
            });
            await file.aclose();
            expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
          });
        });
        expect(readerError).toBeInstanceOf(ClosedResourceError);
      });
    },
  );
});

describe("cancellation", () => {
  test("a receiveSome cancelled while its read is in flight consumed nothing", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "hello world");
    await run(async () => {
      const file = await openFile(path);
      let returned = false;
      const scope = await cancelWhileInFlight(file, async () => {
        await file.receiveSome(5);
        returned = true;
      });
      expect(scope.cancelledCaught).toBe(true);
      expect(returned).toBe(false);
      expect(file.position).toBe(0);
      expect(decode(await file.receiveSome(5))).toBe("hello");
      await file.aclose();
    });
  });

  test("a receiveSome in an already cancelled scope throws Cancelled and reads nothing", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "hello");
    await run(async () => {
      const file = await openFile(path);
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        await expect(file.receiveSome()).rejects.toBeInstanceOf(Cancelled);
        await expect(file.sendAll(encode("x"))).rejects.toBeInstanceOf(TypeError); // misuse first
      });
      expect(file.position).toBe(0);
      expect(decode(await file.receiveSome())).toBe("hello");
      await file.aclose();
    });
  });

  test("a sendAll cancelled before it starts writes nothing, and breaks sending as any cancelled sendAll does", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const file = await openFile(path, "w+");
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => file.sendAll(encode("never")));
      expect(scope.cancelledCaught).toBe(true);
      const error = await errorOf(() => file.sendAll(encode("not either")));
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toMatch(/a previous sendAll was cancelled/);
      expect((error as Error).cause).toBeInstanceOf(Cancelled);
      expect(await file.receiveSome()).toHaveLength(0); // reading is not broken
      await file.aclose();
    });
    expect(fs.readFileSync(path, "utf8")).toBe("");
  });

  test("a sendAll cancelled in flight breaks sending (its bytes reach the file); reading still works", async () => {
    const path = tmp.file("f");
    const data = patternBytes(MiB);
    await run(async () => {
      const file = await openFile(path, "w+");
      const scope = await cancelWhileInFlight(file, () => file.sendAll(data));
      expect(scope.cancelledCaught).toBe(true);
      data.fill(0); // the caller may reuse its array: the write has its own copy
      expect(file.position).toBe(0);
      const error = await errorOf(() => file.sendAll(encode("more")));
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toMatch(/a previous sendAll was cancelled/);
      expect((error as Error).cause).toBeInstanceOf(Cancelled);
      await file.receiveSome(); // reading is not broken
      await file.aclose(); // waits for the abandoned write
    });
    // A write cannot be recalled from the thread pool: it completed.
    expectSameBytes(fs.readFileSync(path), patternBytes(MiB));
  });

  test("aclose in a cancelled scope still closes: no descriptor is left once it throws Cancelled", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, patternBytes(MiB));
    await run(async () => {
      const file = await openFile(path);
      const scope = await cancelWhileInFlight(file, async () => {
        try {
          await file.receiveSome();
        } finally {
          // The read is still in flight in the thread pool; aclose waits for
          // it, cancelled or not, then throws Cancelled.
          await expect(file.aclose()).rejects.toBeInstanceOf(Cancelled);
          expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
        }
      });
      expect(scope.cancelledCaught).toBe(true);
      expect(file.closed).toBe(true);
    });
  });

  test("an openFile cancelled in flight closes what it opened before throwing Cancelled", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, "x");
    await run(async () => {
      const scope = new CancelScope();
      let opened: FileStream | null = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          scope.run(async () => {
            opened = await openFile(path);
          }),
        );
        nursery.startSoon(async () => scope.cancel());
      });
      expect(scope.cancelledCaught).toBe(true);
      expect(opened).toBe(null);
      expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
    });
  });

  test("an openFile in a cancelled scope opens (and creates) nothing", async () => {
    const path = tmp.file("new");
    await run(async () => {
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => openFile(path, "w"));
      expect(scope.cancelledCaught).toBe(true);
    });
    expect(fs.existsSync(path)).toBe(false);
  });

  test.skipIf(!canMakeFifo)(
    "on a FIFO, a cancelled receiveSome loses nothing: the next calls return what its read got",
    async () => {
      const fifo = tmp.file("fifo");
      makeFifo(fifo);
      await run(async () => {
        const file = await openFile(fifo, "r+");
        const scope = new CancelScope();
        await openNursery(async (nursery) => {
          nursery.startSoon(() => scope.run(() => file.receiveSome()));
          nursery.startSoon(async () => {
            await waitAllTasksBlocked(); // the read really blocks: nobody writes
            scope.cancel();
          });
        });
        expect(scope.cancelledCaught).toBe(true);
        fs.writeFileSync(fifo, "late data"); // completes the abandoned read
        expect(decode(await file.receiveSome(4))).toBe("late");
        expect(decode(await file.receiveSome())).toBe(" data");
        expect(file.position).toBe(0);
        expect(() => file.seek(0)).toThrow(TypeError);
        await file.aclose();
      });
    },
  );

  test.skipIf(!canMakeFifo)(
    "on a FIFO, a cancelled aclose does not wait for a blocked read; the descriptor goes when the read returns",
    async () => {
      const fifo = tmp.file("fifo");
      makeFifo(fifo);
      await run(async () => {
        const file = await openFile(fifo, "r+");
        const scope = new CancelScope();
        await openNursery(async (nursery) => {
          nursery.startSoon(() =>
            scope.run(async () => {
              try {
                await file.receiveSome();
              } finally {
                await file.aclose(); // would wait forever for a writer, but we are cancelled
              }
            }),
          );
          nursery.startSoon(async () => {
            await waitAllTasksBlocked();
            scope.cancel();
          });
        });
        expect(scope.cancelledCaught).toBe(true);
        expect(file.closed).toBe(true);
        expect(fdsUnder(tmp.dir)).toBe(expectedFds(1)); // the read still holds it
        fs.writeFileSync(fifo, "x");
        await cancellable(file.handle.close()); // Node's pending close: resolves once closed
        expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
      });
    },
  );

  test("no descriptor outlives run(): 200 files written and read by tasks cancelled at arbitrary points", async () => {
    let completed = 0;
    let cancelled = 0;
    await run(async () => {
      await openNursery(async (nursery) => {
        for (let i = 0; i < 200; i++) {
          nursery.startSoon(async () => {
            try {
              const file = await openFile(tmp.file(`f${i}`), "w+");
              try {
                await file.sendAll(patternBytes(4096 + i));
                file.seek(0);
                expect((await file.receiveSome(8192)).length).toBe(4096 + i);
                await file.stat();
              } finally {
                await file.aclose();
              }
              if (++completed === 20) nursery.cancelScope.cancel("enough");
            } catch (error) {
              if (error instanceof Cancelled) cancelled++;
              throw error;
            }
          });
        }
      });
    });
    expect(completed).toBeGreaterThanOrEqual(20);
    expect(cancelled).toBeGreaterThan(0);
    expect(completed + cancelled).toBe(200);
    expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
  });
});

describe("errors", () => {
  test("a missing file: an Error naming the path and flags, whose cause is Node's ENOENT", async () => {
    const path = tmp.file("missing");
    await run(async () => {
      const error = (await errorOf(() => openFile(path))) as Error;
      expect(error.constructor).toBe(Error);
      expect(error.message).toContain(`cannot open ${JSON.stringify(path)} with flags "r": ENOENT`);
      expect(error.cause).toMatchObject({ code: "ENOENT", syscall: "open" });
      expect(error.stack).toContain("file-stream.test.ts"); // the caller's stack, unlike Node's
    });
  });

  test('"wx" on an existing file fails with cause EEXIST; a file as a directory with ENOTDIR', async () => {
    const path = tmp.file("exists");
    fs.writeFileSync(path, "keep me");
    await run(async () => {
      expect(((await errorOf(() => openFile(path, "wx"))) as Error).cause).toMatchObject({
        code: "EEXIST",
      });
      expect(((await errorOf(() => openFile(`${path}/child`, "w"))) as Error).cause).toMatchObject({
        code: "ENOTDIR",
      });
    });
    expect(fs.readFileSync(path, "utf8")).toBe("keep me");
  });

  test("a directory: opening it for writing fails (EISDIR); reading it is a BrokenResourceError (EISDIR)", async () => {
    await run(async () => {
      expect(((await errorOf(() => openFile(tmp.dir, "w"))) as Error).cause).toMatchObject({
        code: "EISDIR",
      });
      const dir = await openFile(tmp.dir, "r");
      const error = await errorOf(() => dir.receiveSome());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toMatch(/^receiveSome on ".*" failed: EISDIR/);
      expect((error as Error).cause).toMatchObject({ code: "EISDIR" });
      await dir.aclose();
    });
  });

  test.skipIf(!fs.existsSync("/dev/full"))(
    "a failed write (ENOSPC on /dev/full) is a BrokenResourceError, and later sends are broken too",
    async () => {
      await run(async () => {
        const file = await openFile("/dev/full", "w");
        const first = await errorOf(() => file.sendAll(encode("data")));
        expect(first).toBeInstanceOf(BrokenResourceError);
        expect((first as Error).cause).toMatchObject({ code: "ENOSPC" });
        const second = await errorOf(() => file.sendAll(encode("more")));
        expect(second).toBeInstanceOf(BrokenResourceError);
        expect((second as Error).message).toMatch(/an earlier sendAll failed/);
        expect((second as Error).cause).toMatchObject({ code: "ENOSPC" });
        await file.aclose();
      });
    },
  );

  test.skipIf(!fs.existsSync("/dev/zero"))(
    "a character device is read in order: no position, seek throws TypeError",
    async () => {
      await run(async () => {
        const file = await openFile("/dev/zero");
        expect(file.seekable).toBe(false);
        expect(await file.receiveSome(16)).toEqual(new Uint8Array(16));
        expect(file.position).toBe(0);
        expect(() => file.seek(0)).toThrow(/is not seekable/);
        await file.aclose();
      });
    },
  );
});

describe("bad input", () => {
  test("openFile rejects bad paths, flags and options with TypeError / RangeError naming them", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const cases: [() => Promise<unknown>, ErrorConstructor, RegExp][] = [
        [
          () => openFile(42 as unknown as string),
          TypeError,
          /^path must be a string or a file: URL/,
        ],
        [() => openFile(""), TypeError, /^path must not be empty/],
        [() => openFile("a\0b"), TypeError, /^path must not contain NUL/],
        [() => openFile(new URL("https://example.com/x")), TypeError, /^path must be a file: URL/],
        [() => openFile(path, "rw" as "r"), RangeError, /^flags must be one of "r", "r\+"/],
        [() => openFile(path, 2 as unknown as "r"), TypeError, /^flags must be a string/],
        [() => openFile(path, "w", { mode: -1 }), RangeError, /^options.mode must be an integer/],
        [() => openFile(path, "w", { mode: 0o10000 }), RangeError, /^options.mode/],
        [
          () => openFile(path, "w", { mode: "644" as unknown as number }),
          TypeError,
          /^options.mode must be a number/,
        ],
        [() => openFile(path, "w", null as unknown as undefined), TypeError, /^options must be/],
      ];
      for (const [call, type, message] of cases) {
        const error = await errorOf(call);
        expect(error).toBeInstanceOf(type);
        expect((error as Error).message).toMatch(message);
      }
    });
    expect(fs.existsSync(path)).toBe(false);
  });

  test("stream methods reject bad arguments with TypeError / RangeError naming them", async () => {
    const path = tmp.file("f");
    await run(async () => {
      const file = await openFile(path, "w+");
      await expect(file.receiveSome(0)).rejects.toThrow(RangeError);
      await expect(file.receiveSome(1.5)).rejects.toThrow(/^maxBytes must be an integer >= 1/);
      await expect(file.sendAll("text" as unknown as Uint8Array)).rejects.toThrow(
        /^data must be a Uint8Array/,
      );
      expect(() => file.seek(-1)).toThrow(RangeError);
      expect(() => file.seek(0.5)).toThrow(/^position must be an integer >= 0/);
      expect(() => file.seek("1" as unknown as number)).toThrow(TypeError);
      expect(file.position).toBe(0);
      await file.aclose();
    });
  });
});

describe("review: closing and cancelling under pressure", () => {
  test("aclose while a sendAll is in flight: the writer gets ClosedResourceError, aclose waits for the write, no descriptor is left", async () => {
    const path = tmp.file("f");
    const data = patternBytes(8 * MiB);
    await run(async () => {
      const file = await openFile(path, "w+");
      let sendError: unknown = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          sendError = await errorOf(() => file.sendAll(data));
        });
        nursery.startSoon(async () => {
          expect(() => file.seek(0)).toThrow(BusyResourceError); // the write is in flight
          await file.aclose();
          expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
        });
      });
      expect(sendError).toBeInstanceOf(ClosedResourceError);
      // Closed, not broken: the stream says what happened to it.
      expect(await errorOf(() => file.sendAll(encode("x")))).toBeInstanceOf(ClosedResourceError);
    });
    // The write could not be recalled; aclose waited for it.
    expectSameBytes(fs.readFileSync(path), data);
  });

  test("aclose during waitSendAllMightNotBlock: the waiter gets ClosedResourceError", async () => {
    await run(async () => {
      const file = await openFile(tmp.file("f"), "w");
      let waitError: unknown = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          waitError = await errorOf(() => file.waitSendAllMightNotBlock());
        });
        nursery.startSoon(() => file.aclose()); // while the first is at its checkpoint
      });
      expect(waitError).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("on an autojumping clock, timeouts cut every kind of operation short and leave no descriptor", async () => {
    const path = tmp.file("f");
    fs.writeFileSync(path, patternBytes(100_000));
    const operations: ((file: FileStream) => Promise<unknown>)[] = [
      (file) => file.receiveSome(),
      (file) => file.sendAll(patternBytes(50_000)),
      (file) => file.stat(),
      (file) => file.sync(),
      (file) => file.aclose(),
    ];
    let cutShort = 0;
    // The clock jumps to the deadline as soon as every task waits, I/O or
    // not; a wait that goes on after its cancellation (openFile, aclose) and
    // is not external would be reported as a deadlock.
    await run(
      async () => {
        for (let i = 0; i < 60; i++) {
          const which = i % (operations.length + 1);
          const file = which === 0 ? null : await openFile(path, "r+");
          try {
            const done = await moveOnAfter(1, async () => {
              if (file === null) await (await openFile(path, "r+")).aclose();
              else await operations[which - 1]!(file);
              return true;
            });
            if (done === undefined) cutShort++;
          } finally {
            await file?.aclose();
          }
        }
        expect(fdsUnder(tmp.dir)).toBe(expectedFds(0));
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
    expect(cutShort).toBeGreaterThan(0);
  });
});
