// Ports the `asyncio.gather` example of seeds 000 and 004: `fetch_data(url)`
// is simulated with a one-second sleep, two URLs are fetched concurrently with
// @weft/core's `gather`, and the results come back in argument order. The
// elapsed time (~1 s, not 2 s) shows that the two fetches overlapped. Unlike
// asyncio's, this gather is structured: the first failure cancels the others
// and gather returns only once all of them have finished.
import { gather, run, sleep } from "@weft/core";

async function fetchData(url: string): Promise<string> {
  await sleep(1000); // simulate network latency
  console.log(`Fetched data from ${url}`);
  return `Data from ${url}`;
}

export async function main(): Promise<void> {
  const start = performance.now();
  const results = await run(() =>
    gather(
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
