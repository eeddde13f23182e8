/**
 * `openFile` and `FileStream`: a file as a weft byte stream (Trio's
 * `trio.open_file`, reshaped as a `Stream`), over Node's `FileHandle`.
 *
 * Node runs file operations on libuv's thread pool, where they cannot be
 * interrupted. Cancellation therefore abandons the *wait*, never the
 * operation, and each operation is arranged so that abandoning it is safe:
 * reads and writes are positioned (the stream keeps its own offset), a read
 * fills a buffer nobody else will see, and `aclose` waits for what is still in
 * flight before the descriptor is released.
 */
import type { Stats } from "node:fs";
import * as fsp from "node:fs/promises";
import {
  BrokenResourceError,
  Cancelled,
  ClosedResourceError,
  cancellable,
  cancelShieldedCheckpoint,
  checkpoint,
  Err,
  lowlevel,
  Ok,
  type Result,
  type Task,
} from "@weft/core";
import { ConflictDetector, checkMaxBytes, receiveChunks, type Stream } from "@weft/core/streams";
import { checkCount, checkOptionsObject, isInstance } from "@weft/core/validate";
import { toUint8Array } from "../host/bytes.ts";
import { waitUntilSettled } from "../host/wait-until-settled.ts";
import { previousSendCancelledError } from "../streams/send-cancelled.ts";
import {
  checkFlags,
  checkMode,
  checkPath,
  type FlagsInfo,
  type OpenFlags,
  quotePath,
} from "./file-arguments.ts";
import { brokenFileError, fileError } from "./file-errors.ts";

const DEFAULT_RECEIVE_SIZE = 65536;
/** The largest read issued at once, whatever `maxBytes` asks: each read allocates its buffer. */
const MAX_READ_SIZE = 1024 * 1024;
/** The largest write issued at once (Node refuses writes of 2 GiB or more). */
const MAX_WRITE_SIZE = 1024 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/** Options of `openFile`. */
export interface OpenFileOptions {
  /** Permissions of a file the call creates (default `0o666`, less the umask). */
  mode?: number;
}

/** An operation of ours running in the thread pool, and the task waiting for it. */
interface PendingOperation {
  readonly task: Task;
  /** Stops the outcome from being delivered: the operation's result is ignored. */
  abandon(): void;
}

/**
 * Regular files and block devices answer every read and write in bounded time
 * and support positioned I/O (so do directories, whose reads fail at once with
 * `EISDIR`); FIFOs, terminals and sockets do neither (a read waits for a
 * writer, `pread` fails with `ESPIPE`).
 */
function isSeekable(stats: Stats): boolean {
  return stats.isFile() || stats.isBlockDevice() || stats.isDirectory();
}

/**
 * A file opened with `openFile`, as a byte `Stream`: `receiveSome` reads,
 * `sendAll` writes, both at the stream's `position`, which they advance.
 *
 * - One operation at a time: the file has a single position, shared by reads
 *   and writes, so a second operation started while one runs (reading or
 *   writing) throws `BusyResourceError`.
 * - Reading on a stream opened without read access, or writing without write
 *   access, throws a `TypeError` (a programming error, like calling a method
 *   the object does not have).
 * - A cancelled `receiveSome` consumed nothing: its read is abandoned, its
 *   result ignored, and `position` has not moved, so the next call returns the
 *   same bytes. (On a FIFO or terminal, where a read consumes what it gets, the
 *   abandoned read is kept instead, and the next call returns its bytes.)
 * - A cancelled `sendAll` may have reached the file, in part or in full (the
 *   write cannot be recalled from the thread pool): the stream's state is then
 *   unknown, as Trio's stream contract says. So any `sendAll` that raises
 *   `Cancelled` — also one cancelled before its first write — leaves sending
 *   broken (SEMANTICS.md, "I/O resources"): every later `sendAll` throws
 *   `BrokenResourceError` saying a previous send was cancelled (that
 *   `Cancelled` is its `cause`), and writes nothing. Reading still works.
 * - Memory held for sends: the call's own copy of its data, until its write
 *   returns. A cancelled call's copy stays until its abandoned write returns
 *   (on a regular file, within one disk operation); nothing more accumulates,
 *   since no later call writes.
 * - OS errors on an open file are `BrokenResourceError` with Node's error as
 *   `cause` (`error.cause.code === "EISDIR"`…); a failed write breaks sending as
 *   a cancelled one does.
 * - In append modes (`"a"`, `"a+"`…) every write goes to the end of the file
 *   (atomically, by the OS) and leaves `position`, which `"a+"` reads from,
 *   unchanged.
 * - FIFOs, terminals and other files that are not seekable are read and
 *   written in order: `position` stays 0 and `seek` throws.
 * - `aclose()` always closes. It waits for operations still in flight (an
 *   abandoned read or write), so that no descriptor outlives it; on a regular
 *   file that wait is bounded and not even cancellation cuts it short (as
 *   Trio's `aclose` on files). On a FIFO or terminal a read can wait forever
 *   for a writer: there a cancelled `aclose` stops waiting, and the descriptor
 *   is released when the read returns.
 */
export class FileStream implements Stream {
  /** The underlying handle, for operations the stream does not offer; do not read or write through it. */
  readonly handle: fsp.FileHandle;
  /** The path the file was opened with. */
  readonly path: string;
  /** The flags the file was opened with. */
  readonly flags: OpenFlags;
  /** Whether `receiveSome` is allowed (the flags give read access). */
  readonly readable: boolean;
  /** Whether `sendAll` is allowed (the flags give write access). */
  readonly writable: boolean;
  /** Whether the file has positions (a regular file or block device): `seek` works. */
  readonly seekable: boolean;

  readonly #appending: boolean;
  readonly #conflict = new ConflictDetector("another task is using this file");
  #position = 0;
  /** How closing ended (`null`: fine), once `aclose` has started it; non-null means closed. */
  #closeOutcome: Promise<{ error: unknown } | null> | null = null;
  /** Why sending is broken, once a write failed or a sendAll was cancelled. */
  #sendBroken: { failed: unknown } | { cancelled: Cancelled } | null = null;
  /** Operations submitted to the handle that have not settled, abandoned ones included. */
  #inFlight = 0;
  #pending: PendingOperation | null = null;
  /**
   * A read of a file that is not seekable whose caller was cancelled: it takes
   * bytes from the FIFO or terminal when it completes, so the next
   * `receiveSome` returns its result instead of starting another read.
   */
  #orphanRead: Promise<Uint8Array> | null = null;
  /** Bytes of an orphaned read beyond what the call that collected it asked for. */
  #leftover: Uint8Array | null = null;

  /** @internal Use `openFile()`. */
  constructor(handle: fsp.FileHandle, path: string, flags: OpenFlags, stats: Stats) {
    const info: FlagsInfo = checkFlags("flags", flags);
    this.handle = handle;
    this.path = path;
    this.flags = flags;
    this.readable = info.readable;
    this.writable = info.writable;
    this.#appending = info.appending;
    this.seekable = isSeekable(stats);
  }

  /**
   * The offset of the next read, and of the next write unless appending. 0 on
   * a file that is not seekable.
   */
  get position(): number {
    return this.#position;
  }

  /** Whether `aclose` was called. */
  get closed(): boolean {
    return this.#closeOutcome !== null;
  }

  /**
   * Moves `position` to `position` bytes from the start of the file (past the
   * end is allowed: a write there leaves a hole of zeros). Synchronous: no
   * system call is made. `TypeError` if the file is not seekable,
   * `BusyResourceError` while an operation runs.
   */
  seek(position: number): void {
    checkCount("position", position);
    this.#conflict.runSync(() => {
      this.#checkOpen();
      if (!this.seekable) {
        throw new TypeError(`seek: ${quotePath(this.path)} is not seekable (a FIFO, terminal…)`);
      }
      this.#position = position;
    });
  }

  /**
   * Reads and returns 1..`maxBytes` bytes (default 65536, at most 1 MiB per
   * call) at `position`, which moves past them; an empty array at end of file.
   */
  async receiveSome(maxBytes: number = DEFAULT_RECEIVE_SIZE): Promise<Uint8Array> {
    checkMaxBytes(maxBytes);
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      this.#checkAccess("receiveSome", this.readable, "reading");
      const cancelled = lowlevel.cancelPoint("FileStream.receiveSome()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      const leftover = this.#leftover;
      if (leftover !== null) {
        this.#leftover = leftover.length > maxBytes ? leftover.subarray(maxBytes) : null;
        await cancelShieldedCheckpoint();
        return leftover.subarray(0, maxBytes);
      }
      // Resume the read a cancelled call left behind, if any (see #orphanRead).
      const read = this.#orphanRead ?? this.#startRead(Math.min(maxBytes, MAX_READ_SIZE));
      this.#orphanRead = null;
      const data = await this.#perform("receiveSome", read, () => {
        // Positioned reads consume nothing: drop it. A FIFO's read consumes
        // what it gets: keep it for the next call.
        if (!this.seekable) this.#orphanRead = read;
      });
      if (this.seekable) this.#position += data.length;
      if (data.length <= maxBytes) return data;
      this.#leftover = data.subarray(maxBytes);
      return data.subarray(0, maxBytes);
    } finally {
      this.#conflict.release();
    }
  }

  /** Starts a read of up to `size` bytes at the position; resolves with the bytes read. */
  #startRead(size: number): Promise<Uint8Array> {
    // A new buffer for every read: an abandoned read may still be writing
    // into its buffer, which must therefore never be handed out or reused.
    const buffer = Buffer.allocUnsafe(size);
    const position = this.seekable ? this.#position : null;
    return this.#start(() => this.handle.read(buffer, 0, size, position)).then(({ bytesRead }) => {
      if (bytesRead === 0) return EMPTY;
      const data = buffer.subarray(0, bytesRead);
      // A short read keeps only what it needs, not the whole buffer.
      return bytesRead * 2 < size ? new Uint8Array(data) : toUint8Array(data);
    });
  }

  /**
   * Writes all of `data` at `position` (or at the end of the file, when
   * appending) and moves `position` past it. `data` is copied first: the caller
   * may reuse it as soon as the call returns or is cancelled.
   */
  async sendAll(data: Uint8Array): Promise<void> {
    if (!isInstance(data, Uint8Array)) throw new TypeError("data must be a Uint8Array");
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      this.#checkAccess("sendAll", this.writable, "writing");
      this.#checkSendable();
      try {
        const cancelled = lowlevel.cancelPoint("FileStream.sendAll()");
        if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
        if (data.length === 0) {
          await checkpoint();
          return;
        }
        // A copy that nobody else holds: an abandoned write still reads from it.
        const bytes = new Uint8Array(data);
        let written = 0;
        while (written < bytes.length) {
          // Appending: null writes at the descriptor's offset, which O_APPEND
          // moves to the end of the file before every write.
          const position = this.seekable && !this.#appending ? this.#position : null;
          const { bytesWritten } = await this.#perform(
            "sendAll",
            this.#start(() =>
              this.handle.write(
                bytes,
                written,
                Math.min(bytes.length - written, MAX_WRITE_SIZE),
                position,
              ),
            ),
          );
          if (bytesWritten === 0) throw new Error("the system wrote 0 bytes");
          written += bytesWritten;
          if (position !== null) this.#position += bytesWritten;
        }
      } catch (error) {
        if (error instanceof ClosedResourceError) throw error;
        if (error instanceof Cancelled) {
          // SEMANTICS.md, "I/O resources": a cancelled sendAll leaves the
          // sending side broken, wherever it was cancelled.
          this.#sendBroken = { cancelled: error };
          throw error;
        }
        const cause = error instanceof BrokenResourceError ? error.cause : error;
        this.#sendBroken = { failed: cause };
        throw error instanceof BrokenResourceError
          ? error
          : brokenFileError("sendAll", this.path, error);
      }
    } finally {
      this.#conflict.release();
    }
  }

  /** A checkpoint: writes to a file are never held back for lack of buffer space. */
  async waitSendAllMightNotBlock(): Promise<void> {
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      this.#checkAccess("waitSendAllMightNotBlock", this.writable, "writing");
      await checkpoint();
      this.#checkOpen(); // closed by another task meanwhile
    } finally {
      this.#conflict.release();
    }
  }

  /** The file's metadata (`fstat`): size, times, mode… */
  stat(): Promise<Stats> {
    return this.#handleOperation("stat", () => this.handle.stat());
  }

  /**
   * Flushes the file's data and metadata to the storage device (`fsync`). If it
   * is cancelled, assume nothing was flushed.
   */
  sync(): Promise<void> {
    return this.#handleOperation("sync", () => this.handle.sync());
  }

  /**
   * Flushes the file's data, and only the metadata needed to read it back
   * (`fdatasync`: not the times). If it is cancelled, assume nothing was flushed.
   */
  datasync(): Promise<void> {
    return this.#handleOperation("datasync", () => this.handle.datasync());
  }

  /**
   * Cuts the file to `length` bytes (default 0), or extends it with zeros;
   * `position` does not move. Needs a writable stream. If it is cancelled, the
   * file's length is unknown (the system call cannot be recalled), as after a
   * cancelled `sendAll`.
   */
  truncate(length = 0): Promise<void> {
    try {
      checkCount("length", length);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#handleOperation(
      "truncate",
      () => this.handle.truncate(length),
      () => this.#checkAccess("truncate", this.writable, "writing"),
    );
  }

  /** One operation of the handle that moves no data: a checkpoint, busy-checked, cancellable. */
  async #handleOperation<T>(
    name: string,
    start: () => Promise<T>,
    checkAllowed?: () => void,
  ): Promise<T> {
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      checkAllowed?.();
      const cancelled = lowlevel.cancelPoint(`FileStream.${name}()`);
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      return await this.#perform(name, this.#start(start));
    } finally {
      this.#conflict.release();
    }
  }

  /**
   * Closes the file. Always closes, even when cancelled (it then throws
   * `Cancelled` afterwards); a task waiting in an operation of this stream gets
   * `ClosedResourceError`. A failure the OS reports on close (e.g. `EIO` on a
   * network file system) is a `BrokenResourceError`, reported to the first
   * caller. A second call waits for the close and returns.
   */
  async aclose(): Promise<void> {
    let first = false;
    if (this.#closeOutcome === null) {
      first = true;
      // FileHandle.close() waits for the operations in flight, then closes.
      this.#closeOutcome = this.handle.close().then(
        () => null,
        (error: unknown) => ({ error }),
      );
      this.#failPending();
    }
    const closing = this.#closeOutcome;
    let outcome: { error: unknown } | null;
    let cancelled: Cancelled | null = null;
    if (this.seekable || this.#inFlight === 0) {
      // Bounded: wait even if cancelled, so that no descriptor outlives us.
      const settled = await waitUntilSettled(closing, `FileStream.aclose (${this.path})`);
      outcome = settled.ok ? settled.value : null;
      cancelled = settled.cancelled;
    } else {
      // A read may be blocked on a FIFO or terminal until someone writes: a
      // cancellation stops the wait; Node closes the descriptor when it returns.
      outcome = await cancellable(closing);
    }
    if (first && outcome !== null) throw brokenFileError("aclose", this.path, outcome.error);
    if (cancelled !== null) throw cancelled;
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }

  /** `aclose()`, for `await using file = await openFile(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  #checkOpen(): void {
    if (this.#closeOutcome !== null)
      throw new ClosedResourceError(`${quotePath(this.path)} was closed`);
  }

  #checkAccess(operation: string, allowed: boolean, access: string): void {
    if (!allowed) {
      throw new TypeError(
        `${operation}: ${quotePath(this.path)} was opened with flags "${this.flags}", which do not allow ${access}`,
      );
    }
  }

  #checkSendable(): void {
    const broken = this.#sendBroken;
    if (broken === null) return;
    if ("cancelled" in broken) {
      throw previousSendCancelledError(`sendAll on ${quotePath(this.path)}`, broken.cancelled);
    }
    throw new BrokenResourceError(`sendAll: ${quotePath(this.path)}: an earlier sendAll failed`, {
      cause: broken.failed,
    });
  }

  /**
   * Parks the calling task (an external wait) until `operation`, running in
   * the thread pool, settles. A cancellation, or `aclose`, abandons the wait at
   * once (`onAbandon` is called): the operation goes on, and its outcome is
   * dropped unless `onAbandon` kept it. OS errors become `BrokenResourceError`.
   */
  #perform<T>(name: string, operation: Promise<T>, onAbandon?: () => void): Promise<T> {
    const task = lowlevel.currentTask();
    let waiting = true;
    const settle = (outcome: Result<T, unknown>) => {
      if (!waiting) return; // abandoned: cancelled, or the stream was closed
      waiting = false;
      this.#pending = null;
      lowlevel.reschedule(task, outcome);
    };
    operation.then(
      (value) => settle(Ok(value)),
      (error: unknown) => settle(Err(brokenFileError(name, this.path, error))),
    );
    const abandon = () => {
      waiting = false;
      this.#pending = null;
      onAbandon?.();
    };
    this.#pending = { task, abandon };
    return lowlevel.waitTaskRescheduled(
      () => {
        abandon();
        return lowlevel.Abort.SUCCEEDED;
      },
      { waitingFor: `FileStream.${name} (${this.path})`, external: true },
    ) as Promise<T>;
  }

  /**
   * Starts an operation of the handle, counted in `#inFlight` until it settles
   * (abandoned or not), which tells `aclose` whether closing may have to wait.
   */
  #start<T>(start: () => Promise<T>): Promise<T> {
    let operation: Promise<T>;
    try {
      operation = start();
    } catch (error) {
      operation = Promise.reject(error);
    }
    this.#inFlight++;
    const settled = () => {
      this.#inFlight--;
    };
    operation.then(settled, settled);
    return operation;
  }

  /** Wakes the task waiting in an operation, if any, with `ClosedResourceError`. */
  #failPending(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    pending.abandon();
    lowlevel.reschedule(
      pending.task,
      Err(new ClosedResourceError(`${quotePath(this.path)} was closed during the operation`)),
    );
  }
}

/** Opens the file and reads its type; a handle is never left open on failure. */
async function openAndStat(
  path: string,
  flags: OpenFlags,
  mode: number,
): Promise<{ handle: fsp.FileHandle; stats: Stats }> {
  const handle = await fsp.open(path, flags, mode);
  try {
    return { handle, stats: await handle.stat() };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/**
 * Opens the file at `path` (a string or a `file:` URL) as a `FileStream`;
 * `flags` as in `fs.open`, default `"r"`.
 *
 * A failure (`ENOENT`, `EACCES`, `EEXIST` with `"wx"`…) throws an `Error` whose
 * `cause` is Node's error: `error.cause.code === "ENOENT"`. Opening runs to
 * completion once started, even if cancelled meanwhile; a file opened for a
 * cancelled caller is closed again before `Cancelled` is thrown, so a cancelled
 * `openFile` opened nothing. (Opening a FIFO blocks until its other end opens,
 * and cannot be cancelled meanwhile: open it with `"r+"`, which never blocks
 * on Linux.)
 *
 * ```ts
 * await using file = await openFile("data.bin");
 * for await (const chunk of file) process(chunk);
 * ```
 */
export async function openFile(
  path: string | URL,
  flags: OpenFlags = "r",
  options?: OpenFileOptions,
): Promise<FileStream> {
  const pathText = checkPath("path", path);
  checkFlags("flags", flags);
  checkOptionsObject("options", options);
  const mode = options?.mode ?? 0o666;
  checkMode("options.mode", mode);
  const cancelled = lowlevel.cancelPoint("openFile()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const settled = await waitUntilSettled(
    openAndStat(pathText, flags, mode),
    `openFile (${pathText})`,
  );
  if (!settled.ok) throw fileError("open", pathText, settled.error, ` with flags "${flags}"`);
  const { handle, stats } = settled.value;
  if (settled.cancelled !== null) {
    await waitUntilSettled(handle.close(), `openFile (${pathText}): closing after cancellation`);
    throw settled.cancelled;
  }
  return new FileStream(handle, pathText, flags, stats);
}
