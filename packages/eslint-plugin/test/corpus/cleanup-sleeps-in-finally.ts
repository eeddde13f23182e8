// expect: weft/no-unbounded-cleanup
// Cleanup that waits in finally: when the task is cancelled, the sleep is cancelled too.
import { sleep } from "@weft/core";

declare function startJob(): Promise<void>;
declare function flushLogs(): void;

export async function runJob(): Promise<void> {
  try {
    await startJob();
  } finally {
    await sleep(500);
    flushLogs();
  }
}
