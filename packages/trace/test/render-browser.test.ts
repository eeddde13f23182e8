import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderTimelineHtml, renderTimelineSvg } from "../src/index.ts";
import { findChromium } from "./support/chromium.ts";
import { sampleTasks, sampleTrace } from "./trace-fixtures.ts";

/** The page's document, as the functions given to page.evaluate use it (no DOM lib here). */
declare const document: {
  readonly documentElement: {
    readonly localName: string;
    getBoundingClientRect(): { readonly width: number };
  };
  elementFromPoint(
    x: number,
    y: number,
  ): { querySelector(selector: string): { readonly textContent: string | null } | null } | null;
  getElementsByTagName(name: string): { readonly length: number };
  querySelectorAll(selector: string): { readonly length: number };
};

const chromium = findChromium();
const artifacts = fileURLToPath(new URL("./artifacts/", import.meta.url));

/** Collects what the page reports: console errors, uncaught errors, non-file requests. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${String(error)}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  page.on("request", (request) => {
    if (!request.url().startsWith("file:")) problems.push(`network request: ${request.url()}`);
  });
  return problems;
}

describe.skipIf(chromium === undefined)("the timeline in headless Chromium", () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "weft-trace-browser-"));
    browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("the HTML page shows the SVG, a row per task, and a bar's details on hover", async () => {
    const file = join(dir, "timeline.html");
    writeFileSync(file, renderTimelineHtml(sampleTrace(), { fileName: "sample.trace.json" }));
    const page = await browser.newPage();
    const problems = watch(page);
    await page.setViewport({ width: 1200, height: 600 });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });

    const svg = await page.waitForSelector(".timeline svg", { visible: true });
    const box = await svg!.boundingBox();
    expect(box!.width).toBeGreaterThan(400);
    expect(box!.height).toBeGreaterThan(200);

    const rows = await page.$$eval(".weft-task-row rect", (rects) =>
      rects.map((rect) => {
        const { width, height } = rect.getBoundingClientRect();
        return { width, height, title: rect.querySelector("title")?.textContent ?? "" };
      }),
    );
    expect(rows).toHaveLength(sampleTasks.length);
    for (const [i, row] of rows.entries()) {
      expect(row.width).toBeGreaterThan(100);
      expect(row.height).toBeGreaterThan(5);
      expect(row.title.startsWith(`${sampleTasks[i]}\n`)).toBe(true);
    }

    // Hover the retry task's wait: what is under the pointer is that bar,
    // and the tooltip shows its <title>.
    const waits = await page.$$(".weft-wait rect");
    let target: { x: number; y: number } | undefined;
    for (const wait of waits) {
      const title = await wait.$eval("title", (t) => t.textContent ?? "");
      if (title.includes("waiting for Semaphore.acquire")) {
        const b = (await wait.boundingBox())!;
        target = { x: b.x + b.width / 2, y: b.y + b.height / 2 };
      }
    }
    expect(target).toBeDefined();
    await page.mouse.move(target!.x, target!.y);
    const underPointer = await page.evaluate(
      ({ x, y }) => document.elementFromPoint(x, y)?.querySelector("title")?.textContent ?? "",
      target!,
    );
    expect(underPointer).toContain("retry <orders> & co #5\nwaiting for Semaphore.acquire");
    await page.waitForSelector("#weft-details:not([hidden])", { visible: true });
    const tooltip = await page.$eval("#weft-details", (el) => ({
      text: el.textContent ?? "",
      width: el.getBoundingClientRect().width,
    }));
    expect(tooltip.text).toContain("retry <orders> & co #5");
    expect(tooltip.text).toContain("waiting for Semaphore.acquire");
    expect(tooltip.text).toContain("duration 28.4 ms");
    expect(tooltip.width).toBeGreaterThan(50);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, "timeline.png"), fullPage: true });

    // Moving off the picture hides the tooltip again.
    await page.mouse.move(2, 2);
    expect(await page.$eval("#weft-details", (el) => el.hasAttribute("hidden"))).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  test("the SVG file on its own parses as XML and renders", async () => {
    const file = join(dir, "timeline.svg");
    writeFileSync(file, renderTimelineSvg(sampleTrace()));
    const page = await browser.newPage();
    const problems = watch(page);
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const result = await page.evaluate(() => ({
      root: document.documentElement.localName,
      parseErrors: document.getElementsByTagName("parsererror").length,
      rows: document.querySelectorAll(".weft-task-row rect").length,
      width: document.documentElement.getBoundingClientRect().width,
    }));
    expect(result).toEqual({
      root: "svg",
      parseErrors: 0,
      rows: sampleTasks.length,
      width: expect.any(Number),
    });
    expect(result.width).toBeGreaterThan(400);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

// Where the browser is missing, the report says why the browser tests did not run.
if (chromium === undefined) {
  test("chromium not installed: apt-get install chromium (the browser tests were skipped)", (context) =>
    context.skip());
}
