/**
 * The parent's handle on the soak's server child (soak/server/main.ts): forks
 * it with --expose-gc and weft's source condition, and turns its IPC
 * messages into promises and a stream of samples.
 */
import { type ChildProcess, fork } from "node:child_process";
import type { ParentMessage, Sample, ServerMessage, ServerTotals } from "./protocol.ts";

const SERVER_MAIN = new URL("./server/main.ts", import.meta.url);

/**
 * V8's young generation at its full size from the start: left to adapt, it
 * grows in one or two steps of 16-35 MB of RSS when the load first peaks,
 * which in a short run lands inside the trend test's window.
 */
const V8_FLAGS = ["--min-semi-space-size=16", "--max-semi-space-size=16"];

/**
 * glibc malloc settings for the server, so that its RSS follows the memory it
 * holds: by default freed memory stays in per-thread arenas, and the mmap
 * threshold slides up to the largest block freed (the soak's 64 KiB body
 * chunks, 1 MiB uploads), so RSS becomes a high-water mark of the load's
 * bursts that climbs for minutes. With these, freed large blocks go back to
 * the system; memory never freed (a leak) still shows.
 */
const ALLOCATOR_ENV = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "65536",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

export class ServerProcess {
  readonly #child: ChildProcess;
  /** Resolves with the child's exit code (or signal name) whenever it exits. */
  readonly exited: Promise<number | string>;
  readonly ready: Promise<{ httpPort: number; tcpPort: number; sample: Sample }>;
  readonly stopped: Promise<ServerTotals>;
  #exitedEarly: ((reason: Error) => void)[] = [];

  constructor(onSample: (sample: Sample) => void) {
    this.#child = fork(SERVER_MAIN, [], {
      execPath: process.execPath,
      execArgv: ["--conditions=weft-source", "--expose-gc", ...V8_FLAGS],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, ...ALLOCATOR_ENV },
    });
    this.exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    });
    const waiting = <T>(pick: (message: ServerMessage) => T | undefined): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const onMessage = (message: ServerMessage) => {
          const value = pick(message);
          if (value !== undefined) {
            this.#child.off("message", onMessage);
            resolve(value);
          }
        };
        this.#child.on("message", onMessage);
        this.#exitedEarly.push(reject);
      });
    this.ready = waiting((m) => (m.type === "ready" ? m : undefined));
    this.stopped = waiting((m) => (m.type === "stopped" ? m.totals : undefined));
    this.#child.on("message", (message: ServerMessage) => {
      if (message.type === "sample") onSample(message.sample);
    });
    void this.exited.then((code) => {
      for (const reject of this.#exitedEarly) {
        reject(new Error(`the server process exited (${code})`));
      }
    });
    // Only the promises' users care; an early exit must not also be an unhandled rejection.
    this.ready.catch(() => {});
    this.stopped.catch(() => {});
  }

  stop(): void {
    if (this.#child.connected) this.#child.send({ type: "stop" } satisfies ParentMessage);
  }

  kill(): void {
    this.#child.kill("SIGKILL");
  }
}
