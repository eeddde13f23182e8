// expect: weft/no-single-task-nursery
// A nursery opened for a single task: await the function instead.
import { openNursery } from "@weft/core";

declare function syncInventory(): Promise<void>;

export async function nightly(): Promise<void> {
  await openNursery(async (nursery) => {
    nursery.startSoon(syncInventory);
  });
}
