import type { WaitOptions } from "./kernel.ts";
import { type TaskImpl, TaskState } from "./task.ts";

/** What a wait is for, in words ("" when it does not say). */
export function describeWait(options: WaitOptions | undefined): string {
  const what = options?.waitingFor;
  return (typeof what === "function" ? what() : what) ?? "";
}

/** What a task is doing, in a few words. */
function describeState(task: TaskImpl): string {
  switch (task.state) {
    case TaskState.RUNNABLE:
      return "runnable";
    case TaskState.RUNNING:
      return "running";
    case TaskState.FOREIGN:
      return "awaiting a non-weft promise";
    case TaskState.PARKED: {
      const text = describeWait(task.waitOptions);
      return `blocked${text === "" ? "" : ` in ${text}`}`;
    }
    default:
      return "exited";
  }
}

/**
 * The tree of tasks under `root`, one line each with what it is doing — the
 * body of deadlock reports and of `lowlevel.dumpTasks()`.
 */
export function describeTaskTree(root: TaskImpl): string {
  const lines: string[] = [];
  const visit = (task: TaskImpl, depth: number): void => {
    lines.push(`${"  ".repeat(depth)}- task ${JSON.stringify(task.name)}: ${describeState(task)}`);
    for (const nursery of task.childNurseries) {
      for (const child of nursery.childTasks) visit(child as TaskImpl, depth + 1);
    }
  };
  visit(root, 0);
  return lines.join("\n");
}
