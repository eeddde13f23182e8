/**
 * The extractor of the docs' samples (docs/scripts/markdown-samples.ts) finds every TypeScript
 * block a page shows, whatever fence VitePress accepts for it: a block it misses is never
 * checked, and samples.test.ts cannot notice.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { samplesOf } from "../scripts/markdown-samples.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "weft-docs-samples-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function samplesOfText(text: string): ReturnType<typeof samplesOf> {
  fs.writeFileSync(path.join(root, "page.md"), text);
  return samplesOf("page.md", root);
}

describe("the samples' extractor", () => {
  it("finds ```ts blocks with a VitePress title, line highlights or line numbers, and ~~~ts", () => {
    const samples = samplesOfText(
      [
        "::: code-group",
        "",
        "```ts [weft]",
        "const a = 1;",
        "```",
        "",
        ":::",
        "",
        "```ts{1}",
        "const b = 2;",
        "```",
        "",
        "```ts:line-numbers",
        "const c = 3;",
        "```",
        "",
        "~~~ts",
        "const d = 4;",
        "~~~",
        "",
        "```ts",
        "const e = 5;",
        "```",
        "",
      ].join("\n"),
    );
    expect(samples.map((s) => [s.line, s.code])).toEqual([
      [3, "const a = 1;\n"],
      [9, "const b = 2;\n"],
      [13, "const c = 3;\n"],
      [17, "const d = 4;\n"],
      [21, "const e = 5;\n"],
    ]);
  });

  it("takes an indented block (in a list) without its indentation", () => {
    const samples = samplesOfText(
      ["1. Step:", "", "   ```ts", "   if (x) {", "     y();", "   }", "   ```", ""].join("\n"),
    );
    expect(samples.map((s) => s.code)).toEqual(["if (x) {\n  y();\n}\n"]);
  });

  it("skips a block shown inside a longer fence, and keeps in step after it", () => {
    const samples = samplesOfText(
      [
        "````md",
        "```ts",
        "not a sample",
        "```",
        "````",
        "",
        "```js",
        "const js = 1;",
        "```",
        "",
        "```ts",
        "const ts = 1;",
        "```",
        "",
        "<!-- sample: output -->",
        "",
        "```text",
        "out",
        "```",
        "",
      ].join("\n"),
    );
    expect(samples).toEqual([
      {
        markdown: "page.md",
        line: 11,
        code: "const ts = 1;\n",
        kind: "module",
        output: "out\n",
        outputLine: 17,
      },
    ]);
  });

  it.each(["typescript", "tsx", "mts", "TypeScript"])("refuses a ```%s block", (lang) => {
    expect(() => samplesOfText(`\`\`\`${lang}\nconst x = 1;\n\`\`\`\n`)).toThrow(
      /is not checked: write ```ts/,
    );
  });

  it("refuses an unknown marker, and a marker above a block that is not checked", () => {
    expect(() => samplesOfText("<!-- sample: outptu -->\n\n```ts\nconst x = 1;\n```\n")).toThrow(
      /page.md: line 1: unknown marker/,
    );
    expect(() => samplesOfText("<!-- sample: fragment -->\n\n```js\nconst x = 1;\n```\n")).toThrow(
      /page.md:3: a sample marker above a ```js block/,
    );
  });

  it("refuses an output block with no ```ts block above", () => {
    expect(() => samplesOfText("<!-- sample: output -->\n\n```text\nout\n```\n")).toThrow(
      /no ```ts block above/,
    );
  });
});
