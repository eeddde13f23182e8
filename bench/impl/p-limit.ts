/**
 * The p-limit implementation (map-limit only): p-limit@7's `limit.map`, its
 * documented shorthand for `Promise.all(items.map((item) => limit(fn, item)))`
 * — the usual way plain async/await code bounds concurrency.
 */
import pLimit from "p-limit";
import type { Implementation, RunResult, Size } from "../scenario.ts";
import { assert } from "../support/check.ts";
import { mapItem } from "../support/map-item.ts";

async function mapLimit({ n, m }: Size): Promise<RunResult> {
  const items = Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const limit = pLimit(m);
  const results = await limit.map(items, mapItem);
  const measured = performance.now() - t0;
  let check = 0;
  for (let i = 0; i < results.length; i++) {
    assert(results[i] === i * 2, `p-limit map-limit: result ${i} is ${results[i]}`);
    check += results[i]!;
  }
  return { check, measured };
}

/** The p-limit runners (see the file comment). */
export const scenarios: Implementation = { "map-limit": mapLimit };
