/**
 * `run({ dumpTasksOn })`: while the run is active, a process signal (say
 * SIGUSR2) or the abort of an `AbortSignal` (a test's timeout) prints the
 * live task tree to stderr — every task, what it waits on and for how long,
 * its cancel scopes and deadlines — without disturbing the run (asyncio's
 * `python -m asyncio pstree`, Tokio's task dumps).
 */
import type { Kernel } from "../kernel/kernel.ts";

/** Prints `kernel`'s task tree on `trigger` until the returned function is called. */
export function dumpTasksOn(kernel: Kernel, trigger: NodeJS.Signals | AbortSignal): () => void {
  const print = (why: string): void => {
    // A dump must never disturb the run, let alone end the process.
    try {
      const now = Math.round(kernel.clock.currentTime() * 10) / 10;
      process.stderr.write(
        `weft: ${why} — the run's tasks at ${now} ms (run's clock):\n${kernel.dumpTasks()}\n`,
      );
    } catch (error) {
      process.stderr.write(`weft: ${why} — the task tree could not be printed: ${String(error)}\n`);
    }
  };
  if (typeof trigger === "string") {
    const onSignal = (): void => print(trigger);
    process.on(trigger, onSignal);
    return () => {
      process.off(trigger, onSignal);
    };
  }
  const onAbort = (): void => {
    const reason: unknown = trigger.reason;
    const text = reason instanceof Error ? reason.message : String(reason);
    print(text.split("\n")[0]!);
  };
  if (trigger.aborted) return () => {};
  trigger.addEventListener("abort", onAbort, { once: true });
  return () => trigger.removeEventListener("abort", onAbort);
}
