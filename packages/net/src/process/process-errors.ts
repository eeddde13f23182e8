/**
 * The errors of child processes: a process that could not be started
 * (`SpawnError`, Trio's `OSError` from `open_process`) and one that ran but
 * failed (`CalledProcessError`, Python's `subprocess.CalledProcessError`).
 */
import * as fs from "node:fs";
import { errorCode } from "../host/error-codes.ts";

/** How many characters of a command line an error message shows. */
const MAX_COMMAND_CHARS = 200;
/** How much of the captured stderr a `CalledProcessError` message shows. */
const STDERR_TAIL_LINES = 10;
const STDERR_TAIL_CHARS = 2000;

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg);
}

/** `command` and `args` as one readable line (quoted where needed, cut at 200 characters). */
export function formatCommand(command: string, args: readonly string[]): string {
  const line = [command, ...args].map(quoteArg).join(" ");
  return line.length <= MAX_COMMAND_CHARS ? line : `${line.slice(0, MAX_COMMAND_CHARS - 1)}…`;
}

/**
 * A child process could not be started: the program was not found
 * (`code === "ENOENT"`, also reported when `cwd` does not exist), is not
 * executable (`EACCES`), or the system is out of processes or descriptors
 * (`EAGAIN`, `EMFILE`). `cause` is Node's error, with its `code`, `syscall`
 * and `path`.
 */
export class SpawnError extends Error {
  /** The program that could not be started. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** The system error code (`"ENOENT"`, `"EACCES"`…), copied from `cause`. */
  readonly code: string | undefined;

  constructor(command: string, args: readonly string[], cause: unknown, cwd?: string) {
    const code = errorCode(cause);
    const where = cwd === undefined ? "" : ` in ${JSON.stringify(cwd)}`;
    super(`cannot start ${formatCommand(command, args)}${where}: ${spawnFailure(cause, cwd)}`, {
      cause,
    });
    this.name = "SpawnError";
    this.command = command;
    this.args = args;
    this.code = code;
  }
}

/** Why a spawn failed, in words (Node's own message is `spawn CMD ENOENT` even when `cwd` is what is missing). */
function spawnFailure(cause: unknown, cwd: string | undefined): string {
  switch (errorCode(cause)) {
    case "ENOENT":
      return cwd !== undefined && !fs.existsSync(cwd)
        ? "the working directory does not exist (ENOENT)"
        : "no such file or directory (ENOENT)";
    case "EACCES":
      return "permission denied (EACCES)";
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}

/** The last lines of `output` (bytes decoded as UTF-8), for an error message. */
function tail(output: Uint8Array | string): string {
  const text = (
    typeof output === "string"
      ? output
      : Buffer.from(output.buffer, output.byteOffset, output.byteLength).toString("utf8")
  ).trimEnd();
  let lines = text.split("\n");
  if (lines.length > STDERR_TAIL_LINES) lines = ["…", ...lines.slice(-STDERR_TAIL_LINES)];
  const joined = lines.join("\n");
  return joined.length <= STDERR_TAIL_CHARS ? joined : `…${joined.slice(-STDERR_TAIL_CHARS)}`;
}

/** What a `CalledProcessError` knows about the run that failed. */
export interface CalledProcessErrorDetails {
  /** The program that ran. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** The process's id. */
  readonly pid: number;
  /** Its exit status, or `null` when a signal killed it. */
  readonly exitCode: number | null;
  /** The signal that killed it, or `null` when it exited. */
  readonly signal: NodeJS.Signals | null;
  /** Its captured standard output (`null` when not captured). */
  readonly stdout: Uint8Array | string | null;
  /** Its captured standard error (`null` when not captured). */
  readonly stderr: Uint8Array | string | null;
}

/**
 * `runProcess` with `check` (the default) ran the command and it failed: it
 * exited with a status other than 0, or was killed by a signal. The captured
 * output is kept (`stdout`, `stderr`: bytes, text with `encoding: "utf8"`, or
 * `null` when that stream was not captured), and the message ends with the
 * last lines of the captured stderr.
 */
export class CalledProcessError extends Error {
  /** The program that ran. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Its process id (gone now: the process has been reaped). */
  readonly pid: number;
  /** The exit status, or `null` when a signal killed the process. */
  readonly exitCode: number | null;
  /** The signal that killed the process, or `null` when it exited. */
  readonly signal: NodeJS.Signals | null;
  /** The captured standard output, or `null` if it was not captured. */
  readonly stdout: Uint8Array | string | null;
  /** The captured standard error, or `null` if it was not captured. */
  readonly stderr: Uint8Array | string | null;

  constructor(details: CalledProcessErrorDetails) {
    const how =
      details.signal !== null
        ? `was killed by ${details.signal}`
        : `exited with status ${String(details.exitCode)}`;
    let message = `${formatCommand(details.command, details.args)} ${how}`;
    if (details.stderr !== null && details.stderr.length > 0) {
      message += `\nstderr:\n${tail(details.stderr)}`;
    }
    super(message);
    this.name = "CalledProcessError";
    this.command = details.command;
    this.args = details.args;
    this.pid = details.pid;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stdout = details.stdout;
    this.stderr = details.stderr;
  }
}
