import * as fs from "node:fs";
import * as path from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { findChromium } from "../../packages/trace/test/support/chromium.ts";
import { markdownFiles, repositoryRoot } from "../scripts/markdown-samples.ts";
import { fileFor, type SiteServer, serveSite } from "./site-server.ts";

/** The page's DOM, as the functions given to page.evaluate use it (no DOM lib here). */
interface DomElement {
  readonly id: string;
  readonly className: string;
  readonly textContent: string | null;
  /** An anchor's absolute URL. */
  readonly href?: string;
  /** The Vue app mounted on this element (#app), once it has hydrated the page. */
  readonly __vue_app__?: unknown;
  querySelector(selector: string): DomElement | null;
}
declare const document: {
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
};
declare const location: { readonly pathname: string };

const DOCS = path.join(repositoryRoot, "docs");
const DIST = path.join(DOCS, ".vitepress", "dist");
const ARTIFACTS = path.join(DOCS, "test", "artifacts");
const CONCURRENCY = 4;
/** Languages Shiki shows as plain text: their blocks need no highlighting. */
const PLAIN_LANGUAGES = new Set(["", "text", "txt", "plain"]);

const chromium = findChromium();
const inCi = process.env.CI === "true" || process.env.CI === "1";

/** The markdown a page was built from: `/guides/tutorial` → docs/guides/tutorial.md. */
function markdownOf(pathname: string): string | undefined {
  let page = decodeURIComponent(pathname).replace(/\.html$/, "");
  if (page.endsWith("/")) page += "index";
  const file = path.join(DOCS, `${page}.md`);
  return fs.existsSync(file) ? file : undefined;
}

/** The fenced code blocks of a markdown file: each one's language. */
function fencesOf(markdown: string): string[] {
  const languages: string[] = [];
  let open: string | undefined;
  for (const line of fs.readFileSync(markdown, "utf8").split("\n")) {
    const fence = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (fence === null) continue;
    if (open === undefined) {
      open = fence[1]!;
      languages.push(fence[2] ?? "");
    } else if (line.trim() === open) {
      open = undefined;
    }
  }
  return languages;
}

interface Visit {
  readonly url: string;
  readonly status: number;
  readonly ids: ReadonlySet<string>;
  readonly links: readonly string[];
  readonly problems: readonly string[];
}

/** Loads a page and reads what the checks need. */
async function visit(browser: Browser, url: string): Promise<Visit> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${String(error)}`));
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400 && response.url() !== url) {
      problems.push(`${response.status()} for ${response.url()}`);
    }
  });
  try {
    const response = await page.goto(url, { waitUntil: "load" });
    const status = response?.status() ?? 0;
    // The load event can come before Vue has hydrated the page (about 1 load in 6 here): wait,
    // so that what hydrating logs (errors, mismatches) is seen, and the DOM read is the app's.
    await page
      .waitForFunction(() => document.querySelector("#app")?.__vue_app__ !== undefined, {
        timeout: 10_000,
      })
      .catch(() => problems.push("not hydrated within 10 s (no Vue app on #app)"));
    const { ids, links, blocks } = await page.evaluate(() => ({
      ids: [...document.querySelectorAll("[id]")].map((element) => element.id),
      links: [...document.querySelectorAll("a[href]")].map((a) => a.href ?? ""),
      blocks: [...document.querySelectorAll('.vp-doc div[class*="language-"]')].map((div) => ({
        language: /language-([\w-]*)/.exec(div.className)?.[1] ?? "",
        text: div.querySelector("pre code")?.textContent ?? "",
        highlighted: div.querySelector('pre code span[style*="--shiki"]') !== null,
      })),
    }));
    const markdown = markdownOf(new URL(url).pathname);
    if (markdown !== undefined && status === 200) {
      const fences = fencesOf(markdown);
      if (fences.length !== blocks.length) {
        problems.push(`${fences.length} code blocks in the markdown, ${blocks.length} rendered`);
      }
      blocks.forEach((block, index) => {
        if (block.text.trim() === "") problems.push(`code block ${index + 1} is empty`);
        if (!PLAIN_LANGUAGES.has(block.language) && !block.highlighted) {
          problems.push(`${block.language} code block ${index + 1} is not highlighted`);
        }
      });
    }
    return { url, status, ids: new Set(ids), links, problems };
  } finally {
    await page.close();
  }
}

/** Every .html of dist/ as a URL path (`guides/tutorial.html` → `/guides/tutorial`). */
function builtPages(): string[] {
  const pages: string[] = [];
  const walk = (directory: string): void => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".html") && entry.name !== "404.html") {
        const relative = path.relative(DIST, full).split(path.sep).join("/");
        pages.push(
          `/${relative.replace(/(^|\/)index\.html$/, "$1").replace(/\.html$/, "")}`.replace(
            /\/\/$/,
            "/",
          ),
        );
      }
    }
  };
  walk(DIST);
  return pages;
}

/** The site's sources (its pages, its config) changed since dist/ was built. */
function staleSources(): string[] {
  const built = fs.statSync(path.join(DIST, "index.html")).mtimeMs;
  const sources = [
    path.join(DOCS, ".vitepress", "config.ts"),
    ...markdownFiles()
      .filter((file) => file.startsWith("docs/"))
      .map((file) => path.join(repositoryRoot, file)),
  ];
  return sources
    .filter((file) => fs.statSync(file).mtimeMs > built)
    .map((file) => path.relative(repositoryRoot, file));
}

const noChromium = chromium === undefined;

describe.skipIf(noChromium)("the built site in headless Chromium", () => {
  let browser: Browser;
  let server: SiteServer;

  beforeAll(async () => {
    if (!fs.existsSync(path.join(DIST, "index.html"))) {
      throw new Error("docs/.vitepress/dist is missing: run pnpm docs:build first");
    }
    // A page edited after the build (or a build that failed, leaving the last one) would be
    // checked against the old site: the code-block count, for one, compares the new markdown.
    const stale = staleSources();
    if (stale.length > 0) {
      throw new Error(
        `docs/.vitepress/dist is older than ${stale.join(", ")}: run pnpm docs:build first`,
      );
    }
    server = await serveSite(DIST);
    browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("every page loads cleanly; every internal link and anchor resolves; code renders", async () => {
    const visits = new Map<string, Visit>();
    const queue = ["/", ...builtPages()].map((page) => new URL(page, server.origin).href);
    const queued = new Set(queue);
    const linkProblems: string[] = [];
    const anchorsToCheck: { from: string; target: string; hash: string }[] = [];
    let linkCount = 0;

    const worker = async (): Promise<void> => {
      for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
        const result = await visit(browser, url);
        visits.set(url, result);
        for (const href of result.links) {
          const link = new URL(href);
          if (link.origin !== server.origin) continue;
          linkCount++;
          const target = `${link.origin}${link.pathname}`;
          if (fileFor(DIST, link.pathname) === undefined) {
            linkProblems.push(`${url}: link to a missing page ${href}`);
            continue;
          }
          if (link.hash !== "") anchorsToCheck.push({ from: url, target, hash: link.hash });
          if (/\.(html)?$/.test(link.pathname) || !/\.\w+$/.test(link.pathname)) {
            if (!queued.has(target)) {
              queued.add(target);
              queue.push(target);
            }
          }
        }
      }
    };
    // Pages found while crawling join the queue; workers that find it empty stop, so loop
    // until no page is left unvisited.
    while (queue.length > 0) {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    }

    const problems = [...linkProblems];
    for (const result of visits.values()) {
      if (result.status !== 200) problems.push(`${result.url}: status ${result.status}`);
      for (const problem of result.problems) problems.push(`${result.url}: ${problem}`);
    }
    for (const { from, target, hash } of anchorsToCheck) {
      const page = visits.get(target);
      const id = decodeURIComponent(hash.slice(1));
      if (page === undefined) problems.push(`${from}: ${target} was not visited`);
      else if (!page.ids.has(id)) problems.push(`${from}: no #${id} on ${target}`);
    }
    console.log(
      `site: ${visits.size} pages, ${linkCount} internal links (${anchorsToCheck.length} with an anchor)`,
    );
    expect([...new Set(problems)]).toEqual([]);
    expect(visits.size).toBeGreaterThan(20);
  });

  test('local search finds "nursery" and its first result is a real page', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${server.origin}/`, { waitUntil: "load" });
      await page.click(".VPNavBarSearch button");
      await page.waitForSelector("#localsearch-input");
      await page.type("#localsearch-input", "nursery");
      await page.waitForSelector(".VPLocalSearchBox a.result", { timeout: 10_000 });
      const results = await page.$$eval(".VPLocalSearchBox a.result", (anchors) =>
        anchors.map((a) => (a as unknown as DomElement).href ?? ""),
      );
      console.log(`search "nursery": ${results.length} results, first ${results[0]}`);
      expect(results.length).toBeGreaterThan(0);
      const first = new URL(results[0]!);
      expect(fileFor(DIST, first.pathname), `${first.pathname} is a page`).toBeDefined();
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }).catch(() => {}),
        page.keyboard.press("Enter"),
      ]);
      // The router renders the result's page (its title) and scrolls to its anchor.
      await page.waitForFunction(
        (pathname, hash) =>
          location.pathname === pathname &&
          document.querySelector(".vp-doc h1") !== null &&
          (hash === "" ||
            document.querySelector(`[id="${decodeURIComponent(hash.slice(1))}"]`) !== null),
        { timeout: 10_000 },
        first.pathname,
        first.hash,
      );
      const title = await page.$eval(".vp-doc h1", (h1) => h1.textContent ?? "");
      expect(title.trim()).not.toBe("");
    } finally {
      await page.close();
    }
  });

  test("screenshots of the home page and the tutorial", async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const page = await browser.newPage();
    try {
      await page.setViewport({ width: 1280, height: 900 });
      for (const [pathname, file] of [
        ["/", "home.png"],
        ["/guides/tutorial", "guide-tutorial.png"],
      ] as const) {
        const response = await page.goto(`${server.origin}${pathname}`, { waitUntil: "load" });
        expect(response?.status()).toBe(200);
        await page.screenshot({ path: path.join(ARTIFACTS, file) });
        console.log(`screenshot: ${path.relative(repositoryRoot, path.join(ARTIFACTS, file))}`);
      }
    } finally {
      await page.close();
    }
  });
});

if (noChromium) {
  test("chromium is installed (apt-get install chromium)", (context) => {
    if (inCi) throw new Error("CI=true and no chromium on the PATH: the site was not tested");
    context.skip("chromium not installed: the site's browser tests were skipped");
  });
}
