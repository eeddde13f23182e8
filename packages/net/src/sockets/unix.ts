/**
 * Unix domain sockets: `openUnixSocket` (a client `SocketStream`) and
 * `openUnixListener` (a `SocketListener` on a path), the Unix counterparts of
 * `openTcpStream` / `openTcpListeners`.
 *
 * Socket files. Like Trio and Node, `openUnixListener` never removes a file
 * that is already at `path`: binding over an existing path fails (EADDRINUSE),
 * and the error says whether the file is a socket (in use by another listener,
 * or left behind by a process that died) or something else. Closing the
 * listener removes the socket file: Node (libuv) unlinks the bound path when
 * the server closes. That unlink goes by name, so if something else was put at
 * the path meanwhile, it is what gets removed. A process killed before closing
 * leaves the file behind. Linux abstract-namespace names (a leading NUL) have
 * no file at all.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { isCancelled, lowlevel } from "@weft/core";
import { checkCount, checkOptionsObject } from "@weft/core/validate";
import { codeSuffix, errorCode } from "../host/error-codes.ts";
import { waitForEvent } from "../host/io-wait.ts";
import { unixAddress } from "./addresses.ts";
import { SocketListener } from "./socket-listener.ts";
import { SocketStream } from "./socket-stream.ts";

/**
 * The longest Unix socket path, in bytes, that the platform's `sun_path` holds
 * (`null`: no limit is checked here). Linux's `sun_path` is 108 bytes and Node
 * (libuv) accepts a path that fills it with no terminating NUL; the BSDs and
 * macOS have 104. Windows named pipes are not `sockaddr_un` paths.
 */
function maxPathBytes(): number | null {
  if (process.platform === "linux" || process.platform === "android") return 108;
  if (process.platform === "win32") return null;
  return 104;
}

/**
 * Checks a Unix socket path: a non-empty string (TypeError), no NUL except a
 * leading one for Linux's abstract namespace (TypeError), and short enough for
 * `sun_path` (RangeError). Node would report the last two only as a bare EINVAL.
 */
function checkPath(path: unknown): asserts path is string {
  if (typeof path !== "string") throw new TypeError(`path must be a string, got ${typeof path}`);
  if (path.length === 0) throw new TypeError("path must be a non-empty string");
  const abstract = path.startsWith("\0") && process.platform === "linux";
  if (path.indexOf("\0", abstract ? 1 : 0) >= 0) {
    throw new TypeError("path must not contain NUL characters (except a leading one, on Linux)");
  }
  const limit = maxPathBytes();
  const bytes = Buffer.byteLength(path);
  if (limit !== null && bytes > limit) {
    throw new RangeError(
      `path is ${bytes} bytes long; Unix socket paths are limited to ${limit} bytes on ${process.platform}`,
    );
  }
}

/** `path` for messages: abstract names show their NUL as `@`, as `ss` and `netstat` do. */
function describePath(path: string): string {
  return path.startsWith("\0") ? `@${path.slice(1)}` : path;
}

/**
 * Connects to the Unix socket at `path`. The stream's `remoteAddress` is
 * `{ family: "unix", address: path, port: 0 }`; its `localAddress` has an empty
 * `address` (a client socket is unnamed).
 *
 * A failure (no such file: `ENOENT`; nobody listening: `ECONNREFUSED`; no
 * permission: `EACCES`) throws an `Error` whose `cause` is Node's error.
 * Cancellation destroys the half-open socket.
 */
export async function openUnixSocket(path: string): Promise<SocketStream> {
  checkPath(path);
  const cancelled = lowlevel.cancelPoint("openUnixSocket()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const socket = net.connect({ path, allowHalfOpen: true });
  try {
    await waitForEvent(socket, "connect", `openUnixSocket(${describePath(path)})`);
  } catch (error) {
    socket.destroy();
    if (isCancelled(error)) throw error;
    throw new Error(`could not connect to Unix socket ${describePath(path)}${codeSuffix(error)}`, {
      cause: error,
    });
  }
  return new SocketStream(socket, { local: unixAddress(""), remote: unixAddress(path) });
}

/** A clear message for a failed listen: EADDRINUSE gets told apart by what is at `path`. */
function listenFailure(path: string, error: unknown): Error {
  const code = errorCode(error);
  const shown = describePath(path);
  if (code === "EADDRINUSE") {
    let what: string;
    if (path.startsWith("\0")) {
      what = "another socket is bound to this abstract name";
    } else {
      let stat: fs.Stats | undefined;
      try {
        stat = fs.lstatSync(path);
      } catch {
        stat = undefined;
      }
      what =
        stat === undefined || stat.isSocket()
          ? "a socket file is there: another listener is using it, or it is stale (left by a process that exited without closing it; remove it first)"
          : "the path exists and is not a socket";
    }
    return new Error(`could not listen on Unix socket ${shown} (EADDRINUSE): ${what}`, {
      cause: error,
    });
  }
  return new Error(`could not listen on Unix socket ${shown}${codeSuffix(error)}`, {
    cause: error,
  });
}

/**
 * Listens on the Unix socket `path` and returns its listener, whose
 * `localAddress` is `{ family: "unix", address: path, port: 0 }`. Accepted
 * streams have that as their `localAddress` and an empty `remoteAddress`.
 *
 * An existing file at `path` is never removed: listening fails with an `Error`
 * (cause: EADDRINUSE) that says whether a socket is there (in use, or stale) or
 * some other file. Closing the listener removes the socket file (see the module
 * comment). Other failures throw an `Error` with Node's error as `cause` (a
 * missing directory is reported by libuv as `EACCES`, not `ENOENT`).
 * `options.backlog` is the listen backlog (an integer >= 1; default Node's,
 * 511), and the bound of the listener's own queue of connections nobody has
 * accepted yet: one that finds it full is closed at once (the client reads
 * end of file; see `SocketListener`).
 */
export async function openUnixListener(
  path: string,
  options?: { backlog?: number },
): Promise<SocketListener> {
  checkPath(path);
  checkOptionsObject("options", options);
  const backlog = options?.backlog;
  if (backlog !== undefined) checkCount("options.backlog", backlog, { min: 1 });
  const cancelled = lowlevel.cancelPoint("openUnixListener()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const server = net.createServer({ allowHalfOpen: true });
  server.listen({ path, ...(backlog !== undefined ? { backlog } : {}) });
  try {
    await waitForEvent(server, "listening", `openUnixListener(${describePath(path)})`);
  } catch (error) {
    // After a cancellation the server may still finish binding: close() then
    // stops it and unlinks the file it created; after a failed bind there is
    // no file of ours to unlink, and libuv leaves the existing one alone.
    server.close();
    if (isCancelled(error)) throw error;
    throw listenFailure(path, error);
  }
  return new SocketListener(server, backlog !== undefined ? { backlog } : {});
}
