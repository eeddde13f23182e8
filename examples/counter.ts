// Ports seed 001's two counters: the synchronous `SumanNumberCounter` (print
// "One", block for a second, print "Two", three times over: ~3 s) against the
// asynchronous `SumanAsycCounter` (three counters that each print their count
// and sleep a second, run concurrently in a nursery: ~1 s).
import { openNursery, run, sleep } from "@weft/core";

const blocker = new Int32Array(new SharedArrayBuffer(4));

/**
 * Python's `time.sleep()`: really blocks the thread. `Atomics.wait` waits for
 * a notification on `blocker[0]` that never comes, so it returns after `ms`;
 * meanwhile nothing else in the process (timers, I/O, other tasks) can run.
 */
function blockingSleep(ms: number): void {
  Atomics.wait(blocker, 0, 0, ms);
}

class SumanNumberCounter {
  count(): void {
    console.log("One");
    blockingSleep(1000);
    console.log("Two");
  }
}

class SumanAsyncCounter {
  count = 1;

  async printAndWait(): Promise<void> {
    console.log(this.count);
    this.count += 1;
    await sleep(1000); // a checkpoint: the other counters run meanwhile
  }
}

/** The synchronous version: no weft at all, the calls run one after another. */
export function syncMain(): void {
  const start = performance.now();
  const counter = new SumanNumberCounter();
  for (let i = 0; i < 3; i++) counter.count();
  const elapsed = (performance.now() - start) / 1000;
  console.log(`Code executed in ${elapsed.toFixed(2)} seconds.`);
}

/** The asynchronous version: three counters as tasks of one nursery. */
export async function asyncMain(): Promise<void> {
  const start = performance.now();
  await run(async () => {
    await openNursery(async (nursery) => {
      for (let i = 0; i < 3; i++) {
        const counter = new SumanAsyncCounter();
        nursery.startSoon(() => counter.printAndWait(), { name: `counter ${i + 1}` });
      }
    }); // every counter has finished here
  });
  const elapsed = (performance.now() - start) / 1000;
  console.log(`Code executed in ${elapsed.toFixed(2)} seconds.`);
}

export async function main(): Promise<void> {
  console.log("-- synchronous counter (blocking sleep, one call after another):");
  syncMain();
  console.log("-- asynchronous counters (three tasks in a nursery):");
  await asyncMain();
}

if (import.meta.main) await main();
