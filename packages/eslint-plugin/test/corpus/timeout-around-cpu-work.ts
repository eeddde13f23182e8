// expect: weft/no-checkpoint-free-scope
// A report builder "bounded" by a timeout: the body never awaits, so the
// timeout can never fire — cancellation only arrives at a checkpoint, and
// this body has none. It runs to the end however long it takes.
import { moveOnAfter } from "@weft/core";

function score(row: number): number {
  let total = 0;
  for (let i = 0; i < 10_000; i++) total += Math.sqrt(row * i);
  return total;
}

export async function buildReport(rows: number[]): Promise<number[] | undefined> {
  return moveOnAfter(500, async () => {
    const scores: number[] = [];
    for (const row of rows) scores.push(score(row));
    return scores;
  });
}
