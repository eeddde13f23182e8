/**
 * The OpenTelemetry instrument against the real SDK: a span per task whose
 * parent is the span active in the spawner, the task's span active inside it,
 * cancellations as events, failures as ERROR status, filters, virtual time.
 */
import { SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { CancelScope, moveOnAfter, openNursery, run, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";
import {
  ATTR_CANCEL_REASON,
  ATTR_CANCEL_SOURCE,
  ATTR_TASK_ID,
  ATTR_TASK_NAME,
  EVENT_BLOCKED,
  EVENT_CANCELLED,
  openTelemetryInstrument,
} from "@weft/trace/opentelemetry";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parentId, setUpTracing, spanId, type TestTracing } from "./opentelemetry-support.ts";

let tracing: TestTracing;
beforeEach(() => {
  tracing = setUpTracing();
});
afterEach(async () => {
  await tracing.close();
});

/** The names of the finished spans, sorted. */
const spanNames = () =>
  tracing
    .spans()
    .map((s) => s.name)
    .sort();

const cancelEvents = (span: ReadableSpan) =>
  span.events
    .filter((e) => e.name === EVENT_CANCELLED)
    .map((e) => ({
      source: e.attributes?.[ATTR_CANCEL_SOURCE],
      reason: e.attributes?.[ATTR_CANCEL_REASON],
    }));

describe("openTelemetryInstrument", () => {
  test("span parents mirror who spawned whom, through nested nurseries", async () => {
    const instrument = openTelemetryInstrument({ tracer: tracing.tracer });
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              await openNursery(async (inner) => {
                inner.startSoon(() => sleep(1), { name: "a1" });
                inner.startSoon(() => sleep(2), { name: "a2" });
              });
            },
            { name: "a" },
          );
          nursery.startSoon(
            async () => {
              await openNursery(async (inner) => {
                inner.startSoon(
                  async () => {
                    await openNursery(async (innermost) => {
                      innermost.startSoon(() => sleep(1), { name: "b1x" });
                    });
                  },
                  { name: "b1" },
                );
              });
            },
            { name: "b" },
          );
        });
      },
      { instruments: [instrument] },
    );
    const spans = tracing.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(["a", "a1", "a2", "b", "b1", "b1x", "main"]);
    const parentOf = (name: string) => {
      const id = parentId(tracing.span(name));
      return spans.find((s) => spanId(s) === id)?.name;
    };
    expect(parentId(tracing.span("main"))).toBeUndefined();
    expect(parentOf("a")).toBe("main");
    expect(parentOf("b")).toBe("main");
    expect(parentOf("a1")).toBe("a");
    expect(parentOf("a2")).toBe("a");
    expect(parentOf("b1")).toBe("b");
    expect(parentOf("b1x")).toBe("b1");
    // One trace; every span ended after its children.
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(spans.at(-1)!.name).toBe("main");
    // The kernel's root task <init> gets no span: the main task is the top one.
    const a = tracing.span("a");
    expect(a.attributes[ATTR_TASK_NAME]).toBe("a");
    expect(typeof a.attributes[ATTR_TASK_ID]).toBe("number");
    const ids = spans.map((s) => s.attributes[ATTR_TASK_ID]);
    expect(new Set(ids).size).toBe(spans.length);
    expect(spans.every((s) => s.status.code === SpanStatusCode.UNSET)).toBe(true);
  });

  test("a span active around the spawn is the child's parent; the main task's parent is the span around run()", async () => {
    const { tracer } = tracing;
    const instrument = openTelemetryInstrument({ tracer });
    await tracer.startActiveSpan("outside", async (outside) => {
      await run(
        async () => {
          await openNursery(async (nursery) => {
            tracer.startActiveSpan("around spawn", (around) => {
              nursery.startSoon(() => sleep(1), { name: "spawned in span" });
              around.end();
            });
            nursery.startSoon(() => sleep(1), { name: "spawned plainly" });
          });
        },
        { instruments: [instrument] },
      );
      outside.end();
    });
    expect(parentId(tracing.span("main"))).toBe(spanId(tracing.span("outside")));
    expect(parentId(tracing.span("around spawn"))).toBe(spanId(tracing.span("main")));
    expect(parentId(tracing.span("spawned in span"))).toBe(spanId(tracing.span("around spawn")));
    expect(parentId(tracing.span("spawned plainly"))).toBe(spanId(tracing.span("main")));
  });

  test("a span started inside a task is a child of the task's span, on every step", async () => {
    const { tracer } = tracing;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              await sleep(1); // not the first step
              await tracer.startActiveSpan("work", async (work) => {
                await sleep(1);
                tracer.startSpan("nested").end();
                work.end();
              });
            },
            { name: "worker" },
          );
        });
      },
      { instruments: [openTelemetryInstrument({ tracer })] },
    );
    expect(parentId(tracing.span("work"))).toBe(spanId(tracing.span("worker")));
    expect(parentId(tracing.span("nested"))).toBe(spanId(tracing.span("work")));
  });

  test("cancellations are events with their source and reason, on the span of the task in the scope; a cancelled task is no error", async () => {
    const { tracer } = tracing;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              await moveOnAfter(5, () => sleep(1000));
            },
            { name: "timed out" },
          );
          nursery.startSoon(
            async () => {
              await new CancelScope().run(async (scope) => {
                scope.cancel("changed my mind");
                await sleep(1000);
              });
            },
            { name: "cancelled explicitly" },
          );
          nursery.startSoon(
            async () => {
              await openNursery(async (inner) => {
                inner.startSoon(() => sleep(1000), { name: "sleeper" });
                await sleep(1);
                inner.cancelScope.cancel("stop the sleeper");
              });
            },
            { name: "canceller" },
          );
        });
      },
      {
        clock: new MockClock({ autojumpThreshold: 0 }),
        instruments: [openTelemetryInstrument({ tracer })],
      },
    );
    expect(cancelEvents(tracing.span("timed out"))).toEqual([
      { source: "deadline", reason: undefined },
    ]);
    expect(cancelEvents(tracing.span("cancelled explicitly"))).toEqual([
      { source: "explicit", reason: "changed my mind" },
    ]);
    // A nursery's scope is entered by the task that opened it.
    expect(cancelEvents(tracing.span("canceller"))).toEqual([
      { source: "explicit", reason: "stop the sleeper" },
    ]);
    expect(cancelEvents(tracing.span("sleeper"))).toEqual([]);
    for (const name of ["timed out", "cancelled explicitly", "canceller", "sleeper"]) {
      expect(tracing.span(name).status.code).toBe(SpanStatusCode.UNSET);
    }
  });

  test("a failing task's span has status ERROR and the exception recorded; its nursery's cancellation says why", async () => {
    const { tracer } = tracing;
    await expect(
      run(
        async () => {
          await openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                await sleep(1);
                throw new TypeError("boom");
              },
              { name: "failing" },
            );
            nursery.startSoon(() => sleep(1000), { name: "sibling" });
          });
        },
        {
          clock: new MockClock({ autojumpThreshold: 0 }),
          instruments: [openTelemetryInstrument({ tracer })],
        },
      ),
    ).rejects.toThrow();
    const failing = tracing.span("failing");
    expect(failing.status).toEqual({ code: SpanStatusCode.ERROR, message: "TypeError: boom" });
    const exception = failing.events.find((e) => e.name === "exception");
    expect(exception?.attributes).toMatchObject({
      "exception.type": "TypeError",
      "exception.message": "boom",
    });
    // The sibling was cancelled by the failure: no error of its own.
    expect(tracing.span("sibling").status.code).toBe(SpanStatusCode.UNSET);
    expect(cancelEvents(tracing.span("main"))).toEqual([
      { source: "nursery", reason: 'task "failing" raised TypeError: boom' },
    ]);
  });

  test("a task ended by a cancellation from outside its nursery is no error; every failure in a nursery is known", async () => {
    const { tracer } = tracing;
    const clock = () => new MockClock({ autojumpThreshold: 0 });
    await run(
      async () => {
        await moveOnAfter(5, async () => {
          await openNursery(async (nursery) => {
            // Its Cancelled comes from moveOnAfter's scope, outside its nursery.
            nursery.startSoon(() => sleep(1000), { name: "cut short" });
          });
        });
      },
      { clock: clock(), instruments: [openTelemetryInstrument({ tracer })] },
    );
    expect(tracing.span("cut short").status.code).toBe(SpanStatusCode.UNSET);
    expect(tracing.span("cut short").events.map((e) => e.name)).not.toContain("exception");

    await expect(
      run(
        async () => {
          await openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                await sleep(1);
                throw new Error("first");
              },
              { name: "first" },
            );
            nursery.startSoon(
              async () => {
                try {
                  await sleep(1000);
                } finally {
                  // biome-ignore lint/correctness/noUnsafeFinally: a second failure, on purpose
                  throw new Error("second");
                }
              },
              { name: "second" },
            );
          });
        },
        { clock: clock(), instruments: [openTelemetryInstrument({ tracer })] },
      ),
    ).rejects.toThrow();
    expect(tracing.span("first").status.code).toBe(SpanStatusCode.ERROR);
    // A second failure, in a nursery already cancelled by the first, is known too.
    expect(tracing.span("second").status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "Error: second",
    });
  });

  test("a task started with nursery.start() is a child of the span active in the caller of start(), and its failure before started() is known", async () => {
    const { tracer } = tracing;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          await tracer.startActiveSpan("starting", async (span) => {
            await nursery.start(
              async (status) => {
                status.started();
                await sleep(1);
              },
              { name: "started" },
            );
            span.end();
          });
        });
      },
      { instruments: [openTelemetryInstrument({ tracer })] },
    );
    expect(parentId(tracing.span("starting"))).toBe(spanId(tracing.span("main")));
    expect(parentId(tracing.span("started"))).toBe(spanId(tracing.span("starting")));

    // One that fails before started(): its error comes out of start(), and its span says so.
    await expect(
      run(
        async () => {
          await openNursery(async (nursery) => {
            await nursery.start(
              async () => {
                throw new RangeError("not ready");
              },
              { name: "never started" },
            );
          });
        },
        { instruments: [openTelemetryInstrument({ tracer })] },
      ),
    ).rejects.toThrow("not ready");
    expect(tracing.span("never started").status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "RangeError: not ready",
    });
  });

  test("which: 'named' traces tasks with names of their own; a filter picks any; untraced tasks' children hang under the nearest traced span", async () => {
    const { tracer } = tracing;
    const body = async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await openNursery(async (inner) => {
            inner.startSoon(() => sleep(1), { name: "grandchild" });
          });
        }); // anonymous: "task"
        nursery.startSoon(() => sleep(1), { name: "skip me" });
      });
    };
    await run(body, { instruments: [openTelemetryInstrument({ tracer, which: "named" })] });
    expect(spanNames()).toEqual(["body", "grandchild", "skip me"]);
    // The anonymous task has no span: its child hangs under the main task's.
    expect(parentId(tracing.span("grandchild"))).toBe(spanId(tracing.span("body")));

    await tracing.close();
    tracing = setUpTracing();
    const filtered = openTelemetryInstrument({
      tracer: tracing.tracer,
      filter: (task) => task.name !== "skip me",
      spanName: (task) => `task ${task.name}`,
    });
    await run(body, { instruments: [filtered] });
    const names = spanNames();
    expect(names).toEqual(["task body", "task grandchild", "task task"]);
    expect(parentId(tracing.span("task grandchild"))).toBe(spanId(tracing.span("task task")));
  });

  test("blocks: true records each block as an event", async () => {
    const { tracer } = tracing;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => sleep(1), { name: "sleeper" });
        });
      },
      { instruments: [openTelemetryInstrument({ tracer, blocks: true })] },
    );
    expect(tracing.span("sleeper").events.map((e) => e.name)).toContain(EVENT_BLOCKED);
    expect(
      tracing.span("sleeper").events.find((e) => e.name === EVENT_BLOCKED)?.attributes,
    ).toEqual({ "weft.waiting_for": "sleep" });
  });

  test("under a MockClock, spans still nest and end", async () => {
    const { tracer } = tracing;
    const clock = new MockClock({ autojumpThreshold: 0 });
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              await sleep(60_000); // an hour of virtual time, at once
              await tracer.startActiveSpan("after an hour", async (span) => {
                await sleep(1);
                span.end();
              });
            },
            { name: "patient" },
          );
        });
      },
      { clock, instruments: [openTelemetryInstrument({ tracer })] },
    );
    expect(clock.currentTime()).toBeGreaterThanOrEqual(60_001);
    expect(parentId(tracing.span("patient"))).toBe(spanId(tracing.span("main")));
    expect(parentId(tracing.span("after an hour"))).toBe(spanId(tracing.span("patient")));
    expect(tracing.spans()).toHaveLength(3);
  });

  test("the default tracer is the global provider's", async () => {
    const instrument = openTelemetryInstrument();
    // No global provider registered: the API's no-op tracer; the run is unaffected.
    const result = await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => sleep(1), { name: "x" });
        });
        return 42;
      },
      { instruments: [instrument] },
    );
    expect(result).toBe(42);
    expect(tracing.spans()).toEqual([]);
  });
});

describe("a user's filter or span name that throws", () => {
  test("leaves that task untraced (or named after the task) and every other span is ended", async () => {
    const { tracer } = tracing;
    await run(
      () =>
        openNursery(async (nursery) => {
          for (const name of ["a", "bad", "b"]) nursery.startSoon(() => sleep(1), { name });
        }),
      {
        clock: new MockClock({ autojumpThreshold: 0 }),
        instruments: [
          openTelemetryInstrument({
            tracer,
            filter: (task) => {
              if (task.name === "bad") throw new Error("filter bug");
              return true;
            },
            spanName: (task) => {
              if (task.name === "b") throw new Error("name bug");
              return `span ${task.name}`;
            },
          }),
        ],
      },
    );
    expect(
      tracing
        .spans()
        .map((span) => span.name)
        .sort(),
    ).toEqual(["b", "span a", "span main"]);
  });
});
