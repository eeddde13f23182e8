/**
 * The errors file operations raise when the OS refuses: Node's error (with its
 * `code`: `ENOENT`, `EACCES`, `EISDIR`, `ENOSPC`…) is always the `cause`, and
 * the message says which operation on which path failed. Node's own fs errors
 * carry no stack trace of the caller; ours do.
 */
import { BrokenResourceError } from "@weft/core";
import { quotePath } from "./file-arguments.ts";

function causeText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * A failure to open, read or write a whole file: a plain `Error` (there is no
 * resource that broke), e.g. `cannot open "/x" with flags "r": ENOENT: …` for
 * `fileError("open", "/x", cause, ' with flags "r"')`.
 */
export function fileError(verb: string, path: string, cause: unknown, detail = ""): Error {
  return new Error(`cannot ${verb} ${quotePath(path)}${detail}: ${causeText(cause)}`, { cause });
}

/** A failure of an operation on an open file: `BrokenResourceError`, as for any stream. */
export function brokenFileError(
  operation: string,
  path: string,
  cause: unknown,
): BrokenResourceError {
  return new BrokenResourceError(`${operation} on ${quotePath(path)} failed: ${causeText(cause)}`, {
    cause,
  });
}
