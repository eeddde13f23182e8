/**
 * The module the pool's worker threads run for every `runInWorker` call: it
 * imports the caller's module (once per worker), calls the export with the
 * arguments spread, and hands back its result, or what it threw as a record
 * the calling side turns back into an error (see worker-errors.ts).
 *
 * It runs in a worker thread, not in a weft run: it imports nothing of weft's
 * runtime, so a worker starts without loading it.
 */
import { describeThrown } from "./worker-errors.ts";

/** What the calling side sends: module URL, export name, arguments. */
export type WorkerCall = readonly [moduleUrl: string, exportName: string, args: readonly unknown[]];

type Callable = (...args: unknown[]) => unknown;

/** This worker's functions by `moduleUrl#exportName`: import and lookup happen once. */
const loaded = new Map<string, Callable>();

/** Tinypool's registered symbol: a result made by `Tinypool.move()` carries it. */
const TRANSFERABLE = Symbol.for("Tinypool.transferable");

function describeValue(value: unknown): string {
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value}`;
}

async function load(moduleUrl: string, exportName: string): Promise<Callable> {
  const key = `${moduleUrl}#${exportName}`;
  const known = loaded.get(key);
  if (known !== undefined) return known;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`runInWorker: could not import ${moduleUrl} in a worker thread`, {
      cause: error,
    });
  }
  if (!(exportName in namespace)) {
    throw new TypeError(`runInWorker: ${moduleUrl} has no export named "${exportName}"`);
  }
  const fn = namespace[exportName];
  if (typeof fn !== "function") {
    throw new TypeError(
      `runInWorker: export "${exportName}" of ${moduleUrl} is ${describeValue(fn)}, not a function`,
    );
  }
  loaded.set(key, fn as Callable);
  return fn as Callable;
}

/**
 * Runs one call. Tinypool passes the call as its single argument and sends
 * back what this returns; what this throws reaches the calling side as the
 * pool's rejection.
 */
export async function callExport(call: WorkerCall): Promise<unknown> {
  const [moduleUrl, exportName, args] = call;
  try {
    const fn = await load(moduleUrl, exportName);
    const result = await fn(...args);
    if (typeof result === "object" && result !== null && TRANSFERABLE in result) {
      // Made by Tinypool.move() of whichever copy of tinypool the module
      // imported: mark it movable for the copy that runs this worker, or it
      // would be cloned (as an empty object) instead of transferred.
      const { Tinypool } = await import("tinypool");
      return Tinypool.move(result as unknown as Parameters<typeof Tinypool.move>[0]);
    }
    return result;
  } catch (error) {
    throw describeThrown(error);
  }
}
