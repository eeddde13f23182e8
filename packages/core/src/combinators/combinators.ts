import { Err, Ok, type Result } from "ts-results-es";
import { isCancelled } from "../errors/cancelled.ts";
import {
  checkCount,
  checkFunction,
  checkOptionsObject,
  isRevokedProxy,
} from "../errors/validate.ts";
import { checkpoint, refusalOf } from "../kernel/checkpoints.ts";
import { openNursery } from "../scopes/nursery.ts";
import { Lock } from "../sync/lock.ts";

// The helpers run their children in a non-strict nursery: the first failure
// cancels the others, and a single failure comes out as itself, several as an
// ExceptionGroup. The nursery waits for every child, so nothing outlives them.

/**
 * Runs every function concurrently and resolves with their results, in order
 * (a typed tuple), once all have finished — asyncio's `gather`, structured.
 *
 * ```ts
 * const [user, posts] = await gather(() => getUser(id), () => getPosts(id));
 * ``` *
 * @typeParam T - The functions' tuple type: the result is the tuple of what each resolves to.
 */
export function gather<T extends readonly (() => Promise<unknown>)[]>(
  ...fns: T
): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  let refused: Promise<never> | null;
  try {
    for (const [i, fn] of fns.entries()) checkFunction(`fns[${i}]`, fn);
    refused = refusalOf("gather()");
  } catch (error) {
    return Promise.reject(error);
  }
  if (refused !== null) return refused;
  const results = new Array<unknown>(fns.length);
  return openNursery(
    async (nursery) => {
      fns.forEach((fn, i) => {
        nursery.startSoon(
          async () => {
            results[i] = await fn();
          },
          { name: fn.name || `gather[${i}]` },
        );
      });
    },
    { strictErrors: false },
  ).then(() => results as { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> });
}

/**
 * Runs the functions concurrently; the first to finish wins: its value is
 * returned once the others have been cancelled and have finished. If one fails
 * before any wins, the others are cancelled and the error is thrown.
 */
export function race<T>(...fns: (() => Promise<T>)[]): Promise<T> {
  let refused: Promise<never> | null;
  try {
    if (fns.length === 0) throw new RangeError("race() needs at least one function in fns");
    for (const [i, fn] of fns.entries()) checkFunction(`fns[${i}]`, fn);
    refused = refusalOf("race()");
  } catch (error) {
    return Promise.reject(error);
  }
  if (refused !== null) return refused;
  let won = false;
  let winner: T | undefined;
  return openNursery(
    async (nursery) => {
      fns.forEach((fn, i) => {
        nursery.startSoon(
          async () => {
            const value = await fn();
            if (!won) {
              won = true;
              winner = value;
              nursery.cancelScope.cancel("race won");
            }
          },
          { name: fn.name || `race[${i}]` },
        );
      });
    },
    { strictErrors: false },
  ).then(() => {
    if (!won) throw new Error("race(): no function finished (were they all cancelled?)");
    return winner as T;
  });
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return value !== null && typeof value === "object" && Symbol.asyncIterator in value;
}

function isIterable<T>(value: unknown): value is Iterable<T> {
  return (
    value !== null &&
    value !== undefined &&
    typeof (value as Iterable<T>)[Symbol.iterator] === "function"
  );
}

/**
 * Maps `fn` over `items` with at most `limit` calls running at once, and
 * resolves with the results in the order of the items (like p-limit, or
 * asyncio's bounded gather). Items may come from an async iterable; it is read
 * only as fast as calls can start.
 */
export function mapConcurrent<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => Promise<R>,
  options: { limit: number },
): Promise<R[]> {
  try {
    return mapConcurrentOrThrow(items, fn, options);
  } catch (error) {
    return Promise.reject(error); // a bad argument, or outside run()
  }
}

function mapConcurrentOrThrow<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => Promise<R>,
  options: { limit: number },
): Promise<R[]> {
  if (isRevokedProxy(items) || (!isIterable(items) && !isAsyncIterable(items))) {
    throw new TypeError("items must be an iterable or an async iterable");
  }
  checkFunction("fn", fn);
  checkOptionsObject("options", options);
  const limit = options?.limit;
  checkCount("options.limit", limit, { min: 1, infinity: true });
  const refused = refusalOf("mapConcurrent()");
  if (refused !== null) return refused;
  const results: R[] = [];
  const asyncSource = isAsyncIterable<T>(items);
  const iterator: Iterator<T> | AsyncIterator<T> = asyncSource
    ? items[Symbol.asyncIterator]()
    : (items as Iterable<T>)[Symbol.iterator]();
  // Workers, not a task per item: each worker takes the next item only when it
  // is free to start it (so the source is read no faster than calls can
  // start), and a new worker is started only when one has just taken an item
  // and there are fewer than `limit`. An async source is read by one worker at
  // a time.
  const reading = asyncSource ? new Lock() : null;
  let index = 0;
  let exhausted = false;
  let workers = 0;
  return openNursery(
    async (nursery) => {
      const worker = async (): Promise<void> => {
        for (let first = true; ; first = false) {
          // A schedule point between items, also after a call that never yields.
          // (Not before a worker's first item: like a task started for it, a
          // new worker calls fn even if the nursery was just cancelled.)
          if (!first) await checkpoint();
          if (exhausted) return;
          let result: IteratorResult<T>;
          try {
            if (reading === null) {
              result = (iterator as Iterator<T>).next();
            } else {
              await reading.acquire();
              try {
                if (exhausted) return;
                result = await iterator.next();
              } finally {
                reading.release();
              }
            }
          } catch (error) {
            exhausted = true; // a source that threw is finished
            throw error;
          }
          if (result.done === true) {
            exhausted = true;
            return;
          }
          const i = index++;
          if (workers < limit) {
            workers++;
            nursery.startSoon(worker, { name: "mapConcurrent worker" });
          }
          results[i] = await fn(result.value, i);
        }
      };
      workers = 1;
      nursery.startSoon(worker, { name: "mapConcurrent worker" });
    },
    { strictErrors: false },
  )
    .finally(async () => {
      // Stopped early (an error or a cancellation): let the source clean up.
      if (!exhausted) {
        exhausted = true;
        await iterator.return?.();
      }
    })
    .then(() => results);
}

/**
 * Runs `fn` and captures its outcome as a `Result` (ts-results-es): `Ok(value)`
 * or `Err(error)`. A `Cancelled` is not captured: it propagates, so that the
 * cancel scope it belongs to still catches it.
 */
export function capture<T>(fn: () => Promise<T>): Promise<Result<T, unknown>> {
  try {
    checkFunction("fn", fn);
  } catch (error) {
    return Promise.reject(error);
  }
  return captureChecked(fn);
}

async function captureChecked<T>(fn: () => Promise<T>): Promise<Result<T, unknown>> {
  try {
    return Ok(await fn());
  } catch (error) {
    if (isCancelled(error)) throw error;
    return Err(error);
  }
}
