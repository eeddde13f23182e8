// expect: weft/no-swallowed-cancellation
// A retry loop that catches everything, Cancelled included: the task can never be cancelled.
import { sleep } from "@weft/core";

declare function connect(host: string): Promise<void>;

export async function connectWithRetry(host: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await connect(host);
      await sleep(100);
      return;
    } catch (error) {
      console.warn(`attempt ${attempt} failed`, error);
    }
  }
}
