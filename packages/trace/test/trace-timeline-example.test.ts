/**
 * examples/trace-timeline.ts (the picture of docs/guides/seeing-your-tasks.md
 * and the README): a real program recorded, written as a valid trace file,
 * and drawn as HTML and SVG with a row per task.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DOMParser } from "linkedom";
import { expect, test } from "vitest";
import { main } from "../../../examples/trace-timeline.ts";
import { checkTraceFile } from "./support/trace-validator.ts";

test("the crawl is recorded as a valid trace and drawn; the slow page's cancellation is in both", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "weft-trace-example-"));
  try {
    const { files, results } = await main(dir);
    // Page 3 answers after 90 ms, past its 60 ms timeout, always; the others
    // answer within 25 ms, so they finish in time unless the machine stalls —
    // not asserted, as that is real time.
    expect(results).toContain("page 3: timed out");
    for (const page of [0, 1, 2, 4, 5]) {
      expect(results.some((line) => line.startsWith(`page ${page}: `))).toBe(true);
    }
    const [json, html, svg] = await Promise.all(files.map((file) => readFile(file, "utf8")));
    const trace = checkTraceFile(json!);
    const taskNames = trace.traceEvents
      .filter((e) => e.ph === "M" && e.name === "thread_name")
      .map((e) => String(e.args?.name));
    for (const page of [0, 1, 2, 3, 4, 5]) {
      expect(taskNames.some((name) => name.startsWith(`page ${page} #`))).toBe(true);
    }
    const cancels = trace.traceEvents.filter((e) => e.ph === "i" && e.cat === "cancel");
    expect(cancels.some((e) => e.args?.source === "deadline")).toBe(true);
    const waits = trace.traceEvents
      .filter((e) => e.ph === "X" && e.cat === "wait")
      .map((e) => e.name);
    expect(waits).toContain("CapacityLimiter.acquire");
    const document = new DOMParser().parseFromString(svg!, "image/svg+xml");
    const titles = [...document.querySelectorAll("title")].map((t) => t.textContent ?? "");
    expect(titles.some((t) => t.startsWith("page 3 #") && t.includes("cancelled"))).toBe(true);
    expect(html).toContain("<svg");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
