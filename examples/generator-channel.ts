// Async generators, the weft way (see docs/guides/async-generators.md). A ticker
// generator with its own timeout runs in a task of its own through
// `generatorChannel`; the consumer reads its ticks from a channel. When the
// consumer stops early, the ticker is cancelled and its `finally` (with an
// awaited cleanup) has run before `generatorChannel` returns. Last, the same
// ticker written by hand as a task sending on a memory channel, the shape to
// use when the producer's whole life must sit inside one cancel scope.
import {
  CancelScope,
  currentTime,
  generatorChannel,
  moveOnAfter,
  moveOnAt,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
} from "@weft/core";

let sectionStart = 0;

function log(message: string): void {
  const seconds = (currentTime() - sectionStart) / 1000;
  console.log(`  [${seconds.toFixed(2)} s] ${message}`);
}

/**
 * Yields 1, 2, 3 … every `periodMs` until its own timeout of `forMs` ends it.
 * The timeout wraps each wait, never a `yield`: no cancel scope of the ticker's
 * is open while its consumer's code runs.
 */
export async function* ticker(periodMs: number, forMs: number): AsyncGenerator<number> {
  const deadline = currentTime() + forMs;
  try {
    for (let tick = 1; ; tick++) {
      const woke = await moveOnAt(deadline, async () => {
        await sleep(periodMs);
        return true;
      });
      if (woke === undefined) {
        log("ticker: its timeout passed, no more ticks");
        return;
      }
      yield tick;
    }
  } finally {
    // Async cleanup: cancelled code can only await inside a shielded scope.
    await new CancelScope({ shield: true }).run(() => sleep(20));
    log("ticker: cleaned up");
  }
}

/** Every tick, until the ticker's own timeout ends it (and closes the channel). */
async function allTicks(): Promise<void> {
  await run(async () => {
    sectionStart = currentTime();
    console.log("a ticker (every 100 ms, for 450 ms) through generatorChannel:");
    const count = await generatorChannel(
      () => ticker(100, 450),
      async (ticks) => {
        let received = 0;
        for await (const tick of ticks) {
          log(`consumer: tick ${tick}`);
          received++;
        }
        return received;
      },
    );
    log(`generatorChannel returned ${count} (the channel closed when the ticker finished)`);
  });
}

/** The consumer stops after two ticks: the ticker is cancelled and has cleaned up. */
async function stopEarly(): Promise<void> {
  await run(async () => {
    sectionStart = currentTime();
    console.log("the consumer stops after 2 ticks of the same ticker:");
    await generatorChannel(
      () => ticker(100, 450),
      async (ticks) => {
        for await (const tick of ticks) {
          log(`consumer: tick ${tick}`);
          if (tick === 2) break;
        }
      },
    );
    log("generatorChannel returned (the ticker's cleanup ran first)");
  });
}

/** By hand: a task whose timeout wraps its sends, and a memory channel. */
async function byHand(): Promise<void> {
  await run(async () => {
    sectionStart = currentTime();
    console.log("by hand: a producer task with moveOnAfter(350) around its sends:");
    const [send, receive] = openMemoryChannel<number>(0);
    await openNursery(async (nursery) => {
      nursery.startSoon(
        async () => {
          try {
            await moveOnAfter(350, async () => {
              for (let tick = 1; ; tick++) {
                await sleep(100);
                await send.send(tick); // inside the timeout: a send still waiting when it passes is cancelled
              }
            });
            log("producer: its timeout passed");
          } finally {
            send.close(); // ends the consumer's loop
          }
        },
        { name: "ticker" },
      );
      for await (const tick of receive) log(`consumer: tick ${tick}`);
      log("consumer: the channel closed");
    });
  });
}

export async function main(): Promise<void> {
  const start = performance.now();
  await allTicks();
  await stopEarly();
  await byHand();
  const elapsed = (performance.now() - start) / 1000;
  console.log(`all three took ${elapsed.toFixed(2)} seconds (0.45 s + 0.2 s + 0.35 s of ticking).`);
}

if (import.meta.main) await main();
