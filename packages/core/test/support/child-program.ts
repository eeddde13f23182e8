/** Running a Node program in a child process, for behaviour that needs its own process (real signals, Node flags). */
import { spawn } from "node:child_process";

/** How a child program ended, with everything it printed. */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `node` with `args` (add `--conditions=weft-source` to load weft
 * from its sources); it is killed when the test ends, if still running.
 */
export function startProgram(args: readonly string[], onTestFinished: (fn: () => void) => void) {
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; count: number; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (stdout.split(w.text).length - 1 >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    check();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const ended = new Promise<Ended>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    /** Resolves once stdout has shown `text` `count` times. */
    printed(text: string, count = 1): Promise<void> {
      return new Promise((resolve, reject) => {
        waiters.push({ text, count, resolve });
        check();
        ended.then(() => reject(new Error(`ended without printing ${text}: ${stdout}${stderr}`)));
      });
    },
    send: (signal: NodeJS.Signals) => child.kill(signal),
    ended,
  };
}
