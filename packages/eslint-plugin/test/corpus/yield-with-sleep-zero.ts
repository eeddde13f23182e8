// expect: weft/no-sleep-zero
// Yielding to other tasks in a hot loop with sleep(0) where checkpoint() is meant.
import { sleep } from "@weft/core";

export async function sum(values: number[]): Promise<number> {
  let total = 0;
  for (const [index, value] of values.entries()) {
    total += value;
    if (index % 1000 === 0) await sleep(0);
  }
  return total;
}
