/** renderTimelineSvg on hand-built trace files: a well-formed SVG, a row per task, titles on marks. */
import { DOMParser } from "linkedom";
import { describe, expect, test } from "vitest";
import { renderTimeline, renderTimelineSvg } from "../src/index.ts";
import { buildTimelineModel } from "../src/render/timeline-model.ts";
import type { TraceFile } from "../src/trace-format.ts";
import { bigTrace, sampleTasks, sampleTrace, sampleWaits, TraceBuilder } from "./trace-fixtures.ts";

interface Node {
  readonly textContent: string | null;
  readonly tagName: string;
  readonly childNodes: Iterable<Node>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): Node | null;
  querySelectorAll(selector: string): Node[];
}

function parseSvg(svg: string): Node {
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml") as unknown as {
    documentElement: Node;
  };
  return doc.documentElement;
}

/** A text element's own text, without its <title>. */
const ownText = (node: Node): string =>
  [...node.childNodes]
    .filter((child) => child.tagName?.toLowerCase() !== "title")
    .map((child) => child.textContent ?? "")
    .join("");

const texts = (root: Node, selector: string): string[] =>
  [...root.querySelectorAll(`${selector} text`)].map(ownText);

const titles = (root: Node, selector: string): string[] =>
  [...root.querySelectorAll(`${selector} title`)].map((title) => title.textContent ?? "");

describe("renderTimelineSvg", () => {
  const svg = renderTimelineSvg(sampleTrace(), { title: "sample run" });
  const root = parseSvg(svg);

  test("is a self-contained SVG document with a white background and a title", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(root.tagName.toLowerCase()).toBe("svg");
    expect(Number(root.getAttribute("width"))).toBeGreaterThan(0);
    expect(Number(root.getAttribute("height"))).toBeGreaterThan(0);
    const background = root.querySelector("rect.weft-background");
    expect(background?.getAttribute("fill")).toBe("#ffffff");
    expect(root.querySelector("text")?.textContent).toBe("sample run");
    // No external references: no href, no url() other than nothing at all.
    expect(svg).not.toMatch(/href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    // Every tag is closed (a rough well-formedness check beyond linkedom's lenient parser).
    const opened = svg.match(/<(?!\/)[a-zA-Z]/g)?.length ?? 0;
    const closed = (svg.match(/<\/[a-zA-Z]/g)?.length ?? 0) + (svg.match(/\/>/g)?.length ?? 0);
    expect(closed).toBe(opened);
  });

  test("draws one row per task, labelled 'name #id', in tree order, under its nursery's header", () => {
    expect(root.querySelectorAll(".weft-task-row rect")).toHaveLength(sampleTasks.length);
    expect(root.getAttribute("data-task-rows")).toBe(String(sampleTasks.length));
    const labels = texts(root, ".weft-task-label");
    expect(labels).toEqual([...sampleTasks]);
    const nurseries = texts(root, ".weft-nursery-label");
    expect(nurseries).toEqual([
      "root task",
      'nursery #1 in task "main"',
      'nursery #2 in task "fetch orders"',
    ]);
  });

  test("gives steps, waits, cancellations and scopes a <title> naming the task and what happened", () => {
    const steps = titles(root, ".weft-step");
    expect(steps).toHaveLength(12);
    for (const task of sampleTasks) {
      expect(steps.some((title) => title.startsWith(`${task}\nrunning\n`))).toBe(true);
    }
    expect(steps[0]).toBe(
      "main #1\nrunning\nstart 0 ms, duration 0.8 ms\nclock 0 ms (the run's clock)",
    );
    const waits = titles(root, ".weft-wait");
    for (const reason of sampleWaits) {
      expect(waits.some((title) => title.includes(`\nwaiting for ${reason}\n`))).toBe(true);
    }
    expect(waits).toContain(
      "retry <orders> & co #5\nwaiting for Semaphore.acquire\nstart 3 ms, duration 28.4 ms\nclock 3 ms (the run's clock)",
    );
    // Waits are labelled with what they wait for, where they are wide enough.
    const waitLabels = texts(root, ".weft-wait-label");
    expect(waitLabels).toEqual(expect.arrayContaining(["nursery to close", "Semaphore.acquire"]));
    expect(titles(root, ".weft-cancel")).toEqual([
      "retry <orders> & co #5\ncancelled: deadline (source: scope #9 in fetch orders #3)\nat 31.4 ms",
    ]);
    expect(titles(root, ".weft-deadline")).toEqual([
      "fetch orders #3\ncancel scope, deadline at clock 31.5 ms (30 ms after entry)\nstart 1.5 ms, duration 30 ms\nclock 1.5 ms (the run's clock)",
    ]);
    expect(titles(root, ".weft-scope")).toHaveLength(2);
    expect(titles(root, ".weft-spawn")).toHaveLength(4);
    expect(titles(root, ".weft-wake")).toContain(
      "wake-up: fetch users #2 → watchdog #4\nat 15 ms → 15 ms",
    );
  });

  test("escapes names in the markup", () => {
    expect(svg).toContain("retry &lt;orders&gt; &amp; co #5");
    expect(svg).not.toContain("retry <orders>");
  });

  test("has a legend and states the counts", () => {
    const legend = texts(root, ".weft-legend");
    expect(legend).toEqual([
      "running (a step)",
      "blocked (a wait, labelled with what it waits for)",
      "cancelled",
      "cancel scope",
      "cancel scope with a deadline",
      "spawn",
      "wake-up",
    ]);
    expect(svg).toContain("5 tasks in 3 nurseries · 39.2 ms · 0 events dropped");
  });

  test("says when the recorder dropped events", () => {
    const dropped = renderTimeline(sampleTrace(42));
    expect(dropped.summary.dropped).toBe(42);
    expect(dropped.svg).toContain("The recorder dropped the 42 oldest events");
  });
});

describe("bounded size", () => {
  test("many tasks and events: rows are capped, short slices merged, and the picture says so", () => {
    const trace = bigTrace(300, 7, 200);
    const { svg, summary } = renderTimeline(trace, { maxTasks: 50, maxBars: 3000 });
    const root = parseSvg(svg);
    expect(summary.tasks).toBe(300);
    expect(summary.rows).toBe(50);
    expect(root.querySelectorAll(".weft-task-row rect")).toHaveLength(50);
    expect(svg).toContain("Showing the first 50 of 300 tasks (in tree order).");
    expect(svg).toContain("… 250 more tasks not shown");
    expect(summary.merged).toBeGreaterThan(0);
    expect(svg).toContain("short steps and waits are merged into shared bars");
    const bars = root.querySelectorAll(".weft-step rect, .weft-wait rect, .weft-merged rect");
    expect(bars.length).toBeLessThanOrEqual(3000);
    expect(bars.length).toBeGreaterThan(500);
    expect(titles(root, ".weft-merged")[0]).toMatch(/^worker 0 #1\n\d+ short slices merged/);
    expect(svg.length).toBeLessThan(2_000_000);
  });

  test("an empty trace and a trace without metadata still render", () => {
    const empty: TraceFile = {
      traceEvents: [],
      displayTimeUnit: "ms",
      otherData: { weft: { version: 1, dropped: 0 } },
    };
    expect(parseSvg(renderTimelineSvg(empty)).querySelectorAll(".weft-task-row rect")).toHaveLength(
      0,
    );
    const bare = new TraceBuilder().step(3, 9, 0, 10).wait(3, 9, 10, 0, "sleep").build();
    const root = parseSvg(renderTimelineSvg(bare));
    expect(texts(root, ".weft-task-label")).toEqual(["task #9"]);
    // A zero-length wait is still drawn (one pixel wide) with its title.
    expect(titles(root, ".weft-wait")).toEqual([
      "task #9\nwaiting for sleep\nstart 0.01 ms, duration 0 ms\nclock 0.01 ms (the run's clock)",
    ]);
  });
});

describe("buildTimelineModel", () => {
  test("orders nurseries and tasks by their sort indexes, whatever the event order", () => {
    const trace = sampleTrace();
    const shuffled: TraceFile = { ...trace, traceEvents: [...trace.traceEvents].reverse() };
    const model = buildTimelineModel(shuffled);
    expect(model.nurseries.map((n) => n.pid)).toEqual([0, 1, 2]);
    expect(model.nurseries.flatMap((n) => n.tasks.map((t) => t.label))).toEqual([...sampleTasks]);
    expect(model.flows).toHaveLength(6);
    expect(model.start).toBe(0);
    expect(model.end).toBeCloseTo(39.2);
  });

  test("nests scopes by depth on their row", () => {
    const trace = new TraceBuilder()
      .task(0, 1, "main", 0)
      .scope(0, 1, 0, 100)
      .scope(0, 1, 10, 50, 60)
      .scope(0, 1, 20, 10)
      .scope(0, 1, 70, 20)
      .build();
    const depths = buildTimelineModel(trace)
      .slices.filter((s) => s.kind === "scope")
      .map((s) => [s.start * 1000, s.depth]);
    expect(depths).toEqual([
      [0, 0],
      [10, 1],
      [20, 2],
      [70, 1],
    ]);
  });
});
