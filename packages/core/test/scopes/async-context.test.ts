import { AsyncLocalStorage } from "node:async_hooks";
import { checkpoint, openNursery } from "@weft/core";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";

// SEMANTICS.md, "Async context": a child sees, in every user
// AsyncLocalStorage, the value current where it was spawned; what it sets is
// not seen by its parent or siblings.
describe("async context flows from spawner to child", () => {
  test("a child started inside store.run, or after an await, sees the spawner's value", async () => {
    const store = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        store.run("inside run", () => {
          nursery.startSoon(async () => {
            seen.push(store.getStore());
          });
        });
        await checkpoint();
        await store.run("after an await", async () => {
          await checkpoint();
          nursery.startSoon(async () => {
            await checkpoint();
            seen.push(store.getStore());
          });
        });
      }),
    );
    expect(seen).toEqual(["inside run", "after an await"]);
  });

  test("a value a child sets with enterWith is not seen by its parent or siblings", async () => {
    const store = new AsyncLocalStorage<string>();
    const seen: Record<string, string | undefined> = {};
    await runVirtual(async () => {
      store.enterWith("parent");
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          store.enterWith("child a");
          await checkpoint();
          seen.a = store.getStore();
        });
        nursery.startSoon(async () => {
          await checkpoint();
          seen.b = store.getStore();
        });
      });
      seen.parent = store.getStore();
    });
    expect(seen).toEqual({ a: "child a", b: "parent", parent: "parent" });
  });
});
