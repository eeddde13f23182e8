// One weft server process per CPU, all listening on the same port with
// `reusePort: true` (SO_REUSEPORT): the kernel spreads incoming connections
// among them, with no master process passing sockets around. Each child runs
// `serveTcp` in its own `run()`; its handler answers with the child's pid, so
// the parent, connecting 50 clients, can count how many connections each child
// served. Then the parent asks the children to stop: each one cancels its run
// (which closes its listener), reports how many connections it served, and
// exits with status 0. If the parent fails half-way, a `finally` kills any
// child still running, and a child whose parent disappears stops by itself
// (its IPC channel closes), so no server outlives the example.
//
// Picking the port has a race in it. The parent opens a listener on port 0
// (with reusePort) to get a free port from the kernel. If it closed that
// listener before the children bound the port, another program could take the
// port in between. So the parent keeps its listener open until every child is
// listening (with reusePort, the children may bind the port it holds, as the
// same user), and only then closes it, before any client connects: a connection
// the kernel had handed to the parent's listener would never be accepted.
//
// SO_REUSEPORT exists on Linux, the BSDs and a few others; where listening with
// reusePort fails, the example prints a note and skips.
import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { cancellable, ExceptionGroup, failAfter, moveOnAfter, openNursery, run } from "@weft/core";
import {
  acloseForcefully,
  openTcpListeners,
  openTcpStream,
  type SocketStream,
  serveTcp,
} from "@weft/net";

/** The argument that makes this file run as a child server. */
const CHILD_ARG = "--reuse-port-child";
const CLIENTS = 50;
const HOST = "127.0.0.1";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Messages from a child to the parent, over the IPC channel `fork` sets up. */
type ChildMessage =
  | { type: "listening"; pid: number }
  | { type: "failed"; pid: number; message: string }
  | { type: "stopped"; pid: number; served: number };

/** The parent's only message to a child. */
interface StopMessage {
  type: "stop";
}

function isStopMessage(message: unknown): message is StopMessage {
  return (
    typeof message === "object" && message !== null && (message as StopMessage).type === "stop"
  );
}

// ----------------------------------------------------------------- the child

/** Serves `port` until the parent says stop (or SIGTERM, or the parent goes away). */
async function childMain(port: number): Promise<void> {
  // Once the parent is gone there is nobody to tell (and sending would throw).
  const tell = (message: ChildMessage) => {
    if (process.connected) process.send?.(message);
  };
  let served = 0;
  const handler = async (stream: SocketStream): Promise<void> => {
    served++;
    await stream.sendAll(encoder.encode(`${process.pid}\n`));
    // serveTcp closes the connection when the handler returns.
  };

  // Aborting the run's signal cancels every task of the run: the accept loop
  // stops and the listener is closed, then run() rejects with the reason.
  const stop = new AbortController();
  const requestStop = (why: string) => stop.abort(new Error(why));
  const onMessage = (message: unknown) => {
    if (isStopMessage(message)) requestStop("the parent asked us to stop");
  };
  const onSigterm = () => requestStop("SIGTERM");
  const onDisconnect = () => requestStop("the parent went away");
  process.on("message", onMessage);
  process.on("SIGTERM", onSigterm);
  process.on("disconnect", onDisconnect);
  try {
    await run(
      async () => {
        await openNursery(async (nursery) => {
          await nursery.start((taskStatus) =>
            serveTcp(handler, port, { host: HOST, reusePort: true, taskStatus }),
          );
          tell({ type: "listening", pid: process.pid });
        });
      },
      { signal: stop.signal },
    );
  } catch (error) {
    if (error !== stop.signal.reason) {
      // A nursery wraps errors in an ExceptionGroup: report what is inside.
      const errors = error instanceof ExceptionGroup ? error.leafErrors() : [error];
      tell({ type: "failed", pid: process.pid, message: errors.map(String).join("; ") });
      process.exitCode = 1;
    }
  } finally {
    process.off("message", onMessage);
    process.off("SIGTERM", onSigterm);
    process.off("disconnect", onDisconnect);
  }
  tell({ type: "stopped", pid: process.pid, served });
  // Closing the IPC channel leaves nothing holding the event loop: the process exits.
  if (process.connected) process.disconnect();
}

// ----------------------------------------------------------------- the parent

/** A forked child and the messages it has sent so far. */
interface Child {
  readonly process: ChildProcess;
  readonly messages: ChildMessage[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Whether `exited` has resolved. */
  closed: boolean;
}

function forkChild(port: number): Child {
  const child = fork(fileURLToPath(import.meta.url), [CHILD_ARG, String(port)], {
    execPath: process.execPath,
    // The child runs this TypeScript file directly, like the parent.
    execArgv: ["--conditions=weft-source"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const messages: ChildMessage[] = [];
  child.on("message", (message) => messages.push(message as ChildMessage));
  // 'close', not 'exit': it comes after the IPC channel has delivered every message.
  const exited = new Promise<number | string>((resolve) => {
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  // A failure to spawn emits 'error', then 'close': waiting for a message then fails.
  child.on("error", () => {});
  const result: Child = { process: child, messages, exited, closed: false };
  void exited.then(() => {
    result.closed = true;
  });
  return result;
}

/** Waits until `child` has sent a message of type `type` (or has exited). */
async function waitForMessage(child: Child, type: ChildMessage["type"]): Promise<ChildMessage> {
  for (;;) {
    const found = child.messages.find((m) => m.type === type || m.type === "failed");
    if (found !== undefined) return found;
    if (child.closed) throw new Error(`child ${child.process.pid} exited before saying "${type}"`);
    // Foreign events, awaited the weft way: cancellable, so a timeout stops the wait.
    await cancellable((signal) => nextEvent(child.process, ["message", "close"], signal));
  }
}

/** Resolves at the next of `events` on `emitter` (or when `signal` aborts), leaving no listener behind. */
function nextEvent(emitter: ChildProcess, events: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of events) emitter.off(event, done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    for (const event of events) emitter.on(event, done);
    signal.addEventListener("abort", done);
  });
}

/** Connects and reads the pid the server answers with. */
async function askPid(port: number): Promise<number> {
  const stream = await openTcpStream(HOST, port);
  try {
    let text = "";
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    return Number(text.trim());
  } finally {
    await stream.aclose();
  }
}

function isUnsupported(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return cause?.code === "ENOTSUP" || cause?.code === "EOPNOTSUPP";
}

/** Forks one server per CPU on a shared port, spreads 50 clients over them, stops them. */
export async function main(): Promise<void> {
  const start = performance.now();
  const elapsed = () => `[${(performance.now() - start).toFixed(0).padStart(4)} ms]`;
  const children: Child[] = [];
  try {
    await run(async () => {
      // Reserve a free port; keep it until the children listen on it too.
      let reservation: Awaited<ReturnType<typeof openTcpListeners>>;
      try {
        reservation = await openTcpListeners(0, { host: HOST, reusePort: true });
      } catch (error) {
        if (!isUnsupported(error)) throw error;
        console.log(`reusePort is not supported on ${process.platform}; skipping this example`);
        return;
      }
      const port = reservation[0]!.localAddress.port;
      const count = os.availableParallelism();
      console.log(`${elapsed()} parent ${process.pid}: port ${port}; forking ${count} servers`);
      try {
        for (let i = 0; i < count; i++) children.push(forkChild(port));
        await failAfter(10_000, async () => {
          for (const child of children) {
            const message = await waitForMessage(child, "listening");
            if (message.type === "failed") throw new Error(`child failed: ${message.message}`);
            console.log(`${elapsed()} child ${message.pid} is listening on ${HOST}:${port}`);
          }
        });
      } finally {
        // Every child listens (or we are giving up): the port needs holding no more.
        for (const listener of reservation) await acloseForcefully(listener);
      }

      const served = new Map<number, number>();
      await failAfter(10_000, () =>
        openNursery(async (nursery) => {
          for (let i = 0; i < CLIENTS; i++) {
            nursery.startSoon(async () => {
              const pid = await askPid(port);
              served.set(pid, (served.get(pid) ?? 0) + 1);
            });
          }
        }),
      );
      console.log(`${elapsed()} ${CLIENTS} connections, served by:`);
      for (const [pid, n] of [...served].sort((a, b) => a[0] - b[0])) {
        console.log(`    pid ${pid}: ${n} connection${n === 1 ? "" : "s"}`);
      }

      for (const child of children) child.process.send({ type: "stop" } satisfies StopMessage);
      await failAfter(10_000, async () => {
        for (const child of children) {
          const stopped = await waitForMessage(child, "stopped");
          const code = await cancellable(child.exited);
          const servedBy = stopped.type === "stopped" ? stopped.served : "?";
          console.log(
            `${elapsed()} child ${child.process.pid} stopped after serving ${servedBy}, exit code ${code}`,
          );
        }
      });
    });
  } finally {
    // Whatever happened above, no child outlives the parent.
    const running = children.filter(
      (c) => c.process.exitCode === null && c.process.signalCode === null,
    );
    for (const child of running) {
      console.log(`killing child ${child.process.pid}`);
      child.process.kill("SIGKILL");
    }
    if (running.length > 0) {
      await run(() =>
        moveOnAfter(2000, () => cancellable(Promise.all(running.map((c) => c.exited)))),
      );
    }
  }
}

if (import.meta.main) {
  const i = process.argv.indexOf(CHILD_ARG);
  if (i >= 0) await childMain(Number(process.argv[i + 1]));
  else await main();
}
