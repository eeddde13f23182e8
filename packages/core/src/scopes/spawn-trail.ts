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

interface SpawnSite {
  /** The task that called startSoon/start (`undefined` for the main task, started by run()). */
  readonly spawner: TaskImpl | undefined;
  /** Captured at the spawn; its stack is formatted only if an error needs it. */
  readonly site: Error;
}

const debugRuns = new WeakSet<Kernel>();
const spawnSites = new WeakMap<TaskImpl, SpawnSite>();
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
  spawnSites.set(task, { spawner, site });
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
  if (!(error instanceof Error) || trailed.has(error) || !spawnSites.has(task)) return;
  const stack = error.stack;
  if (typeof stack !== "string") return;
  const lines: string[] = [];
  let current: TaskImpl | undefined = task;
  for (let shown = 0; current !== undefined && shown < SITES_SHOWN; shown++) {
    const entry = spawnSites.get(current);
    if (entry === undefined) break;
    const by = entry.spawner === undefined ? "run()" : `task ${JSON.stringify(entry.spawner.name)}`;
    lines.push(
      `    task ${JSON.stringify(current.name)} was spawned by ${by}`,
      ...siteFrames(entry.site),
    );
    current = entry.spawner;
  }
  trailed.add(error);
  try {
    error.stack = `${stack}\n${lines.join("\n")}`;
  } catch {
    // A frozen error, or a stack that is a getter only: it keeps its stack.
  }
}
