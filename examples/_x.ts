import { AsyncResource } from "node:async_hooks";
import { currentTime, openNursery, run, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";

await run(
  () =>
    openNursery(async (nursery) => {
      let bound: (() => Promise<void>) | null = null;
      nursery.startSoon(async function owner() {
        bound = AsyncResource.bind(() => sleep(1));
        await sleep(5);
        console.log("owner done", currentTime());
      });
      nursery.startSoon(async function caller() {
        await sleep(1);
        console.log("caller before", currentTime());
        const e = await bound!().catch((e) => e);
        console.log("caller got", String(e).slice(0, 60), currentTime());
        await sleep(1);
        console.log("caller after", currentTime());
      });
    }),
  { clock: new MockClock({ autojumpThreshold: 0 }) },
);
