/**
 * Every export of every entry point (values, types, namespaces and their members, as
 * packages/core/test/support/public-surface.ts lists them with the TypeScript compiler) has a
 * section in the generated API reference (docs/api/, `pnpm docs:build`) that shows its
 * signature: a heading named after it followed by a code block, or a "Re-exports" line leading
 * to such a section on another page.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect, test } from "vitest";
import { type ExportInfo, publicExports } from "../../packages/core/test/support/public-surface.ts";
import { repositoryRoot } from "../scripts/markdown-samples.ts";

const API = path.join(repositoryRoot, "docs", "api");

/** docs/api's page for an entry point (`@weft/core` has a folder: it has a namespace). */
function pageOf(entry: string): string {
  const folder = path.join(API, entry, "index.md");
  return fs.existsSync(folder) ? folder : path.join(API, `${entry}.md`);
}

/** The lines of a page's `### name` section (up to the next heading of level 1-3). */
function sectionOf(page: string, name: string): string[] | undefined {
  const lines = fs.readFileSync(page, "utf8").split("\n");
  // Markdown escapes: `### TASK\_STATUS\_IGNORED`, `### \[asyncIterator\]()`.
  const start = lines.findIndex((line) => {
    const heading = line.replaceAll("\\", "");
    return heading === `### ${name}` || heading === `### ${name}()`;
  });
  if (start === -1) return undefined;
  const end = lines.findIndex((line, index) => index > start && /^#{1,3}\s/.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** Why an export's documentation is missing, or undefined when it is there with a signature. */
function problemOf(exported: ExportInfo, page: string, depth = 0): string | undefined {
  if (!fs.existsSync(page)) return `no page ${path.relative(repositoryRoot, page)}`;
  const name = exported.name.slice(exported.name.lastIndexOf(".") + 1);
  if (exported.kind === "namespace") {
    const namespacePage = path.join(path.dirname(page), "namespaces", `${name}.md`);
    return fs.existsSync(namespacePage)
      ? undefined
      : `no namespace page ${path.relative(repositoryRoot, namespacePage)}`;
  }
  const section = sectionOf(page, name);
  const where = `${path.relative(repositoryRoot, page)}#${name}`;
  if (section === undefined) return `no section ${where}`;
  const reexport = section
    .map((line) => /^Re-exports \[[^\]]+\]\(([^)#]+)(#[^)]*)?\)/.exec(line))
    .find((match) => match !== null);
  if (reexport !== undefined && reexport !== null && depth < 3) {
    return problemOf(exported, path.resolve(path.dirname(page), reexport[1]!), depth + 1);
  }
  if (!section.some((line) => line.startsWith("```ts"))) return `no signature in ${where}`;
  return undefined;
}

test("every export of every entry point has a section with its signature in docs/api", () => {
  expect(
    fs.existsSync(path.join(API, "index.md")),
    "docs/api is missing: run pnpm docs:build first",
  ).toBe(true);
  const problems: string[] = [];
  let count = 0;
  const perEntry: string[] = [];
  for (const [entry, exports] of publicExports()) {
    perEntry.push(`${entry} ${exports.length}`);
    for (const exported of exports) {
      count++;
      const nested = exported.name.includes(".");
      // A namespace's members are on the namespace's page.
      const page = nested
        ? path.join(path.dirname(pageOf(entry)), "namespaces", `${exported.name.split(".")[0]}.md`)
        : pageOf(entry);
      const problem = problemOf(exported, page);
      if (problem !== undefined) problems.push(`${entry} ${exported.name}: ${problem}`);
    }
  }
  console.log(`API coverage: ${count} exports of ${perEntry.length} entry points checked`);
  console.log(`  ${perEntry.join(", ")}`);
  expect(problems).toEqual([]);
  expect(count).toBeGreaterThan(100);
});
