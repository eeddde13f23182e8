/**
 * `runProcess`: run a command to completion like a function call — or as a
 * background task with `nursery.start` — feeding its input, capturing its
 * output, checking its exit status, and stopping it when cancelled (Trio's
 * `trio.run_process`).
 */
import { BrokenResourceError, CancelScope, Event, openNursery, type TaskStatus } from "@weft/core";
import type { SendStream } from "@weft/core/streams";
import { checkChoice, checkOptionalBoolean, isInstance, isRevokedProxy } from "@weft/core/validate";
import { toUint8Array } from "../host/bytes.ts";
import type { SocketStream } from "../sockets/socket-stream.ts";
import {
  type CheckedProcessOptions,
  checkProcessOptions,
  type ModeOf,
  type Process,
  type ProcessOptions,
  type StdioMode,
  startProcess,
  stopProcess,
} from "./process.ts";
import { CalledProcessError } from "./process-errors.ts";

/**
 * Where `runProcess` sends one of the child's output streams: into memory,
 * returned in the result (`"capture"`, the default); to this process's own
 * stream (`"inherit"`); nowhere (`"ignore"`); or to a pipe that you read from
 * `Process.stdout` / `stderr` (`"pipe"`, only with `taskStatus`).
 */
export type OutputMode = "capture" | "pipe" | "inherit" | "ignore";

/** Where `runProcess` takes the child's standard input from, when no `input` is given. */
export type InputMode = "ignore" | "inherit" | "pipe";

const OUTPUT_MODES: readonly OutputMode[] = ["capture", "pipe", "inherit", "ignore"];
const INPUT_MODES: readonly InputMode[] = ["ignore", "inherit", "pipe"];
const ENCODINGS: readonly ("utf8" | "bytes")[] = ["utf8", "bytes"];

/** Options of `runProcess`. */
export interface RunProcessOptions extends ProcessOptions {
  /**
   * Bytes (or text, sent as UTF-8) fed to the child's standard input, which is
   * then closed. If the child exits without reading it all, the rest is
   * dropped silently.
   */
  input?: string | Uint8Array;
  /**
   * The child's standard input when there is no `input`: `"ignore"` (the
   * default, as Trio's empty input: a child that reads gets end of file at
   * once), `"inherit"`, or `"pipe"` (with `taskStatus`: write to
   * `Process.stdin`, and close it).
   */
  stdin?: InputMode;
  /** The child's standard output (default `"capture"`). */
  stdout?: OutputMode;
  /** The child's standard error (default `"capture"`). */
  stderr?: OutputMode;
  /**
   * Throw `CalledProcessError` if the child exits with a status other than 0
   * or is killed by a signal (default true: errors never pass silently).
   */
  check?: boolean;
  /** `"utf8"`: captured output is returned as strings; `"bytes"` (default): as `Uint8Array`s. */
  encoding?: "utf8" | "bytes";
  /**
   * For `nursery.start((taskStatus) => runProcess(cmd, args, { taskStatus }))`:
   * reports the `Process` once it runs; `runProcess` then supervises it in
   * the nursery.
   */
  taskStatus?: TaskStatus<Process>;
}

/** What `runProcess` returns: how the child ended, and its captured output. */
export interface CompletedProcess<
  Out extends Uint8Array | string | null = Uint8Array | string | null,
  Err extends Uint8Array | string | null = Uint8Array | string | null,
> {
  /** The program that ran. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Its process id (the process has been reaped). */
  readonly pid: number;
  /** The exit status, or `null` when a signal killed the process. */
  readonly exitCode: number | null;
  /** The signal that killed the process, or `null` when it exited. */
  readonly signal: NodeJS.Signals | null;
  /** Trio's `returncode`: `exitCode`, or the negated signal number. */
  readonly returnCode: number;
  /** The captured standard output; `null` unless `stdout` was `"capture"`. */
  readonly stdout: Out;
  /** The captured standard error; `null` unless `stderr` was `"capture"`. */
  readonly stderr: Err;
}

/** The type of captured output for an `encoding` option. */
export type TextOf<E> = E extends "utf8" ? string : Uint8Array;
/** The type of one output in the result: the captured output for `"capture"`, else `null`. */
export type OutputOf<M, T> = M extends "capture" ? T : null;

/** The `CompletedProcess` type for `runProcess` options `O`. */
export type CompletedProcessFor<O> = CompletedProcess<
  OutputOf<ModeOf<O, "stdout", "capture">, TextOf<ModeOf<O, "encoding", "bytes">>>,
  OutputOf<ModeOf<O, "stderr", "capture">, TextOf<ModeOf<O, "encoding", "bytes">>>
>;

/** Sends `data`, then closes the pipe (end of file for the child). A child that stopped reading is not an error. */
async function feedInput(stream: SendStream, data: Uint8Array): Promise<void> {
  try {
    await stream.sendAll(data);
  } catch (error) {
    if (!(error instanceof BrokenResourceError)) throw error;
  } finally {
    await stream.aclose();
  }
}

/** Reads `stream` to end of file into `chunks`, then closes it. */
async function drain(stream: SocketStream, chunks: Uint8Array[]): Promise<void> {
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } finally {
    await stream.aclose();
  }
}

function joined(chunks: readonly Uint8Array[], encoding: "utf8" | "bytes"): Uint8Array | string {
  const bytes = Buffer.concat(chunks);
  return encoding === "utf8" ? bytes.toString("utf8") : toUint8Array(bytes);
}

function checkTaskStatus(
  taskStatus: unknown,
): asserts taskStatus is TaskStatus<Process> | undefined {
  if (taskStatus === undefined) return;
  if (
    taskStatus === null ||
    typeof taskStatus !== "object" ||
    isRevokedProxy(taskStatus) ||
    typeof (taskStatus as { started?: unknown }).started !== "function"
  ) {
    throw new TypeError("options.taskStatus must be a TaskStatus (from nursery.start)");
  }
}

/**
 * Runs `command` with `args` and waits until it has exited and its output
 * has been read (Trio's `trio.run_process`). Returns the exit status and the
 * captured output; with `check` (the default), a failure throws
 * `CalledProcessError`, which carries the output too.
 *
 * The child's stdout and stderr are read concurrently, so a child that
 * writes a lot to both never blocks on a full pipe; its input is fed
 * concurrently too. Output is captured by default (as Node's `execFile` and
 * execa do, and so that a `CalledProcessError` can show stderr); pass
 * `stdout: "inherit"` for Trio's pass-through.
 *
 * Cancellation stops the child: `killSignal` (SIGTERM), up to `gracePeriod`
 * ms (5000) on the run's clock, then SIGKILL — its captured output is read
 * meanwhile, so it can log as it cleans up; `Cancelled` propagates only
 * once the child has exited and been reaped, so nothing is left running —
 * with `processGroup: true`, not even what the child started. Cancelled
 * after the child exited, while something it started still holds the
 * output pipes open, `runProcess` returns at once: the pipes are closed
 * (and with `processGroup`, the rest of the group is killed).
 *
 * ```ts
 * const { stdout } = await runProcess("git", ["rev-parse", "HEAD"], { encoding: "utf8" });
 * await moveOnAfter(10_000, () => runProcess("npm", ["test"], { stdout: "inherit" }));
 * const proc = await nursery.start<Process>((taskStatus) =>
 *   runProcess("my-server", [], { taskStatus, stdout: "inherit" }));
 * ```
 *
 * @param command The program (`PATH` is searched) or, with `shell: true`, a
 *   command line. A non-empty string (`TypeError`).
 * @param args Its arguments, passed as they are (no shell). Strings (`TypeError`).
 * @param options `input`, `stdin`, `stdout`, `stderr`, `check`, `encoding`,
 *   `taskStatus`, and the `ProcessOptions` (`cwd`, `env`, `shell`,
 *   `processGroup`, `killSignal`, `gracePeriod`). A mode outside its set, or
 *   `"pipe"` without `taskStatus`, or both `input` and `stdin`, is a
 *   `TypeError`; an unknown `killSignal` or a bad `gracePeriod` a `RangeError`.
 * @throws SpawnError if the process cannot be started (`code === "ENOENT"`:
 *   no such program). CalledProcessError (with `check`) if it failed.
 */
export function runProcess<const O extends RunProcessOptions = Record<never, never>>(
  command: string,
  args: readonly string[] = [],
  options?: O,
): Promise<CompletedProcessFor<O>> {
  // Bad arguments reject the returned promise (never a synchronous throw).
  try {
    return runProcessOrThrow(command, args, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

function runProcessOrThrow<const O extends RunProcessOptions = Record<never, never>>(
  command: string,
  args: readonly string[],
  options?: O,
): Promise<CompletedProcessFor<O>> {
  const checked = checkProcessOptions(command, args, options);
  const opts: RunProcessOptions = options ?? {};
  const { input, taskStatus } = opts;
  if (input !== undefined && typeof input !== "string" && !isInstance(input, Uint8Array)) {
    throw new TypeError("options.input must be a string or a Uint8Array");
  }
  checkChoice("options.stdin", opts.stdin, INPUT_MODES);
  checkChoice("options.stdout", opts.stdout, OUTPUT_MODES);
  checkChoice("options.stderr", opts.stderr, OUTPUT_MODES);
  checkOptionalBoolean("options.check", opts.check);
  checkChoice("options.encoding", opts.encoding, ENCODINGS);
  checkTaskStatus(taskStatus);
  if (input !== undefined && opts.stdin !== undefined) {
    throw new TypeError("give options.input or options.stdin, not both");
  }
  const stdinMode: InputMode = opts.stdin ?? "ignore";
  const stdoutMode: OutputMode = opts.stdout ?? "capture";
  const stderrMode: OutputMode = opts.stderr ?? "capture";
  if (taskStatus === undefined) {
    for (const [name, mode] of [
      ["stdin", stdinMode],
      ["stdout", stdoutMode],
      ["stderr", stderrMode],
    ] as const) {
      if (mode === "pipe") {
        throw new TypeError(
          `options.${name} "pipe" needs options.taskStatus (nursery.start): without it nobody could use the pipe`,
        );
      }
    }
  }
  const data = typeof input === "string" ? new TextEncoder().encode(input) : input;
  return runChecked(command, args, checked, {
    data,
    stdinMode,
    stdoutMode,
    stderrMode,
    check: opts.check ?? true,
    encoding: opts.encoding ?? "bytes",
    taskStatus,
  }) as Promise<CompletedProcessFor<O>>;
}

/** `runProcess`'s options, checked and with defaults filled in. */
interface RunPlan {
  readonly data: Uint8Array | undefined;
  readonly stdinMode: InputMode;
  readonly stdoutMode: OutputMode;
  readonly stderrMode: OutputMode;
  readonly check: boolean;
  readonly encoding: "utf8" | "bytes";
  readonly taskStatus: TaskStatus<Process> | undefined;
}

const pipeOf = (mode: OutputMode): StdioMode => (mode === "capture" ? "pipe" : mode);

async function runChecked(
  command: string,
  args: readonly string[],
  checked: CheckedProcessOptions,
  plan: RunPlan,
): Promise<CompletedProcess> {
  const { data, stdinMode, stdoutMode, stderrMode, taskStatus } = plan;

  const started = await startProcess(
    command,
    args,
    checked,
    [data !== undefined ? "pipe" : stdinMode, pipeOf(stdoutMode), pipeOf(stderrMode)],
    { stdin: stdinMode === "pipe", stdout: stdoutMode === "pipe", stderr: stderrMode === "pipe" },
    "runProcess()",
  );
  const proc = started.process;
  const stdoutChunks: Uint8Array[] = [];
  const stderrChunks: Uint8Array[] = [];
  const capturing = stdoutMode === "capture" || stderrMode === "capture";
  // The captured output is read to its end, also while a cancelled child is
  // being stopped: a child that writes as it cleans up after the polite
  // signal must not meet a closed pipe (EPIPE, or death by SIGPIPE) and lose
  // its grace period. Shielded, so only this scope's own cancel — once the
  // child is gone — stops the readers.
  const readers = new CancelScope({ shield: true });
  // Set when the readers are done. The supervising task waits for it, not
  // the nursery: a grandchild may hold the pipes open long after the child
  // exited, and the shielded readers would never see that wait cancelled
  // (SEMANTICS.md, I/O resources: a cancelled runProcess returns promptly
  // even when a grandchild holds the output pipes open).
  const outputRead = new Event();
  if (!capturing) outputRead.set();
  try {
    await openNursery(
      async (nursery) => {
        if (capturing) {
          nursery.startSoon(async () => {
            try {
              await readers.run(() =>
                openNursery(async (reading) => {
                  if (stdoutMode === "capture")
                    reading.startSoon(() => drain(started.stdout!, stdoutChunks));
                  if (stderrMode === "capture")
                    reading.startSoon(() => drain(started.stderr!, stderrChunks));
                }),
              );
            } finally {
              outputRead.set();
            }
          });
        }
        if (data !== undefined) nursery.startSoon(() => feedInput(started.stdin!, data));
        let finished = false;
        try {
          taskStatus?.started(proc);
          await proc.wait();
          if (!outputRead.isSet()) await outputRead.wait();
          finished = true;
        } finally {
          if (!finished) {
            // Cancelled, or a feeder/reader failed (which cancelled us),
            // while the child ran or after it exited with its output still
            // open: the child must be gone before we return — with
            // processGroup, what is left of its group too (stopProcess only
            // sends that SIGKILL once the child has exited) — and then the
            // readers stop, closing the pipes whoever else holds them.
            // eslint-disable-next-line weft/no-unbounded-cleanup -- stopProcess() is shielded and bounded by its grace period, then SIGKILL
            await stopProcess(proc);
            readers.cancel();
          }
        }
      },
      { strictErrors: false },
    );
  } finally {
    // The pipes runProcess owns are closed by their tasks; this is for a
    // task that never got to run. Pipes in "pipe" mode belong to the caller.
    await new CancelScope({ shield: true }).run(async () => {
      if (data !== undefined) await started.stdin?.aclose();
      if (stdoutMode === "capture") await started.stdout?.aclose();
      if (stderrMode === "capture") await started.stderr?.aclose();
    });
  }

  const stdout = stdoutMode === "capture" ? joined(stdoutChunks, plan.encoding) : null;
  const stderr = stderrMode === "capture" ? joined(stderrChunks, plan.encoding) : null;
  const returnCode = proc.returnCode!;
  if (returnCode !== 0 && plan.check) {
    throw new CalledProcessError({
      command: proc.command,
      args: proc.args,
      pid: proc.pid,
      exitCode: proc.exitCode,
      signal: proc.signal,
      stdout,
      stderr,
    });
  }
  return {
    command: proc.command,
    args: proc.args,
    pid: proc.pid,
    exitCode: proc.exitCode,
    signal: proc.signal,
    returnCode,
    stdout,
    stderr,
  };
}
