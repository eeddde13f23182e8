import { AsyncLocalStorage } from "node:async_hooks";
import { openNursery, run, sleep } from "@weft/core";

const store = new AsyncLocalStorage<string>();
process.on("uncaughtException", (e) => {
  console.log("UNCAUGHT", e);
});
try {
  await run(async () => {
    await openNursery(async (nursery) => {
      store.run("req-1", () =>
        nursery.startSoon(async () => {
          console.log("child sees", store.getStore());
        }),
      );
      const snap = AsyncLocalStorage.snapshot();
      nursery.startSoon(() =>
        snap(async () => {
          await sleep(10);
          console.log("snap child done");
        }),
      );
    });
  });
  console.log("run ok");
} catch (e) {
  console.log("run rejected:", e);
}
try {
  await run(async () => {
    await openNursery(async (nursery) => {
      nursery.startSoon(async function worker() {
        throw new TypeError("bad thing");
      });
      nursery.startSoon(async function other() {
        await sleep(1);
        throw new RangeError("other thing");
      });
    });
  });
} catch (e) {
  console.log("message:", (e as Error).message);
  console.log("String:", String(e));
  console.error(e);
}
