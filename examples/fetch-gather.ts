// Ports the `asyncio.gather` example of seeds 000 and 004: `fetch_data(url)`
// is simulated with a one-second sleep, two URLs are fetched concurrently and
// the results come back in argument order. weft has no `gather` yet, so a
// small `gatherAll` builds it from a nursery. The elapsed time (~1 s, not 2 s)
// shows that the two fetches overlapped.
import { openNursery, run, sleep } from "@weft/core";

type Thunks = readonly (() => Promise<unknown>)[];
type Results<T extends Thunks> = { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> };

/**
 * Runs every function as a task of one nursery and resolves with their
 * results in argument order, once all have finished. The first failure
 * cancels the others; one failure is rethrown as itself, several as an
 * `ExceptionGroup` (hence `strictErrors: false`).
 *
 * TODO: @weft/core's `gather` (a later issue) will replace this helper; the
 * signature is the same, so callers only change their import.
 */
export async function gatherAll<T extends Thunks>(...fns: T): Promise<Results<T>> {
  const results = new Array<unknown>(fns.length);
  await openNursery(
    async (nursery) => {
      fns.forEach((fn, index) => {
        // Each task stores its own slot, so completion order does not matter.
        nursery.startSoon(
          async () => {
            results[index] = await fn();
          },
          { name: `gatherAll[${index}]` },
        );
      });
    },
    { strictErrors: false },
  );
  return results as Results<T>;
}

async function fetchData(url: string): Promise<string> {
  await sleep(1000); // simulate network latency
  console.log(`Fetched data from ${url}`);
  return `Data from ${url}`;
}

export async function main(): Promise<void> {
  const start = performance.now();
  const results = await run(() =>
    gatherAll(
      () => fetchData("http://example.com"),
      () => fetchData("http://google.com"),
    ),
  );
  console.log(results);
  const elapsed = (performance.now() - start) / 1000;
  console.log(
    `Fetched 2 URLs in ${elapsed.toFixed(2)} seconds (one fetch takes 1 s: they ran concurrently).`,
  );
}

if (import.meta.main) await main();
