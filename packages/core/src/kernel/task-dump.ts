import type { CancelStatus } from "./cancel-status.ts";
import type { WaitOptions } from "./kernel.ts";
import { type TaskImpl, TaskState } from "./task.ts";

/** What a wait is for, in words ("" when it does not say). */
export function describeWait(options: WaitOptions | undefined): string {
  const what = options?.waitingFor;
  if (typeof what !== "function") return what ?? "";
  // A describer is user code (a ParkingLot's): it must not break a park or a dump.
  try {
    return String(what());
  } catch (error) {
    return `(its description threw: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Milliseconds, rounded for reading (0.1 ms below 10 ms). */
function formatMs(ms: number): string {
  return ms < 10 ? `${Math.round(ms * 10) / 10} ms` : `${Math.round(ms)} ms`;
}

/** What a task is doing, in a few words (blocked ones: on what, and since how long). */
function describeState(task: TaskImpl, now: number): string {
  switch (task.state) {
    case TaskState.RUNNABLE:
      return "runnable";
    case TaskState.RUNNING:
      return "running";
    case TaskState.FOREIGN:
      return "awaiting a non-weft promise";
    case TaskState.PARKED: {
      const text = describeWait(task.waitOptions);
      const since = formatMs(Math.max(0, now - task.parkedAt));
      return `blocked${text === "" ? "" : ` in ${text}`} for ${since}`;
    }
    default:
      return "exited";
  }
}

/** A cancel scope the task is in, in words: its deadline, whether it is shielded or cancelled. */
function describeScope(status: CancelStatus, now: number): string | null {
  const scope = status.scope;
  const parts: string[] = [];
  if (scope.cancelRequested) {
    const reason = scope.cancelReason;
    parts.push(
      `cancelled (${reason?.source ?? "explicit"}${reason?.reason ? `: ${reason.reason}` : ""})`,
    );
  } else if (scope.deadline !== Infinity) {
    parts.push(`deadline at ${formatMs(scope.deadline)} (in ${formatMs(scope.deadline - now)})`);
  }
  if (scope.shield) parts.push("shielded");
  return parts.length === 0 ? null : `cancel scope: ${parts.join(", ")}`;
}

/**
 * The cancel scopes `task` itself entered and is still inside, innermost
 * first: from its status up to the status it started in (its nursery's).
 */
function ownScopes(task: TaskImpl): CancelStatus[] {
  const boundary = (task.parentNursery as { cancelScope?: { status: CancelStatus | null } } | null)
    ?.cancelScope?.status;
  const scopes: CancelStatus[] = [];
  for (let status = task.cancelStatus; status !== null && status !== boundary; ) {
    scopes.push(status);
    status = status.parent;
  }
  return scopes;
}

/**
 * The tree of tasks under `root`, one line each with what it is doing (a
 * blocked task: on what and for how long, on the run's clock `now`), the
 * cancel scopes it is in with their deadlines, and its nurseries with their
 * children — the body of deadlock reports, of `lowlevel.dumpTasks()` and of
 * `run({ dumpTasksOn })`.
 */
export function describeTaskTree(root: TaskImpl, now: number): string {
  const lines: string[] = [];
  const visit = (task: TaskImpl, depth: number): void => {
    const indent = "  ".repeat(depth);
    lines.push(`${indent}- task ${JSON.stringify(task.name)}: ${describeState(task, now)}`);
    for (const status of ownScopes(task)) {
      const text = describeScope(status, now);
      if (text !== null) lines.push(`${indent}    ${text}`);
    }
    for (const nursery of task.childNurseries) {
      for (const child of nursery.childTasks) visit(child as TaskImpl, depth + 1);
    }
  };
  visit(root, 0);
  return lines.join("\n");
}
