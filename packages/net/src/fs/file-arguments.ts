/**
 * The arguments shared by `openFile` and the whole-file helpers: paths, open
 * flags and permission modes, each checked with an error that names it.
 */
import { fileURLToPath } from "node:url";
import { isInstance } from "@weft/core/validate";

/**
 * How a file is opened, as in Node's `fs.open` (and C's `fopen`):
 *
 * - `"r"` read; `"r+"` read and write; the file must exist.
 * - `"w"` write, `"w+"` write and read: created, or truncated if it exists.
 * - `"a"` append, `"a+"` append and read: created if missing; every write goes
 *   to the end of the file.
 * - An `x` (`"wx"`, `"wx+"`, `"ax"`, `"ax+"`) fails with `EEXIST` if the path
 *   exists; an `s` (`"rs+"`, `"as"`, `"as+"`) opens in synchronous mode (`O_SYNC`).
 */
export type OpenFlags =
  | "r"
  | "r+"
  | "rs+"
  | "w"
  | "wx"
  | "w+"
  | "wx+"
  | "a"
  | "ax"
  | "a+"
  | "ax+"
  | "as"
  | "as+";

/** What a set of open flags allows. */
export interface FlagsInfo {
  readonly readable: boolean;
  readonly writable: boolean;
  /** Writes go to the end of the file, wherever the stream's position is. */
  readonly appending: boolean;
}

const FLAGS: ReadonlyMap<string, FlagsInfo> = new Map(
  (
    [
      ["r", true, false, false],
      ["r+", true, true, false],
      ["rs+", true, true, false],
      ["w", false, true, false],
      ["wx", false, true, false],
      ["w+", true, true, false],
      ["wx+", true, true, false],
      ["a", false, true, true],
      ["ax", false, true, true],
      ["a+", true, true, true],
      ["ax+", true, true, true],
      ["as", false, true, true],
      ["as+", true, true, true],
    ] as const
  ).map(([flags, readable, writable, appending]) => [flags, { readable, writable, appending }]),
);

/** Checks `flags` (`TypeError` if not a string, `RangeError` if unknown) and says what they allow. */
export function checkFlags(name: string, flags: unknown): FlagsInfo {
  if (typeof flags !== "string") {
    throw new TypeError(`${name} must be a string such as "r" or "w", got ${typeof flags}`);
  }
  const info = FLAGS.get(flags);
  if (info === undefined) {
    throw new RangeError(
      `${name} must be one of ${[...FLAGS.keys()].map((f) => `"${f}"`).join(", ")}; got ${JSON.stringify(flags)}`,
    );
  }
  return info;
}

/**
 * Checks a path argument and returns it as a string: a non-empty string without
 * NUL characters, or a `file:` URL.
 */
export function checkPath(name: string, path: unknown): string {
  let text: string;
  if (isInstance(path, URL)) {
    if (path.protocol !== "file:") {
      throw new TypeError(`${name} must be a file: URL, got a ${path.protocol} URL`);
    }
    try {
      text = fileURLToPath(path);
    } catch (error) {
      throw new TypeError(`${name} is not a usable file: URL (${String(error)})`, {
        cause: error,
      });
    }
  } else if (typeof path === "string") {
    text = path;
  } else {
    throw new TypeError(`${name} must be a string or a file: URL, got ${typeof path}`);
  }
  if (text.length === 0) throw new TypeError(`${name} must not be empty`);
  // Node would reject it too, with a message about the C string; ours names the argument.
  if (text.includes("\0")) throw new TypeError(`${name} must not contain NUL characters`);
  return text;
}

/** Checks a permission mode (`TypeError` unless a number, `RangeError` unless an integer in 0..0o7777). */
export function checkMode(name: string, mode: unknown): asserts mode is number {
  if (typeof mode !== "number") throw new TypeError(`${name} must be a number, got ${typeof mode}`);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`${name} must be an integer in 0..0o7777, got ${String(mode)}`);
  }
}

/** A path for error messages: quoted, so that spaces and empty parts show. */
export function quotePath(path: string): string {
  return JSON.stringify(path);
}
