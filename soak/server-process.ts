/**
 * The parent's handle on the soak's server child (soak/server/main.ts): forks
 * it with --expose-gc and weft's source condition, and turns its IPC
 * messages into promises and a stream of samples.
 */
import { type ChildProcess, fork } from "node:child_process";
import type { ParentMessage, Sample, ServerMessage, ServerTotals } from "./protocol.ts";

const SERVER_MAIN = new URL("./server/main.ts", import.meta.url);

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
      execArgv: ["--conditions=weft-source", "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
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
