// expect:
// The same kind of code done right: nothing to report.
import { Event, Lock, moveOnAfter, sleep } from "@weft/core";

const lock = new Lock();
const ready = new Event();

export async function deposit(apply: () => void): Promise<void> {
  await lock.acquire();
  try {
    apply();
  } finally {
    lock.release();
  }
}

export async function waitUntilReady(): Promise<void> {
  await moveOnAfter(1000, () => ready.wait());
  await sleep(1);
}
