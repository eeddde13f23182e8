// Ports seed 000's ThreadPoolExecutor for CPU-bound work: counting the primes
// below 3,000,000 is split into chunks, each one a call of countPrimes() in a
// worker thread (runInWorker, here through a typed workerFunction), at most
// `workers` at a time (a CapacityLimiter); a progress bar advances as chunks
// finish. Once with one worker, once with one per CPU, for the speed-up. Then
// a bigger count cut short by moveOnAfter: the calls in progress are
// cancelled and their worker threads terminated, so the CPU work really stops
// (the process's CPU time barely moves afterwards), and no worker thread is
// left once run() has returned.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { availableParallelism } from "node:os";
import {
  CapacityLimiter,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  workerFunction,
} from "@weft/core";
import type * as job from "./cpu-workers-job.ts";

const JOB = new URL("./cpu-workers-job.ts", import.meta.url);

function progressBar(done: number, total: number): string {
  const width = 20;
  const filled = Math.round((width * done) / total);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} chunks`;
}

interface Count {
  primes: number;
  chunksDone: number;
}

/**
 * Counts the primes below `limit` in `chunks` calls, `workers` at a time,
 * printing a progress bar line as each chunk finishes. `count` is updated as
 * chunks finish, so a caller that cuts this short still sees how far it got.
 */
async function countPrimesInWorkers(
  limit: number,
  chunks: number,
  workers: number,
  count: Count,
): Promise<void> {
  const countPrimes = workerFunction<typeof job.countPrimes>(JOB, "countPrimes", {
    limiter: new CapacityLimiter(workers),
  });
  const size = Math.ceil(limit / chunks);
  await openNursery(async (nursery) => {
    for (let i = 0; i < chunks; i++) {
      nursery.startSoon(async () => {
        const primes = await countPrimes(i * size, Math.min(limit, (i + 1) * size));
        count.primes += primes; // not `count.primes += await ...`: that reads count.primes before awaiting
        count.chunksDone++;
        console.log(`  ${progressBar(count.chunksDone, chunks)}`);
      });
    }
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function timedCount(workers: number): Promise<number> {
  const limit = 3_000_000;
  console.log(
    `-- primes below ${limit.toLocaleString("en-US")} with ${plural(workers, "worker")}:`,
  );
  const count: Count = { primes: 0, chunksDone: 0 };
  const start = performance.now();
  await countPrimesInWorkers(limit, 10, workers, count);
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `${plural(workers, "worker")}: ${count.primes} primes below ${limit.toLocaleString("en-US")} in ${seconds.toFixed(2)} s`,
  );
  return seconds;
}

/** Milliseconds of CPU time the whole process (every thread) has used. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function cutShort(workers: number): Promise<void> {
  const limit = 30_000_000;
  const timeoutMs = 200;
  console.log(
    `-- primes below ${limit.toLocaleString("en-US")} with ${plural(workers, "worker")}, cut short by moveOnAfter(${timeoutMs}):`,
  );
  const count: Count = { primes: 0, chunksDone: 0 };
  let cancelledChunks = 0;
  await moveOnAfter(timeoutMs, async () => {
    try {
      await countPrimesInWorkers(limit, 40, workers, count);
    } catch (error) {
      if (isCancelled(error)) cancelledChunks = 40 - count.chunksDone;
      throw error;
    }
  });
  console.log(
    `cut short after ${timeoutMs} ms: ${count.chunksDone} of 40 chunks counted, ${cancelledChunks} cancelled ` +
      `(the ${Math.min(workers, cancelledChunks)} in progress had their worker threads terminated)`,
  );
  // Had the cancelled calls been merely abandoned, their workers would go on
  // counting: `workers` cores busy for the next 200 ms.
  const cpuBefore = cpuMs();
  await sleep(200);
  console.log(
    `CPU time the process used in the 200 ms after the timeout: ${Math.round(cpuMs() - cpuBefore)} ms`,
  );
}

export async function main(): Promise<void> {
  // Every worker thread the process starts, observed through Node's diagnostics channel.
  let started = 0;
  let exited = 0;
  const onWorker = (message: unknown) => {
    started++;
    (message as { worker: import("node:worker_threads").Worker }).worker.once("exit", () => {
      exited++;
    });
  };
  subscribe("worker_threads", onWorker);
  try {
    const cpus = availableParallelism();
    await run(async () => {
      const one = await timedCount(1);
      const all = await timedCount(cpus);
      console.log(`speed-up with ${plural(cpus, "worker")}: ${(one / all).toFixed(2)}x`);
      await cutShort(cpus);
    });
    console.log(
      `worker threads started: ${started}, still running after run() returned: ${started - exited}`,
    );
  } finally {
    unsubscribe("worker_threads", onWorker);
  }
}

if (import.meta.main) await main();
