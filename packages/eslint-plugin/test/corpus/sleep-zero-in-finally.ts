// expect: weft/no-sleep-zero, weft/no-unbounded-cleanup
// "Let the other tasks see the close" with sleep(0) in finally.
import { sleep } from "@weft/core";

declare function work(): Promise<void>;

export async function task(): Promise<void> {
  try {
    await work();
  } finally {
    await sleep(0);
  }
}
