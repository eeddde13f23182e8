/**
 * lowlevel.runOutsideTask: code called through it runs as if outside run(),
 * keeping every other AsyncLocalStorage value.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { lowlevel, run, sleep } from "@weft/core";
import { describe, expect, test } from "vitest";

describe("lowlevel.runOutsideTask", () => {
  test("code run outside the task sees no weft task, but keeps the user's stores", async () => {
    const store = new AsyncLocalStorage<string>();
    const seen = await run(() =>
      store.run("request-1", async () =>
        lowlevel.runOutsideTask(() => {
          let task: string;
          try {
            lowlevel.currentTask();
            task = "a task";
          } catch (error) {
            task = (error as Error).message;
          }
          return { task, value: store.getStore() };
        }),
      ),
    );
    expect(seen.task).toContain("must be called inside weft's run()");
    expect(seen.value).toBe("request-1");
  });

  test("a separate run can be started from inside a task through it", async () => {
    const inner = await run(async () => {
      const promise = lowlevel.runOutsideTask(() =>
        run(async () => {
          await sleep(0);
          return 42;
        }),
      );
      return await lowlevel.runOutsideTask(() => promise);
    });
    expect(inner).toBe(42);
  });

  test("a non-function is a TypeError naming fn", () => {
    expect(() => lowlevel.runOutsideTask(42 as unknown as () => void)).toThrow(TypeError);
    expect(() => lowlevel.runOutsideTask(42 as unknown as () => void)).toThrow(/fn/);
  });
});
