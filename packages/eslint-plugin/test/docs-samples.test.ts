/**
 * The docs' code samples pass the recommended config: every ```ts block of
 * README.md, docs/**\/*.md and packages/*\/README.md is written to
 * test/.samples/ (gitignored; its tsconfig extends the repository's base and
 * @weft/* resolves to this repository's packages) and linted with the
 * recommended config. A fragment that is not a module can be skipped only
 * with `<!-- lint: skip -->` on a line before its fence (above it only blank
 * lines and other HTML comments).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
// The hand-written markdown (not docs/api, the generated API reference, nor docs' tooling).
import { markdownFiles } from "../../../docs/scripts/markdown-samples.ts";
import plugin from "../src/index.ts";

const root = path.resolve(import.meta.dirname, "../../..");
const samples = path.join(import.meta.dirname, ".samples");
const SKIP = "<!-- lint: skip -->";

interface Sample {
  /** Where the block is: the markdown file (from the repository root) and the fence's line. */
  readonly where: string;
  readonly file: string;
  readonly code: string;
}

/** The ```ts blocks of every markdown file, and how many were marked to skip. */
function extract(): { readonly linted: Sample[]; readonly skipped: string[] } {
  const linted: Sample[] = [];
  const skipped: string[] = [];
  for (const md of markdownFiles()) {
    const lines = fs.readFileSync(path.join(root, md), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const open = /^(\s*)```ts\s*$/.exec(lines[i]!);
      if (open === null) continue;
      const indent = open[1]!;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i]!.trim() !== "```"; i++) {
        body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!);
      }
      const where = `${md}:${start + 1}`;
      // The marker may sit above other HTML comments (e.g. `<!-- excerpt: ... -->`).
      let previous = start - 1;
      let skip = false;
      for (; previous >= 0; previous--) {
        const line = lines[previous]!.trim();
        if (line === SKIP) skip = true;
        else if (line !== "" && !/^<!--.*-->$/.test(line)) break;
      }
      if (skip) {
        skipped.push(where);
        continue;
      }
      const file = `${md.replaceAll(/[/.]/g, "_")}_${start + 1}.ts`;
      linted.push({ where, file, code: `${body.join("\n")}\n` });
    }
  }
  return { linted, skipped };
}

/** test/.samples/: a tsconfig over the samples, and node_modules/@weft/* linked to the packages. */
function prepare(list: readonly Sample[]): void {
  fs.rmSync(samples, { recursive: true, force: true });
  fs.mkdirSync(path.join(samples, "node_modules", "@weft"), { recursive: true });
  fs.writeFileSync(
    path.join(samples, "tsconfig.json"),
    `${JSON.stringify({ extends: "../../../../tsconfig.base.json", compilerOptions: { noEmit: true }, include: ["*.ts"] }, null, 2)}\n`,
  );
  for (const pkg of fs.readdirSync(path.join(root, "packages"))) {
    fs.symlinkSync(
      path.join(root, "packages", pkg),
      path.join(samples, "node_modules", "@weft", pkg),
      "dir",
    );
  }
  for (const sample of list) fs.writeFileSync(path.join(samples, sample.file), sample.code);
}

describe("the docs' ts samples pass the recommended config", async () => {
  const { linted, skipped } = extract();
  prepare(linted);
  const { recommended } = plugin.configs;
  const eslint = new ESLint({
    cwd: samples,
    overrideConfigFile: true,
    overrideConfig: [
      {
        ...recommended,
        languageOptions: {
          ...recommended.languageOptions,
          parserOptions: { projectService: true, tsconfigRootDir: samples },
        },
      },
    ] as ESLint.Options["overrideConfig"],
  });
  const results = new Map(
    (await eslint.lintFiles(linted.map((sample) => sample.file))).map((result) => [
      path.basename(result.filePath),
      result,
    ]),
  );
  console.log(`docs samples: ${linted.length} linted, ${skipped.length} skipped (${SKIP})`);

  it("finds the samples", () => {
    expect(linted.length).toBeGreaterThan(0);
  });

  it.each(linted.map((sample) => [sample.where, sample] as const))("%s", (_where, sample) => {
    const messages = results
      .get(sample.file)!
      .messages.map((m) => `${m.line}:${m.column} ${m.ruleId ?? "parse"}: ${m.message}`);
    expect(messages).toEqual([]);
  });
});
