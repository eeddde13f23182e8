// expect: weft/prefer-event-over-polling
// Waiting for start-up by polling a flag every 10 ms.
import { sleep } from "@weft/core";

let ready = false;

export function markReady(): void {
  ready = true;
}

export async function waitUntilReady(): Promise<void> {
  while (!ready) {
    await sleep(10);
  }
}
