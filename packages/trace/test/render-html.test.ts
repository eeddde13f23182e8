/** renderTimelineHtml: a static, self-contained page. */
import { describe, expect, test } from "vitest";
import { renderTimelineHtml } from "../src/index.ts";
import { bigTrace, sampleTrace } from "./trace-fixtures.ts";

describe("renderTimelineHtml", () => {
  const html = renderTimelineHtml(sampleTrace(3), { fileName: "run <1>.json" });

  test("inlines the SVG under a header with the file name, counts, duration and dropped events", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<title>run &lt;1&gt;.json — weft trace timeline</title>");
    expect(html).toContain("<dt>file</dt><dd>run &lt;1&gt;.json</dd>");
    expect(html).toContain("<dt>tasks</dt><dd>5</dd>");
    expect(html).toContain("<dt>nurseries</dt><dd>3</dd>");
    expect(html).toContain("<dt>duration</dt><dd>39.2 ms</dd>");
    expect(html).toContain("<dt>dropped events</dt><dd>3</dd>");
    expect(html.match(/<svg xmlns=/g)).toHaveLength(1);
    expect(html).toContain('<div id="weft-details" role="tooltip" hidden></div>');
  });

  test("loads nothing from the network", () => {
    expect(html).not.toMatch(/<script[^>]+src=|<link|@import|url\(|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain("default-src 'none'");
  });

  test("repeats the notes about what was left out", () => {
    const big = renderTimelineHtml(bigTrace(120, 3, 10), { maxTasks: 20 });
    expect(big).toContain('<p class="note">Showing the first 20 of 120 tasks (in tree order).</p>');
  });
});
