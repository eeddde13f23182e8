/**
 * Errors that mean "the process or system is out of a resource right now" (Trio's
 * ACCEPT_CAPACITY_ERRNOS): an accept loop should wait and retry instead of dying.
 */
const CAPACITY_CODES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOMEM", "ENOBUFS"]);

/** True if `error`, or its `cause`, has an EMFILE-like `code`. */
export function isCapacityError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CAPACITY_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
