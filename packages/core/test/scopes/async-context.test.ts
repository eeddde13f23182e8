import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import { EventEmitterAsyncResource } from "node:events";
import { context, createContextKey } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  checkpoint,
  ExceptionGroup,
  gather,
  generatorChannel,
  lowlevel,
  mapConcurrent,
  openNursery,
  race,
  sleep,
  sleepForever,
  UsageError,
} from "@weft/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";

// SEMANTICS.md, "Async context": a child sees, in every user
// AsyncLocalStorage, the value current where it was spawned; what it sets is
// not seen by its parent or siblings; weft's own task identity is the child's.

const store = new AsyncLocalStorage<string>();

/** What a task sees: the store's value and which task weft thinks it is. */
function seen(): string {
  return `${store.getStore()} as ${lowlevel.currentTask().name}`;
}

describe("async context flows from spawner to child", () => {
  test("a child started inside store.run, or after an await, sees the spawner's value", async () => {
    const values: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        store.run("inside run", () => {
          nursery.startSoon(async function a() {
            values.push(seen());
          });
        });
        await checkpoint();
        await store.run("after an await", async () => {
          await checkpoint();
          nursery.startSoon(async function b() {
            await checkpoint();
            values.push(seen());
          });
        });
      }),
    );
    expect(values).toEqual(["inside run as a", "after an await as b"]);
  });

  test("a value a child sets with enterWith is not seen by its parent or siblings", async () => {
    const values: Record<string, string | undefined> = {};
    await runVirtual(async () => {
      store.enterWith("parent");
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          store.enterWith("child a");
          await checkpoint();
          values.a = store.getStore();
        });
        nursery.startSoon(async () => {
          await checkpoint();
          values.b = store.getStore();
        });
      });
      values.parent = store.getStore();
    });
    expect(values).toEqual({ a: "child a", b: "parent", parent: "parent" });
  });

  test("nursery.start: the child sees the caller's value before and after started(), as itself", async () => {
    const values: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        await store.run("starter", () =>
          nursery.start(async function service(status) {
            values.push(seen());
            status.started();
            await sleep(1);
            values.push(seen());
          }),
        );
        values.push(`${store.getStore()} in the body`);
      }),
    );
    expect(values).toEqual(["starter as service", "undefined in the body", "starter as service"]);
  });

  test("gather, race and mapConcurrent run each function in the caller's context, as its own task", async () => {
    const values: string[] = [];
    await runVirtual(async () => {
      await store.run("gather", () =>
        gather(
          async function g1() {
            values.push(seen());
          },
          async function g2() {
            await sleep(1);
            values.push(seen());
          },
        ),
      );
      await store.run("race", () =>
        race(
          async function winner() {
            values.push(seen());
          },
          async function loser() {
            await sleepForever();
          },
        ),
      );
      await store.run("mapConcurrent", () =>
        mapConcurrent(
          [1, 2, 3],
          async (item) => {
            await sleep(item);
            values.push(`${item}: ${store.getStore()}`);
          },
          { limit: 2 },
        ),
      );
      async function* items() {
        yield 4;
        await sleep(1);
        yield 5;
      }
      await store.run("mapConcurrent, async items", () =>
        mapConcurrent(
          items(),
          async (item) => {
            values.push(`${item}: ${store.getStore()}`);
          },
          { limit: 1 },
        ),
      );
    });
    expect(values).toEqual([
      "gather as g1",
      "gather as g2",
      "race as winner",
      "1: mapConcurrent",
      "2: mapConcurrent",
      "3: mapConcurrent",
      "4: mapConcurrent, async items",
      "5: mapConcurrent, async items",
    ]);
  });

  test("generatorChannel: the generator and the body both see the caller's value", async () => {
    const values: string[] = [];
    await runVirtual(() =>
      store.run("generator", () =>
        generatorChannel(
          async function* numbers() {
            values.push(`source: ${store.getStore()}`);
            yield 1;
          },
          async (receive) => {
            for await (const n of receive) values.push(`body got ${n}: ${store.getStore()}`);
          },
        ),
      ),
    );
    expect(values).toEqual(["source: generator", "body got 1: generator"]);
  });

  test("spawnSystemTask: the system task sees its spawner's value", async () => {
    const values: string[] = [];
    await runVirtual(async () => {
      store.run("system", () => {
        lowlevel.spawnSystemTask(async function background() {
          values.push(seen());
        });
      });
      await sleep(1);
    });
    expect(values).toEqual(["system as background"]);
  });

  describe("OpenTelemetry's context manager", () => {
    const manager = new AsyncLocalStorageContextManager();
    beforeAll(() => {
      context.setGlobalContextManager(manager.enable());
    });
    afterAll(() => {
      context.disable();
    });

    test("a child started inside context.with sees the spawner's OpenTelemetry context", async () => {
      const key = createContextKey("request id");
      const values: unknown[] = [];
      await runVirtual(() =>
        openNursery(async (nursery) => {
          context.with(context.active().setValue(key, "req-1"), () => {
            nursery.startSoon(async () => {
              await sleep(1);
              values.push(context.active().getValue(key));
            });
          });
          nursery.startSoon(async () => {
            values.push(context.active().getValue(key));
          });
        }),
      );
      expect(values).toEqual([undefined, "req-1"]);
    });
  });
});

// SEMANTICS.md, "Async context": whatever user code does with async context,
// a weft operation runs as the right task or rejects with a UsageError the
// caller can see — never an uncaught exception, a hang, or another task's
// wait resumed.
describe("task identity that context tricks cannot confuse", () => {
  test("the issue's snapshot workaround: the child's sleep rejects with a UsageError that reaches run(), nothing escapes", async () => {
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (nursery) => {
          const snap = AsyncLocalStorage.snapshot();
          nursery.startSoon(() => snap(() => sleep(10)));
        }),
      ),
    );
    expect(error).toBeInstanceOf(ExceptionGroup);
    const [leaf] = (error as ExceptionGroup).leafErrors();
    expect(leaf).toBeInstanceOf(UsageError);
    expect((leaf as Error).message).toMatch(/already waiting for a weft operation/);
  });

  test("AsyncResource.bind: a callback bound in one task and called in another is refused, and the caller goes on", async () => {
    const outcomes: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        let bound: (() => Promise<void>) | null = null;
        nursery.startSoon(async function owner() {
          bound = AsyncResource.bind(() => sleep(1));
          await sleep(5);
          outcomes.push("owner done");
        });
        nursery.startSoon(async function caller() {
          await sleep(1);
          const error = await rejection(bound!());
          outcomes.push(`caller: ${(error as Error).name}`);
          await sleep(1);
          outcomes.push(`caller goes on as ${lowlevel.currentTask().name}`);
        });
      }),
    );
    expect(outcomes).toEqual(["caller: UsageError", "caller goes on as caller", "owner done"]);
  });

  test("EventEmitterAsyncResource: a listener runs in the emitter's creator's context; its weft call is refused, and an unhandled refusal fails the run", async () => {
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (nursery) => {
          const emitter = new EventEmitterAsyncResource({ name: "requests" });
          nursery.startSoon(async function listener() {
            emitter.on("request", () => {
              void sleep(1); // not awaited, not handled: it must reach the run
            });
            await sleepForever();
          });
          nursery.startSoon(async function emitterTask() {
            await sleep(1);
            emitter.emit("request");
          });
        }),
      ),
    );
    const leaves = (error as ExceptionGroup).leafErrors();
    expect(leaves).toHaveLength(1);
    expect(leaves[0]).toBeInstanceOf(UsageError);
  });

  test("a callback that fires after its task exited gets a rejection saying so", async () => {
    let late: (() => Promise<void>) | null = null;
    const outcomes: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        nursery.startSoon(async function shortLived() {
          late = AsyncResource.bind(() => sleep(1));
        });
        nursery.startSoon(async () => {
          await sleep(1);
          const error = await rejection(late!());
          outcomes.push(String(error));
        });
      }),
    );
    expect(outcomes).toEqual([expect.stringMatching(/^UsageError: .*which has exited/)]);
  });
});
