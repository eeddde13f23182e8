import { lowlevel, openNursery, run } from "@weft/core";
import { describe, expect, test } from "vitest";

describe("lowlevel.RunVar", () => {
  test("one value per run: concurrent runs do not see each other's", async () => {
    const v = new lowlevel.RunVar<string>("v", "default");
    const inRun = (value: string) =>
      run(async () => {
        expect(v.get()).toBe("default");
        v.set(value);
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => expect(v.get()).toBe(value)); // any task of the run
        });
        return v.get();
      });
    expect(await Promise.all([inRun("a"), inRun("b")])).toEqual(["a", "b"]);
  });

  test("reset restores the default; without a default, get throws naming the variable", async () => {
    const v = new lowlevel.RunVar<number>("counter");
    await run(async () => {
      expect(() => v.get()).toThrow(/RunVar "counter" has no value in this run/);
      v.set(1);
      expect(v.get()).toBe(1);
      v.reset();
      expect(() => v.get()).toThrow(/no value/);
    });
  });

  test("outside a run it throws; a name must be a string", () => {
    const v = new lowlevel.RunVar("v", 0);
    expect(() => v.get()).toThrow(/RunVar.get\(\) must be called inside weft's run/);
    expect(() => v.set(1)).toThrow(/RunVar.set\(\)/);
    expect(() => new lowlevel.RunVar(3 as unknown as string)).toThrow(TypeError);
  });
});
