// Ports the greetings of seeds 002 (`greet()` three times with
// `asyncio.gather`) and 003 (`say_hello()` twice). Each task prints its first
// line, sleeps, then prints the second, so the output is every "Hello" line
// and then every "world" line, exactly as in the articles. Here the nursery is
// the `gather`: `openNursery` returns once every task it started has finished.
import { openNursery, run, sleep } from "@weft/core";

async function greet(): Promise<void> {
  console.log("Hello,");
  await sleep(1000);
  console.log("world!");
}

async function sayHello(): Promise<void> {
  console.log("Hello");
  await sleep(1000);
  console.log("World");
}

/** Seed 002: `await asyncio.gather(greet(), greet(), greet())`. */
export async function greetMain(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      nursery.startSoon(greet);
      nursery.startSoon(greet);
      nursery.startSoon(greet);
    });
  });
}

/** Seed 003: `await asyncio.gather(say_hello(), say_hello())`. */
export async function sayHelloMain(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      nursery.startSoon(sayHello);
      nursery.startSoon(sayHello);
    });
  });
}

export async function main(): Promise<void> {
  const start = performance.now();
  await greetMain();
  await sayHelloMain();
  const elapsed = (performance.now() - start) / 1000;
  console.log(
    `Both programs took ${elapsed.toFixed(2)} seconds (1 s each: the greetings overlapped).`,
  );
}

if (import.meta.main) await main();
