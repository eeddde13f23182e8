/**
 * map-limit's per-item work, the same in every implementation: wait for one
 * turn of the event loop (`setImmediate`, the cheapest real asynchronous Node
 * operation, standing in for the I/O a mapped function would do), then return
 * `i * 2`. A microtask (`await null`) would not do: no limiter is needed for
 * work that never leaves the microtask queue, and it would measure the limiter
 * against nothing.
 */

/** One event-loop turn, as a promise (what the item awaits). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The item function every map-limit implementation maps: `i * 2` after one loop turn. */
export async function mapItem(i: number): Promise<number> {
  await nextTurn();
  return i * 2;
}
