/**
 * The trivial worker function of bench/workers.ts's overhead measurement, in
 * the two shapes the two callers need: `add(a, b)` for weft's `runInWorker`
 * (which spreads its arguments), `addPair([a, b])` for a raw tinypool (whose
 * worker functions take a single argument).
 */

export function add(a: number, b: number): number {
  return a + b;
}

export function addPair([a, b]: readonly [number, number]): number {
  return a + b;
}
