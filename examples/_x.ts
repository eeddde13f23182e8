import { openNursery, run, sleep } from "@weft/core";

try {
  await run(
    async function main() {
      await openNursery(async (nursery) => {
        nursery.startSoon(async function fetcher() {
          await openNursery(async (inner) => {
            inner.startSoon(async function parse() {
              await sleep(1);
              throw new TypeError("bad json");
            });
          });
        });
      });
    },
    { debug: true },
  );
} catch (e) {
  console.error((e as any).leafErrors()[0].stack);
}
