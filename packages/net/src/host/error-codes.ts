/** Reading the `code` of Node's system errors (`ECONNREFUSED`, `EMFILE`…). */

/** The string `code` of `error`, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** `" (CODE)"` for messages, or `""` when `error` has no code. */
export function codeSuffix(error: unknown): string {
  const code = errorCode(error);
  return code === undefined ? "" : ` (${code})`;
}

/**
 * Codes that mean "the process or system is out of a resource right now" (Trio's
 * ACCEPT_CAPACITY_ERRNOS): an accept loop should wait and retry instead of dying.
 */
const CAPACITY_CODES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOMEM", "ENOBUFS"]);

/** True if `error`, or an error in its `cause` chain, has an EMFILE-like `code`. */
export function isCapacityError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 4; depth++) {
    const code = errorCode(e);
    if (code !== undefined && CAPACITY_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
