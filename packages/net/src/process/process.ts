/**
 * `Process` and `openProcess`: a child process whose standard streams are weft
 * streams, which can be waited on and signalled, and which is never left
 * running or unreaped when the task that owns it is cancelled (Trio's
 * `trio.Process` and `trio.lowlevel.open_process`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type * as net from "node:net";
import {
  BrokenResourceError,
  CancelScope,
  cancelShieldedCheckpoint,
  lowlevel,
  moveOnAfter,
  type Task,
} from "@weft/core";
import { type ReceiveStream, type SendStream, StapledStream } from "@weft/core/streams";
import { checkChoice, checkOptionalBoolean, checkOptionsObject } from "@weft/core/validate";
import { errorCode } from "../host/error-codes.ts";
import { ignoreError, waitExternal, waitForEvent } from "../host/io-wait.ts";
import { unixAddress } from "../sockets/addresses.ts";
import { SocketStream } from "../sockets/socket-stream.ts";
import {
  checkArgs,
  checkCommand,
  checkCwd,
  checkEnv,
  checkGracePeriod,
  checkSignal,
  checkSignalName,
  signalNumber,
} from "./process-arguments.ts";
import { formatCommand, SpawnError } from "./process-errors.ts";

/**
 * What one of the child's standard streams is connected to: a pipe to this
 * process (`"pipe"`: a weft stream on the `Process`), this process's own
 * stream (`"inherit"`), or nothing (`"ignore"`: /dev/null).
 */
export type StdioMode = "pipe" | "inherit" | "ignore";

const STDIO_MODES: readonly StdioMode[] = ["pipe", "inherit", "ignore"];

/** Default polite signal sent on cancellation. */
const DEFAULT_KILL_SIGNAL: NodeJS.Signals = "SIGTERM";
/** Default time (on the run's clock) a cancelled process gets to exit after the polite signal: Trio's 5 s. */
const DEFAULT_GRACE_PERIOD_MS = 5000;

/** A pipe has no socket address; `SocketStream` wants one (it is not visible through the stream types). */
const PIPE_ADDRESSES = { local: unixAddress(""), remote: unixAddress("") };

/** Options shared by `openProcess` and `runProcess`: how to start the child and how to stop it. */
export interface ProcessOptions {
  /** The child's working directory (default: this process's). */
  cwd?: string;
  /**
   * The child's whole environment (default: this process's). It replaces, not
   * extends: pass `{ ...process.env, NAME: "value" }` to add a variable.
   * `undefined` values are left out.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Run `command` through the shell (`/bin/sh -c`, `cmd.exe` on Windows) as a
   * command line. Default false: the program is executed directly, and no
   * argument is ever interpreted by a shell. With `shell: true`, `args` must
   * be empty (quote the command line yourself).
   */
  shell?: boolean;
  /**
   * POSIX: start the child in a process group (and session) of its own, and
   * send every signal — `sendSignal`, `terminate`, `kill`, and the ones
   * cancellation sends — to the whole group, so that what the child started
   * (a shell's commands, a build tool's workers) is stopped with it. On
   * cancellation, whatever is left of the group once the child has exited is
   * sent SIGKILL. Default false, as in Trio: the child stays in this process's
   * group, so a Ctrl-C in a terminal reaches it directly — and it still dies
   * with us if this process is killed by the Ctrl-C before it can clean up,
   * which a child in its own group would survive.
   */
  processGroup?: boolean;
  /** The polite signal cancellation sends first (default `"SIGTERM"`). */
  killSignal?: NodeJS.Signals;
  /**
   * Milliseconds on the run's clock (a `MockClock` can jump over them) that a
   * cancelled process has to exit after `killSignal`, before SIGKILL.
   * Default 5000; 0 sends SIGKILL at once.
   */
  gracePeriod?: number;
}

/** Options of `openProcess`. */
export interface OpenProcessOptions extends ProcessOptions {
  /** The child's standard input (default `"inherit"`, as in Trio). */
  stdin?: StdioMode;
  /** The child's standard output (default `"inherit"`). */
  stdout?: StdioMode;
  /** The child's standard error (default `"inherit"`). */
  stderr?: StdioMode;
}

/**
 * The mode an options type `O` gives its property `K`, `D` when absent: lets
 * `openProcess(cmd, args, { stdout: "pipe" })` return a `Process` whose
 * `stdout` is typed as a stream, not `| null`.
 */
export type ModeOf<O, K extends PropertyKey, D> = K extends keyof O
  ? Exclude<O[K], undefined> | (undefined extends O[K] ? D : never)
  : D;

/** A `Process`'s stream for stdio mode `M`: the stream for `"pipe"`, else `null`. */
export type PipeOf<M, S> = M extends "pipe" ? S : null;

/** Only `openProcess` and `runProcess` create processes. */
const CREATE: unique symbol = Symbol("weft.Process.create");

/** @internal What `startProcess` needs besides the spawn options. */
interface ProcessSettings {
  readonly processGroup: boolean;
  readonly killSignal: NodeJS.Signals;
  readonly gracePeriod: number;
}

/**
 * @internal Stops `process` as cancellation does (polite signal, grace
 * period, SIGKILL, reaped; stragglers of its group killed), whatever the
 * caller's cancel state. For `runProcess`.
 */
export let stopProcess: (process: Process) => Promise<void>;

/**
 * A child process (Trio's `trio.Process`), from `openProcess` or
 * `runProcess` with `taskStatus`. No public constructor.
 *
 * `stdin` / `stdout` / `stderr` are weft streams when that stream is a pipe,
 * else `null`; `stdio` staples `stdin` and `stdout` when both are pipes.
 * Writing to stdin after the child exited or closed it throws
 * `BrokenResourceError` (with the system error, e.g. `EPIPE`, as `cause`).
 *
 * `aclose()` (also `await using`) closes the pipes and waits for the child
 * to exit; if that wait is cancelled, the child is stopped (`killSignal`,
 * `gracePeriod`, then SIGKILL) and reaped before `Cancelled` propagates.
 */
export class Process<
  In extends StdioMode = StdioMode,
  Out extends StdioMode = StdioMode,
  Err extends StdioMode = StdioMode,
> {
  /** The process id. */
  readonly pid: number;
  /** The program (or, with `shell: true`, the command line). */
  readonly command: string;
  /** The arguments. */
  readonly args: readonly string[];
  /** The child's standard input, when it is a pipe. Closing it sends end of file. */
  readonly stdin: PipeOf<In, SendStream>;
  /** The child's standard output, when it is a pipe. */
  readonly stdout: PipeOf<Out, ReceiveStream>;
  /** The child's standard error, when it is a pipe. */
  readonly stderr: PipeOf<Err, ReceiveStream>;
  /** `stdin` and `stdout` as one stream (`sendEof` closes stdin), when both are pipes. */
  readonly stdio: PipeOf<In, PipeOf<Out, StapledStream<SendStream, ReceiveStream>>>;

  readonly #settings: ProcessSettings;
  #exited = false;
  #exitCode: number | null = null;
  #signal: NodeJS.Signals | null = null;
  /** Tasks in `wait()`, woken by the exit event. */
  readonly #waiters = new Set<Task>();

  static {
    stopProcess = (process) => process.#stop();
  }

  /** @internal Use `openProcess` or `runProcess`. */
  constructor(
    token: typeof CREATE,
    child: ChildProcess,
    command: string,
    args: readonly string[],
    settings: ProcessSettings,
    streams: {
      stdin: SocketStream | null;
      stdout: SocketStream | null;
      stderr: SocketStream | null;
    },
  ) {
    if (token !== CREATE)
      throw new TypeError("Process has no public constructor: use openProcess()");
    this.#settings = settings;
    this.pid = child.pid!;
    this.command = command;
    this.args = args;
    this.stdin = streams.stdin as PipeOf<In, SendStream>;
    this.stdout = streams.stdout as PipeOf<Out, ReceiveStream>;
    this.stderr = streams.stderr as PipeOf<Err, ReceiveStream>;
    this.stdio = (
      streams.stdin !== null && streams.stdout !== null
        ? new StapledStream<SendStream, ReceiveStream>(streams.stdin, streams.stdout)
        : null
    ) as PipeOf<In, PipeOf<Out, StapledStream<SendStream, ReceiveStream>>>;
    // Node emits 'exit' from the same callback in which libuv reaped the
    // child: once #exited is set the pid is free for reuse, and before it is
    // set the child (perhaps a zombie) still owns it. That is what makes
    // sendSignal safe.
    child.on("exit", (exitCode: number | null, signal: NodeJS.Signals | null) => {
      this.#exited = true;
      this.#exitCode = exitCode;
      this.#signal = signal;
      for (const task of this.#waiters) lowlevel.reschedule(task);
      this.#waiters.clear();
    });
  }

  /** The exit status, or `null` while running or when a signal killed the process. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** The signal that killed the process, or `null` while running or when it exited by itself. */
  get signal(): NodeJS.Signals | null {
    return this.#signal;
  }

  /**
   * Trio's `returncode`: `null` while running, else the exit status, or the
   * negated signal number when a signal killed the process (-9 for SIGKILL).
   */
  get returnCode(): number | null {
    if (!this.#exited) return null;
    return this.#signal !== null ? -signalNumber(this.#signal) : (this.#exitCode ?? 0);
  }

  /**
   * Waits until the process has exited (and been reaped) and returns
   * `returnCode`. A checkpoint; cancelling the wait leaves the process alone.
   * Any number of tasks may wait.
   */
  async wait(): Promise<number> {
    const cancelled = lowlevel.cancelPoint("Process.wait()");
    if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
    if (this.#exited) {
      await cancelShieldedCheckpoint();
    } else {
      const task = lowlevel.currentTask();
      this.#waiters.add(task);
      await waitExternal(`process ${this.pid} to exit`, () => {
        this.#waiters.delete(task);
      });
    }
    return this.returnCode!;
  }

  /**
   * Sends `signal` (a name such as `"SIGINT"`, or a number) to the process —
   * to its whole group with `processGroup: true`. Does nothing once the
   * process has exited (its pid may belong to another process by then).
   * `BrokenResourceError` if the system refuses (`EPERM`: the child changed
   * its user).
   */
  sendSignal(signal: NodeJS.Signals | number): void {
    checkSignal("signal", signal);
    this.#send(signal);
  }

  /** Asks the process to exit: SIGTERM (on Windows, Node terminates it outright). */
  terminate(): void {
    this.#send("SIGTERM");
  }

  /** Kills the process: SIGKILL. Use `wait()` to know when it is gone. */
  kill(): void {
    this.#send("SIGKILL");
  }

  #send(signal: NodeJS.Signals | number): void {
    if (this.#exited) return;
    try {
      process.kill(this.#target(), signal);
    } catch (error) {
      // ESRCH: only possible for a group whose members all exited while the
      // leader's exit is not yet reported; nothing is left to signal.
      if (errorCode(error) === "ESRCH") return;
      throw new BrokenResourceError(
        `cannot send ${String(signal)} to process ${this.pid}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The pid to signal: the negated pid addresses the whole process group (POSIX). */
  #target(): number {
    return this.#settings.processGroup && process.platform !== "win32" ? -this.pid : this.pid;
  }

  /**
   * Cancellation's way to end the process, shielded from the caller's
   * cancellation: `killSignal`, up to `gracePeriod` ms on the run's clock for
   * the process to exit, SIGKILL, and always a wait for the exit event so the
   * child is reaped (never a zombie) before we return.
   */
  async #stop(): Promise<void> {
    await new CancelScope({ shield: true }).run(async () => {
      const { killSignal, gracePeriod } = this.#settings;
      if (!this.#exited && gracePeriod > 0) {
        try {
          this.#send(killSignal);
        } catch {
          // Refused: SIGKILL below will tell (and fail loudly if refused too).
        }
        await moveOnAfter(gracePeriod, () => this.wait());
      }
      if (!this.#exited) {
        this.#send("SIGKILL");
        await this.wait();
      }
      const target = this.#target();
      if (target < 0) {
        // A group: whatever the child started and left behind. The group
        // keeps the leader's id while any member lives, so the id cannot have
        // been reused by an unrelated group yet; errors (ESRCH: nobody left)
        // are expected and ignored. runProcess may come here a while after
        // the child exited (cancelled while a grandchild held the output
        // open): that grandchild, if still in the group, still holds the id.
        try {
          process.kill(target, "SIGKILL");
        } catch {}
      }
    });
  }

  /**
   * Closes the pipes, then waits for the process to exit. If that wait is
   * cancelled, stops it (`killSignal`, `gracePeriod`, SIGKILL) and waits until
   * it is reaped, then throws `Cancelled`. Closing stdin is often what makes
   * a filter exit; closing stdout/stderr discards unread output.
   */
  async aclose(): Promise<void> {
    await new CancelScope({ shield: true }).run(async () => {
      for (const stream of [this.stdin, this.stdout, this.stderr]) {
        if (stream !== null) await stream.aclose();
      }
    });
    try {
      await this.wait();
    } finally {
      // eslint-disable-next-line weft/no-unbounded-cleanup -- #stop() is shielded and bounded by its grace period, then SIGKILL
      if (!this.#exited) await this.#stop();
    }
  }

  /** `aclose()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** `Process(node -e …, pid 1234, running)` — for logs and test failures. */
  toString(): string {
    const state = !this.#exited
      ? "running"
      : this.#signal !== null
        ? `killed by ${this.#signal}`
        : `exited with status ${this.#exitCode}`;
    return `Process(${formatCommand(this.command, this.args)}, pid ${this.pid}, ${state})`;
  }
}

/** The spawn options common to both entry points, validated and with defaults filled in. */
export interface CheckedProcessOptions extends ProcessSettings {
  readonly cwd: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  readonly shell: boolean;
}

/** @internal Validates the `ProcessOptions` part of `options` (before anything is spawned). */
export function checkProcessOptions(
  command: unknown,
  args: unknown,
  options: ProcessOptions | undefined,
): CheckedProcessOptions {
  checkCommand(command);
  checkArgs(args);
  checkOptionsObject("options", options);
  const { cwd, env, shell, processGroup, killSignal, gracePeriod } = options ?? {};
  checkCwd(cwd);
  checkEnv(env);
  checkOptionalBoolean("options.shell", shell);
  checkOptionalBoolean("options.processGroup", processGroup);
  if (killSignal !== undefined) checkSignalName("options.killSignal", killSignal);
  checkGracePeriod(gracePeriod);
  if (shell === true && args.length > 0) {
    throw new TypeError(
      "args must be empty with options.shell: the command is one command line, quoted by you",
    );
  }
  return {
    cwd,
    env,
    shell: shell ?? false,
    processGroup: processGroup ?? false,
    killSignal: killSignal ?? DEFAULT_KILL_SIGNAL,
    gracePeriod: gracePeriod ?? DEFAULT_GRACE_PERIOD_MS,
  };
}

/** @internal Checks one stdio mode option. */
export function checkStdioMode(name: string, mode: unknown): asserts mode is StdioMode | undefined {
  checkChoice(name, mode, STDIO_MODES);
}

/** @internal A started process, with the pipes it does not expose. */
export interface StartedProcess {
  readonly process: Process;
  readonly stdin: SocketStream | null;
  readonly stdout: SocketStream | null;
  readonly stderr: SocketStream | null;
}

function withoutUndefined(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * @internal Spawns the child (a checkpoint). `modes` are what each stream is
 * connected to; `exposed` says which pipes the `Process` shows (the others
 * are returned for the caller to own: `runProcess` feeds and drains them).
 * `operation` names the caller in the error raised outside `run()`.
 */
export async function startProcess(
  command: string,
  args: readonly string[],
  options: CheckedProcessOptions,
  modes: readonly [StdioMode, StdioMode, StdioMode],
  exposed: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean },
  operation: string,
): Promise<StartedProcess> {
  const cancelled = lowlevel.cancelPoint(operation);
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const argsCopy = Object.freeze([...args]);
  let child: ChildProcess;
  try {
    child = spawn(command, argsCopy, {
      stdio: [...modes],
      cwd: options.cwd,
      env: options.env === undefined ? undefined : withoutUndefined(options.env),
      shell: options.shell,
      // POSIX: setsid(), so the child leads a group of its own. (On Windows
      // `detached` means a console of its own instead: not what was asked.)
      detached: options.processGroup && process.platform !== "win32",
      windowsHide: true,
    });
  } catch (error) {
    if (error instanceof TypeError) throw error; // an argument Node rejects that our checks let through
    throw new SpawnError(command, argsCopy, error, options.cwd);
  }
  // Later 'error' events (none are expected: we signal with process.kill)
  // must not crash the process.
  child.on("error", ignoreError);
  if (child.pid === undefined) {
    // The spawn failed (ENOENT, EACCES…); Node reports it on the next tick.
    // Shielded: the call already passed its cancel point, and the wait is
    // one tick long.
    let cause: unknown = new Error("spawn failed without an error");
    try {
      await new CancelScope({ shield: true }).run(() =>
        waitForEvent(child, "spawn", `spawning ${command}`),
      );
    } catch (error) {
      cause = error;
    }
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    throw new SpawnError(command, argsCopy, cause, options.cwd);
  }
  // Node's pipes to a child are net.Sockets (typed as plain streams).
  const wrap = (pipe: unknown) =>
    pipe === null ? null : new SocketStream(pipe as net.Socket, PIPE_ADDRESSES);
  // stdin is a SocketStream too, shown only as a SendStream; once the child
  // has exited, a send fails as SocketStream's on a destroyed socket (EPIPE).
  const stdin = wrap(child.stdin);
  const stdout = wrap(child.stdout);
  const stderr = wrap(child.stderr);
  const proc = new Process(CREATE, child, command, argsCopy, options, {
    stdin: exposed.stdin ? stdin : null,
    stdout: exposed.stdout ? stdout : null,
    stderr: exposed.stderr ? stderr : null,
  });
  await cancelShieldedCheckpoint();
  return { process: proc, stdin, stdout, stderr };
}

/**
 * Starts `command` with `args` as a child process and returns it as soon as
 * it runs (Trio's `trio.lowlevel.open_process`). A checkpoint.
 *
 * Nothing supervises the child: close it with `aclose()` or `await using`,
 * which stops it if cancelled. To treat a process like a function call, or a
 * background task in a nursery, use `runProcess`.
 *
 * ```ts
 * await using proc = await openProcess("sort", [], { stdin: "pipe", stdout: "pipe" });
 * await proc.stdin.sendAll(new TextEncoder().encode("b\na\n"));
 * await proc.stdin.aclose();
 * for await (const chunk of proc.stdout) process.stdout.write(chunk);
 * ```
 *
 * @param command The program, found on `PATH` unless it contains a `/`
 *   (with `shell: true`, a command line). A non-empty string (`TypeError`).
 * @param args Its arguments, passed as they are (no shell). Strings (`TypeError`).
 * @param options `stdin` / `stdout` / `stderr` (`"pipe"`, `"inherit"`,
 *   `"ignore"`; default `"inherit"`; `TypeError` otherwise), `cwd`, `env`,
 *   `shell`, `processGroup`, `killSignal` (`RangeError` if unknown),
 *   `gracePeriod` (`RangeError` unless finite and >= 0).
 * @throws SpawnError when the process cannot be started; `error.code` (and
 *   `error.cause.code`) is the system's code, `"ENOENT"` for a program that
 *   does not exist.
 */
export function openProcess<const O extends OpenProcessOptions = Record<never, never>>(
  command: string,
  args: readonly string[] = [],
  options?: O,
): Promise<
  Process<
    ModeOf<O, "stdin", "inherit">,
    ModeOf<O, "stdout", "inherit">,
    ModeOf<O, "stderr", "inherit">
  >
> {
  // Bad arguments reject the returned promise (never a synchronous throw).
  let checked: CheckedProcessOptions;
  try {
    checked = checkProcessOptions(command, args, options);
    checkStdioMode("options.stdin", options?.stdin);
    checkStdioMode("options.stdout", options?.stdout);
    checkStdioMode("options.stderr", options?.stderr);
  } catch (error) {
    return Promise.reject(error);
  }
  const modes = [
    options?.stdin ?? "inherit",
    options?.stdout ?? "inherit",
    options?.stderr ?? "inherit",
  ] as const;
  return openChecked(command, args, checked, modes) as Promise<
    Process<
      ModeOf<O, "stdin", "inherit">,
      ModeOf<O, "stdout", "inherit">,
      ModeOf<O, "stderr", "inherit">
    >
  >;
}

async function openChecked(
  command: string,
  args: readonly string[],
  checked: CheckedProcessOptions,
  modes: readonly [StdioMode, StdioMode, StdioMode],
): Promise<Process> {
  const started = await startProcess(
    command,
    args,
    checked,
    modes,
    { stdin: true, stdout: true, stderr: true },
    "openProcess()",
  );
  return started.process;
}
