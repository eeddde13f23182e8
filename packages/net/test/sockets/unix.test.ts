/**
 * openUnixSocket / openUnixListener over real Unix sockets in a fresh temporary
 * directory per test (removed afterwards).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CancelScope,
  ClosedResourceError,
  cancellable,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { checkCancelledSendAll, checkHalfCloseableStream } from "@weft/testing/streams";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { SocketListener, SocketStream } from "../../src/index.ts";
import { openUnixListener, openUnixSocket } from "../../src/sockets/unix.ts";
import { rejection } from "../support/chunks.ts";
import { acceptedPair, clogged } from "../support/io.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let dir = "";
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-unix-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A connected `[client, server]` pair through the Unix socket at `socketPath`. */
function connectedPair(
  listener: SocketListener,
  socketPath: string,
): Promise<[SocketStream, SocketStream]> {
  return acceptedPair(listener, () => openUnixSocket(socketPath));
}

/** Pipe handles (sockets and servers) of this process: vitest's own IPC pipe counts too. */
function pipeHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith("Pipe")).length;
}

/** Handle closes finish in a later event-loop phase: let a few turns pass (no timers). */
async function loopTurns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("Unix sockets", () => {
  test("echo roundtrip, addresses, EOF; closing the listener removes the socket file", async () => {
    const socketPath = path.join(dir, "echo.sock");
    await run(async () => {
      const listener = await openUnixListener(socketPath);
      expect(listener.localAddress).toEqual({ family: "unix", address: socketPath, port: 0 });
      expect(fs.lstatSync(socketPath).isSocket()).toBe(true);
      try {
        const [client, server] = await connectedPair(listener, socketPath);
        try {
          expect(client.remoteAddress).toEqual({ family: "unix", address: socketPath, port: 0 });
          expect(client.localAddress).toEqual({ family: "unix", address: "", port: 0 });
          expect(server.localAddress).toEqual(listener.localAddress);
          expect(server.remoteAddress).toEqual({ family: "unix", address: "", port: 0 });
          await client.sendAll(bytes("hello"));
          await client.sendEof();
          let got = "";
          for await (const chunk of server) got += text(chunk);
          expect(got).toBe("hello");
          await server.sendAll(bytes("bye"));
          await server.aclose();
          got = "";
          for await (const chunk of client) got += text(chunk);
          expect(got).toBe("bye");
        } finally {
          await client.aclose();
          await server.aclose();
        }
      } finally {
        await listener.aclose();
      }
      expect(fs.existsSync(socketPath)).toBe(false);
    });
  });

  test("passes checkHalfCloseableStream, clogged variant included", async () => {
    const socketPath = path.join(dir, "check.sock");
    await run(async () => {
      const listener = await openUnixListener(socketPath, { backlog: 16 });
      try {
        await checkHalfCloseableStream(
          () => connectedPair(listener, socketPath),
          async () => clogged(await connectedPair(listener, socketPath)),
        );
      } finally {
        await listener.aclose();
      }
    });
  }, 60_000);

  test("passes checkCancelledSendAll", async () => {
    const socketPath = path.join(dir, "cancel.sock");
    await run(async () => {
      const listener = await openUnixListener(socketPath);
      try {
        await checkCancelledSendAll(async () => clogged(await connectedPair(listener, socketPath)));
      } finally {
        await listener.aclose();
      }
    });
  });

  test("connecting to a missing path → Error with cause ENOENT; to a stale socket → ECONNREFUSED", async () => {
    await run(async () => {
      const missing = path.join(dir, "missing.sock");
      const error = await rejection(openUnixSocket(missing));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(
        /could not connect to Unix socket .*missing\.sock \(ENOENT\)/,
      );
      expect((error as Error).cause).toMatchObject({ code: "ENOENT" });

      const plain = path.join(dir, "plain-file");
      fs.writeFileSync(plain, "");
      expect(((await rejection(openUnixSocket(plain))) as Error).cause).toMatchObject({
        code: "ECONNREFUSED",
      });
    });
  });

  test("an existing file at the path is never removed: EADDRINUSE with a clear message", async () => {
    await run(async () => {
      const socketPath = path.join(dir, "busy.sock");
      const first = await openUnixListener(socketPath);
      try {
        const error = await rejection(openUnixListener(socketPath));
        expect((error as Error).message).toMatch(/\(EADDRINUSE\): a socket file is there/);
        expect((error as Error).message).toMatch(/stale/);
        expect((error as Error).cause).toMatchObject({ code: "EADDRINUSE" });
        // The failed attempt did not unlink the first listener's socket.
        expect(fs.lstatSync(socketPath).isSocket()).toBe(true);
        const [a, b] = await connectedPair(first, socketPath);
        await a.aclose();
        await b.aclose();
      } finally {
        await first.aclose();
      }

      const plain = path.join(dir, "not-a-socket");
      fs.writeFileSync(plain, "keep me");
      const error = await rejection(openUnixListener(plain));
      expect((error as Error).message).toMatch(
        /\(EADDRINUSE\): the path exists and is not a socket/,
      );
      expect(fs.readFileSync(plain, "utf8")).toBe("keep me");

      // libuv reports a missing directory as EACCES, not ENOENT.
      const noDir = path.join(dir, "no-such-dir", "x.sock");
      const noDirError = (await rejection(openUnixListener(noDir))) as Error;
      expect(noDirError.message).toMatch(
        /could not listen on Unix socket .*x\.sock \((EACCES|ENOENT)\)$/,
      );
      expect(["EACCES", "ENOENT"]).toContain((noDirError.cause as { code?: string }).code);
    });
  });

  test("a stale socket file (left by a listener that never closed) is reported, not replaced", async () => {
    const socketPath = path.join(dir, "stale.sock");
    await run(async () => {
      const listener = await openUnixListener(socketPath);
      // Simulate a process that died: the file stays, nobody listens. Moving the
      // socket file away and back leaves a socket inode with no listener behind it.
      const moved = path.join(dir, "moved.sock");
      fs.renameSync(socketPath, moved);
      await listener.aclose(); // unlinks `socketPath`, which no longer exists
      fs.renameSync(moved, socketPath);
      expect(fs.lstatSync(socketPath).isSocket()).toBe(true);
      expect(((await rejection(openUnixSocket(socketPath))) as Error).cause).toMatchObject({
        code: "ECONNREFUSED",
      });
      const error = await rejection(openUnixListener(socketPath));
      expect((error as Error).message).toMatch(/a socket file is there.*stale/);
      fs.unlinkSync(socketPath);
      const again = await openUnixListener(socketPath);
      await again.aclose();
    });
  });

  test("a listener holds at most `backlog` connections nobody has accepted; further ones are closed", async () => {
    const socketPath = path.join(dir, "backlog.sock");
    await run(async () => {
      const listener = await openUnixListener(socketPath, { backlog: 2 });
      const clients: SocketStream[] = [];
      try {
        for (let i = 0; i < 5; i++) {
          // The listener's 'connection' handler runs before ours.
          const arrived = new Promise((resolve) => listener.server.once("connection", resolve));
          clients.push(await openUnixSocket(socketPath));
          await cancellable(arrived);
        }
        expect(listener.statistics()).toMatchObject({
          queuedConnections: 2,
          refusedConnections: 3,
        });
        for (const [i, client] of clients.entries()) {
          if (i < 2) {
            const server = await listener.accept();
            await client.sendAll(bytes("x"));
            expect(text(await server.receiveSome())).toBe("x");
            await server.aclose();
          } else {
            // No reset on a Unix socket: the refused client reads end of file.
            expect((await client.receiveSome()).length).toBe(0);
          }
        }
      } finally {
        for (const client of clients) await client.aclose();
        await listener.aclose();
      }
    });
  });

  test("cancelling a pending accept leaves the listener usable (MockClock)", async () => {
    const socketPath = path.join(dir, "cancel.sock");
    await run(
      async () => {
        const listener = await openUnixListener(socketPath);
        try {
          let accepted: SocketStream | null = null;
          await moveOnAfter(1000, async () => {
            accepted = await listener.accept();
          });
          expect(accepted).toBeNull();
          const [a, b] = await connectedPair(listener, socketPath);
          await a.sendAll(bytes("x"));
          expect(text(await b.receiveSome())).toBe("x");
          await a.aclose();
          await b.aclose();
        } finally {
          await listener.aclose();
        }
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("cancelled before starting: nothing is opened; closed listener → ClosedResourceError; no handle leaks", async () => {
    const socketPath = path.join(dir, "pre.sock");
    await loopTurns(); // earlier tests' handles finish closing
    const before = pipeHandles();
    await run(async () => {
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        const error = await rejection(openUnixListener(socketPath));
        expect(isCancelled(error)).toBe(true);
      });
      expect(fs.existsSync(socketPath)).toBe(false);
      const listener = await openUnixListener(socketPath);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await expect(listener.accept()).rejects.toThrow(ClosedResourceError);
        });
        await listener.aclose();
      });
      await expect(listener.accept()).rejects.toThrow(ClosedResourceError);
      const again = await openUnixListener(socketPath);
      const [a, b] = await connectedPair(again, socketPath);
      await a.aclose();
      await b.aclose();
      // Cancelled while connecting / while waiting for 'listening': the handle is closed.
      let opened = 0;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await openUnixSocket(socketPath);
          opened++;
        });
        nursery.startSoon(async () => {
          await openUnixListener(path.join(dir, "cancelled.sock"));
          opened++;
        });
        nursery.startSoon(async () => nursery.cancelScope.cancel());
      });
      expect(opened).toBe(0);
      expect(fs.existsSync(path.join(dir, "cancelled.sock"))).toBe(false);
      await again.aclose();
    });
    await loopTurns();
    expect(pipeHandles()).toBe(before);
  });

  test.runIf(process.platform === "linux")(
    "Linux abstract names (leading NUL) work and leave no file",
    async () => {
      const name = `\0weft-test-${process.pid}-${Date.now()}`;
      await run(async () => {
        const listener = await openUnixListener(name);
        try {
          expect(listener.localAddress).toEqual({ family: "unix", address: name, port: 0 });
          const [a, b] = await connectedPair(listener, name);
          await a.sendAll(bytes("abstract"));
          expect(text(await b.receiveSome())).toBe("abstract");
          await a.aclose();
          await b.aclose();
          expect(((await rejection(openUnixListener(name))) as Error).message).toMatch(
            /@weft-test-.*EADDRINUSE/,
          );
        } finally {
          await listener.aclose();
        }
      });
    },
  );

  test("bad paths: TypeError for non-strings, empty and NUL; RangeError over the sun_path limit", async () => {
    await run(async () => {
      await expect(openUnixSocket(5 as unknown as string)).rejects.toThrow(TypeError);
      await expect(openUnixSocket("")).rejects.toThrow(TypeError);
      await expect(openUnixListener(undefined as unknown as string)).rejects.toThrow(TypeError);
      await expect(openUnixListener("")).rejects.toThrow(TypeError);
      await expect(openUnixListener(path.join(dir, "a\0b"))).rejects.toThrow(/NUL/);
      await expect(openUnixListener(path.join(dir, "x.sock"), { backlog: 0 })).rejects.toThrow(
        RangeError,
      );
      await expect(
        openUnixListener(path.join(dir, "x.sock"), { backlog: "1" as unknown as number }),
      ).rejects.toThrow(TypeError);
      await expect(openUnixListener(path.join(dir, "x.sock"), 3 as never)).rejects.toThrow(
        TypeError,
      );

      const limit = process.platform === "linux" ? 108 : 104;
      const fill = (n: number) => path.join(dir, "p".repeat(n - dir.length - 1));
      const tooLong = fill(limit + 1);
      await expect(openUnixListener(tooLong)).rejects.toThrow(RangeError);
      await expect(openUnixSocket(tooLong)).rejects.toThrow(
        new RegExp(`${limit + 1} bytes long.*limited to ${limit} bytes`),
      );
      // Multi-byte characters count as bytes.
      await expect(openUnixSocket(path.join(dir, "é".repeat(60)))).rejects.toThrow(RangeError);
      if (process.platform === "linux") {
        // Exactly at the limit works (Linux needs no terminating NUL).
        const longest = fill(limit);
        const listener = await openUnixListener(longest);
        const [a, b] = await connectedPair(listener, longest);
        await a.aclose();
        await b.aclose();
        await listener.aclose();
      }
    });
  });
});
