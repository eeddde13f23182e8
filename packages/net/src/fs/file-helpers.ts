/**
 * Whole-file helpers: read or write a file in one call (Node's `fs.promises`
 * `readFile` / `writeFile`, bound to the caller's cancel scope), and send a
 * file into any `SendStream`.
 *
 * A cancellation aborts Node's operation through its `AbortSignal` (Node
 * checks it between chunks of 512 KiB) and then waits for it to stop: Node
 * closes the file before it reports the abort, so no descriptor outlives a
 * cancelled call.
 */
import * as fsp from "node:fs/promises";
import { lowlevel } from "@weft/core";
import type { SendStream } from "@weft/core/streams";
import { checkCount, checkOptionsObject, isInstance, isRevokedProxy } from "@weft/core/validate";
import { toUint8Array } from "../host/bytes.ts";
import { waitUntilSettled } from "../host/wait-until-settled.ts";
import {
  createTextDecoder,
  decodeChecked,
  type TextDecodingOptions,
} from "../streams/text-decoding.ts";
import { checkMode, checkPath } from "./file-arguments.ts";
import { fileError } from "./file-errors.ts";
import { openFile } from "./file-stream.ts";

/** How `writeFile` opens the file. */
export type WriteFileFlag = "w" | "wx" | "a" | "ax";

const WRITE_FLAGS: ReadonlySet<string> = new Set<WriteFileFlag>(["w", "wx", "a", "ax"]);

/** Options of `writeFile`. */
export interface WriteFileOptions {
  /** Permissions of a file the call creates (default `0o666`, less the umask). */
  mode?: number;
  /**
   * `"w"` (the default) replaces the file's contents, `"a"` appends to them;
   * with an `x` (`"wx"`, `"ax"`) the call fails with `EEXIST` if the path exists.
   */
  flag?: WriteFileFlag;
}

/** Options of `appendFile`. */
export interface AppendFileOptions {
  /** Permissions of a file the call creates (default `0o666`, less the umask). */
  mode?: number;
}

/** Options of `sendFile`. */
export interface SendFileOptions {
  /** The most bytes read from the file and sent at once (default 65536). */
  chunkSize?: number;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

/**
 * Reads the whole file at `path` (a string or a `file:` URL). A failure throws
 * an `Error` whose `cause` is Node's error (`error.cause.code === "ENOENT"`).
 * A cancelled call throws `Cancelled` — whatever was read is dropped, so it
 * had no effect — once the file is closed again.
 */
export async function readFile(path: string | URL): Promise<Uint8Array> {
  const pathText = checkPath("path", path);
  const cancelled = lowlevel.cancelPoint("readFile()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const controller = new AbortController();
  const settled = await waitUntilSettled(
    fsp.readFile(pathText, { signal: controller.signal }),
    `readFile (${pathText})`,
    () => controller.abort(),
  );
  if (settled.cancelled !== null) throw settled.cancelled;
  if (!settled.ok) throw fileError("read", pathText, settled.error);
  return toUint8Array(settled.value);
}

/**
 * Reads the whole file at `path` as text: UTF-8 unless `options.encoding` says
 * otherwise; invalid data decodes to U+FFFD, or with `fatal: true` throws a
 * `TypeError`. A leading byte order mark is dropped. Errors and cancellation
 * as in `readFile`.
 */
export async function readTextFile(
  path: string | URL,
  options?: TextDecodingOptions,
): Promise<string> {
  checkPath("path", path);
  checkOptionsObject("options", options);
  const decoder = createTextDecoder("options", options);
  return decodeChecked(decoder, await readFile(path), false);
}

/**
 * Writes `data` (bytes, or a string written as UTF-8) to the file at `path`,
 * creating it if needed; `options.flag` chooses between replacing (default)
 * and appending. A failure throws an `Error` whose `cause` is Node's error.
 *
 * Cancellation: Node stops between chunks of 512 KiB and closes the file, then
 * `Cancelled` is thrown — but the file was already truncated (or partly
 * appended to), so a cancelled `writeFile` is not undone. If the write had
 * finished when the cancellation arrived, the call returns normally: it did
 * happen, and the caller sees the cancellation at its next checkpoint.
 */
export async function writeFile(
  path: string | URL,
  data: string | Uint8Array,
  options?: WriteFileOptions,
): Promise<void> {
  const pathText = checkPath("path", path);
  if (typeof data !== "string" && !isInstance(data, Uint8Array)) {
    throw new TypeError(`data must be a string or a Uint8Array, got ${typeof data}`);
  }
  checkOptionsObject("options", options);
  const mode = options?.mode ?? 0o666;
  checkMode("options.mode", mode);
  const flag = options?.flag ?? "w";
  if (typeof flag !== "string") {
    throw new TypeError(`options.flag must be a string, got ${typeof flag}`);
  }
  if (!WRITE_FLAGS.has(flag)) {
    throw new RangeError(
      `options.flag must be "w", "wx", "a" or "ax", got ${JSON.stringify(flag)}`,
    );
  }
  const cancelled = lowlevel.cancelPoint("writeFile()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const controller = new AbortController();
  // No copy of `data`: this call does not return before Node is done with it.
  const settled = await waitUntilSettled(
    fsp.writeFile(pathText, data, { mode, flag, signal: controller.signal }),
    `writeFile (${pathText})`,
    () => controller.abort(),
  );
  if (settled.ok) return;
  if (settled.cancelled !== null && isAbortError(settled.error)) throw settled.cancelled;
  throw fileError(flag.startsWith("a") ? "append to" : "write", pathText, settled.error);
}

/**
 * Appends `data` to the file at `path`, creating it if needed: `writeFile`
 * with `flag: "a"`. Every append goes to the end of the file, atomically,
 * even with other processes appending too.
 */
export function appendFile(
  path: string | URL,
  data: string | Uint8Array,
  options?: AppendFileOptions,
): Promise<void> {
  try {
    checkOptionsObject("options", options);
    // Inside the try: spreading the options reads them (a getter may throw).
    return writeFile(path, data, { ...options, flag: "a" });
  } catch (error) {
    return Promise.reject(error);
  }
}

function isSendStream(stream: unknown): stream is SendStream {
  const s = stream as { sendAll?: unknown } | null;
  return (
    typeof s === "object" && s !== null && !isRevokedProxy(s) && typeof s.sendAll === "function"
  );
}

/**
 * Sends the contents of the file at `path` into `stream`, chunk by chunk
 * (memory use stays at one chunk), and returns how many bytes were sent. The
 * file is closed before the call returns, also on error or cancellation;
 * `stream` is left open. Errors as in `openFile` and `FileStream`.
 */
export async function sendFile(
  stream: SendStream,
  path: string | URL,
  options?: SendFileOptions,
): Promise<number> {
  if (!isSendStream(stream)) throw new TypeError("stream must be a SendStream (a sendAll method)");
  checkPath("path", path);
  checkOptionsObject("options", options);
  const chunkSize = options?.chunkSize ?? 65536;
  checkCount("options.chunkSize", chunkSize, { min: 1 });
  const file = await openFile(path, "r");
  let sent = 0;
  try {
    while (true) {
      const chunk = await file.receiveSome(chunkSize);
      if (chunk.length === 0) return sent;
      await stream.sendAll(chunk);
      sent += chunk.length;
    }
  } finally {
    await file.aclose();
  }
}
