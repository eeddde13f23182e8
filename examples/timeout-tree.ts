// What weft adds to the seeds' asyncio examples: cancellation of a whole tree
// of tasks. A supervisor runs 3 workers; each worker has its own nursery with
// 2 sub-workers sleeping in loops. Under `moveOnAfter(1000)` the timeout
// cancels every task in the tree, every `finally` runs (with an `await` inside
// a shielded `CancelScope`, so async cleanup works), and no task outlives the
// timeout: a counter of live tasks is 0 afterwards. Then `failAfter` raising
// `TooSlowError`, and a failing worker cancelling its siblings and surfacing
// as an `ExceptionGroup`.
import {
  Cancelled,
  CancelScope,
  currentTime,
  ExceptionGroup,
  failAfter,
  lowlevel,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  TooSlowError,
} from "@weft/core";

/** Tasks of the tree that have started and not yet finished their cleanup. */
let liveTasks = 0;

/** Tasks of the tree that have started and not yet finished their cleanup (0 once it is done). */
export function liveTreeTasks(): number {
  return liveTasks;
}
let sectionStart = 0;

function log(message: string): void {
  const seconds = (currentTime() - sectionStart) / 1000;
  console.log(`  [${seconds.toFixed(2)} s] ${message}`);
}

/** Async cleanup: the task is cancelled, so only a shielded scope lets it await. */
async function cleanUp(ms: number): Promise<void> {
  // For cleanup that must not hang, bound it too: moveOnAfter(ms, fn, { shield: true }).
  await new CancelScope({ shield: true }).run(() => sleep(ms));
}

async function subWorker(name: string, periodMs: number): Promise<void> {
  liveTasks++;
  let ticks = 0;
  try {
    for (;;) {
      await sleep(periodMs); // a checkpoint: this is where the cancellation arrives
      ticks++;
    }
  } finally {
    await cleanUp(20);
    liveTasks--;
    log(`sub-worker ${name} cleaned up after ${ticks} ticks of ${periodMs} ms`);
  }
}

async function worker(id: number): Promise<void> {
  liveTasks++;
  try {
    await openNursery(async (nursery) => {
      nursery.startSoon(() => subWorker(`${id}.1`, 100 + 50 * id), { name: `sub-worker ${id}.1` });
      nursery.startSoon(() => subWorker(`${id}.2`, 130 + 50 * id), { name: `sub-worker ${id}.2` });
    }); // waits for both sub-workers, even while cancelled
  } finally {
    await cleanUp(10);
    liveTasks--;
    log(`worker ${id} cleaned up (its sub-workers were already done)`);
  }
}

/** A supervisor of `workers` workers with 2 looping sub-workers each; runs until cancelled. */
export async function supervisor(workers: number): Promise<void> {
  liveTasks++;
  try {
    await openNursery(async (nursery) => {
      for (let id = 1; id <= workers; id++) {
        nursery.startSoon(() => worker(id), { name: `worker ${id}` });
      }
    });
  } finally {
    liveTasks--;
    log("supervisor cleaned up (last of the tree)");
  }
}

/** The tree of 1 + 3 + 6 tasks under `moveOnAfter`: the timeout cancels all of it. */
export async function moveOnAfterMain(): Promise<void> {
  await run(async () => {
    sectionStart = currentTime();
    console.log("a supervisor, 3 workers and 6 sub-workers under moveOnAfter(1000):");
    let timeout: CancelScope | undefined;
    await moveOnAfter(1000, (scope) => {
      timeout = scope; // kept to ask afterwards whether the deadline cut the body short
      return supervisor(3);
    });
    log(
      `moveOnAfter returned (cancelledCaught: ${timeout?.cancelledCaught}); live tasks of the tree: ${liveTasks}`,
    );
    // The run agrees: only its root task and this main task are alive.
    log(
      `tasks living in the run: ${lowlevel.currentStatistics().tasksLiving} (the root and main tasks)`,
    );
  });
}

/** `failAfter` cancels the same way, then raises `TooSlowError` once the tree has finished. */
export async function failAfterMain(): Promise<void> {
  await run(async () => {
    sectionStart = currentTime();
    console.log("a supervisor with 1 worker under failAfter(400):");
    try {
      await failAfter(400, () => supervisor(1));
      log("finished in time (not expected)");
    } catch (error) {
      if (!(error instanceof TooSlowError)) throw error;
      log(`caught ${error.name}: ${error.message}; live tasks of the tree: ${liveTasks}`);
    }
  });
}

async function steadyWorker(name: string): Promise<void> {
  liveTasks++;
  try {
    for (;;) await sleep(100);
  } catch (error) {
    // Let cancellation through (never swallow it); just show why it came.
    if (error instanceof Cancelled) log(`${name} cancelled (${error.source}): ${error.message}`);
    throw error;
  } finally {
    liveTasks--;
  }
}

async function failingWorker(): Promise<void> {
  liveTasks++;
  try {
    await sleep(300);
    throw new Error("disk full");
  } finally {
    liveTasks--;
  }
}

/** A worker's error cancels its siblings; the nursery raises every error as an `ExceptionGroup`. */
export async function exceptionGroupMain(): Promise<void> {
  await run(async () => {
    sectionStart = currentTime();
    console.log("two looping workers and one that fails after 300 ms, in one nursery:");
    try {
      await openNursery(async (nursery) => {
        nursery.startSoon(() => steadyWorker("worker a"), { name: "worker a" });
        nursery.startSoon(() => steadyWorker("worker b"), { name: "worker b" });
        nursery.startSoon(failingWorker, { name: "worker c" });
      });
    } catch (error) {
      if (!(error instanceof ExceptionGroup)) throw error;
      log(`caught ${error}`);
      for (const leaf of error.leafErrors()) log(`  - ${String(leaf)}`);
      log(`live tasks: ${liveTasks}`);
    }
  });
}

export async function main(): Promise<void> {
  const start = performance.now();
  await moveOnAfterMain();
  await failAfterMain();
  await exceptionGroupMain();
  const elapsed = (performance.now() - start) / 1000;
  console.log(`all three took ${elapsed.toFixed(2)} seconds (timeouts: 1.0 s + 0.4 s + 0.3 s).`);
}

if (import.meta.main) await main();
