/**
 * Debug mode (`run(main, { debug: true })` or `WEFT_DEBUG=1`): each task
 * remembers where it was spawned and by which task, and an error a task
 * raises gets that trail appended to its stack — "spawned by task 'x' at …",
 * up to the run's main task — as Kotlin's coroutine debug mode does. Without
 * it a stack ends at the kernel's frame that started the task, which says
 * nothing about why the task exists. Off by default: capturing a stack costs
 * microseconds per spawn.
 */
import { isInternalFrame } from "../errors/internal-frames.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { TaskImpl } from "../kernel/task.ts";

/** Where a task was spawned, and by which task. */
interface SpawnSite {
  /** The spawned task's name. */
  readonly task: string;
  /** The spawning task's name; `null` for the main task, started by run(). */
  readonly spawner: string | null;
  /** Captured at the spawn; its stack is formatted only if an error needs it. */
  readonly site: Error;
}

const debugRuns = new WeakSet<Kernel>();
// Per task, its own site and its ancestors' (at most SITES_SHOWN): copies of
// names and sites, never tasks, so that a long chain of tasks each spawning the
// next and exiting keeps no more than SITES_SHOWN sites alive.
const spawnTrails = new WeakMap<TaskImpl, readonly SpawnSite[]>();
const trailed = new WeakSet<object>();

/** How many frames of each spawn site a trail shows, and how many spawns up it goes. */
const FRAMES_PER_SITE = 4;
const SITES_SHOWN = 8;

/** Whether `WEFT_DEBUG` asks for debug mode (set, and not "0" or "false"). */
export function debugFromEnvironment(): boolean {
  const value = process.env.WEFT_DEBUG;
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/** @internal Turns debug mode on for the run of `kernel`. */
export function enableSpawnTrails(kernel: Kernel): void {
  debugRuns.add(kernel);
}

/** @internal Whether the run of `kernel` records spawn sites (read once per nursery). */
export function recordsSpawnTrails(kernel: Kernel): boolean {
  return debugRuns.has(kernel);
}

/**
 * @internal Remembers that `spawner` spawned `task` at `site` (by default
 * here; the main task's site is the call of run()).
 */
export function recordSpawnSite(
  task: TaskImpl,
  spawner: TaskImpl | undefined,
  site: Error = new Error("spawned here"),
): void {
  const own: SpawnSite = {
    task: task.name,
    spawner: spawner === undefined ? null : spawner.name,
    site,
  };
  const above = spawner === undefined ? undefined : spawnTrails.get(spawner);
  spawnTrails.set(task, above === undefined ? [own] : [own, ...above.slice(0, SITES_SHOWN - 1)]);
}

/** The user's frames of a spawn site (weft's own frames say nothing about why the task exists). */
function siteFrames(site: Error): string[] {
  const stack = site.stack ?? "";
  return stack
    .split("\n")
    .filter((line) => line.trimStart().startsWith("at ") && !isInternalFrame(line))
    .slice(0, FRAMES_PER_SITE)
    .map((line) => `    ${line.trimStart()}`);
}

/**
 * @internal Appends to `error.stack` where `task` was spawned, and where its
 * spawner was, and so on up (once per error; errors without a writable
 * string stack are left alone).
 */
export function appendSpawnTrail(error: unknown, task: TaskImpl): void {
  const trail = spawnTrails.get(task);
  if (trail === undefined) return;
  // Reading a stranger's error can throw (a getter, a Proxy): the trail is
  // optional, the error is not.
  try {
    if (!(error instanceof Error) || trailed.has(error)) return;
    const stack = error.stack;
    if (typeof stack !== "string") return;
    const lines: string[] = [];
    for (const entry of trail) {
      const by = entry.spawner === null ? "run()" : `task ${JSON.stringify(entry.spawner)}`;
      lines.push(
        `    task ${JSON.stringify(entry.task)} was spawned by ${by}`,
        ...siteFrames(entry.site),
      );
    }
    trailed.add(error);
    error.stack = `${stack}\n${lines.join("\n")}`;
  } catch {
    // A frozen error, or a stack that cannot be read or written: it keeps its stack.
  }
}
