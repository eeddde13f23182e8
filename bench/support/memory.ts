/**
 * Heap measurement for memory-per-task: the live heap after two full
 * collections (the second one collects what the first one's finalizers freed).
 */

/** Collects garbage twice and returns `heapUsed`; needs `node --expose-gc`. */
export function settledHeapUsed(): number {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error("memory-per-task needs node --expose-gc");
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
