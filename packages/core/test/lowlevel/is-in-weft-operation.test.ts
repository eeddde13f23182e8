/** lowlevel.isInWeftOperation: whether a task is suspended in a weft operation. */
import { Event, lowlevel, openNursery, run, sleep, type Task } from "@weft/core";
import { describe, expect, test } from "vitest";

describe("lowlevel.isInWeftOperation", () => {
  test("true while the task waits in a weft operation or is queued to resume; false while it runs, awaits a foreign promise, or has exited", async () => {
    const seen: [string, boolean][] = [];
    await run(async () => {
      let child: Task | undefined;
      const parked = new Event();
      const foreign = Promise.withResolvers<void>();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          child = lowlevel.currentTask();
          seen.push(["running", lowlevel.isInWeftOperation(child)]);
          await parked.wait();
          await foreign.promise; // a non-weft await
          await sleep(1);
        });
        await sleep(1);
        seen.push(["parked in Event.wait", lowlevel.isInWeftOperation(child!)]);
        parked.set();
        seen.push(["woken, not yet resumed", lowlevel.isInWeftOperation(child!)]);
        await sleep(1);
        seen.push(["awaiting a foreign promise", lowlevel.isInWeftOperation(child!)]);
        foreign.resolve();
      });
      seen.push(["exited", lowlevel.isInWeftOperation(child!)]);
    });
    expect(seen).toEqual([
      ["running", false],
      ["parked in Event.wait", true],
      ["woken, not yet resumed", true],
      ["awaiting a foreign promise", false],
      ["exited", false],
    ]);
  });

  test("a TypeError for anything but a weft task", () => {
    expect(() => lowlevel.isInWeftOperation({} as Task)).toThrow(TypeError);
  });
});
