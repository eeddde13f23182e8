/**
 * The corpus of real mistakes (test/corpus/): one small file per mistake, as
 * it appears in real code, each starting with `// expect: weft/<rule>, ...`.
 * The recommended config, through ESLint's Node API, must report exactly the
 * expected rules on each file, and every rule of the plugin must fire on at
 * least one file (a new rule needs a corpus entry).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import plugin from "../src/index.ts";

const corpus = path.join(import.meta.dirname, "corpus");
const files = fs
  .readdirSync(corpus)
  .filter((name) => name.endsWith(".ts"))
  .sort();

/** The rules a corpus file's first line expects. */
function expected(file: string): string[] {
  const first = fs.readFileSync(path.join(corpus, file), "utf8").split("\n")[0] ?? "";
  const match = /^\/\/ expect:(.*)$/.exec(first);
  if (match === null) throw new Error(`${file}: the first line must be "// expect: weft/<rule>"`);
  return match[1]!
    .split(",")
    .map((rule) => rule.trim())
    .filter((rule) => rule !== "")
    .sort();
}

async function lintCorpus(): Promise<Map<string, ESLint.LintResult>> {
  const { recommended } = plugin.configs;
  const eslint = new ESLint({
    cwd: corpus,
    overrideConfigFile: true,
    overrideConfig: [
      {
        ...recommended,
        languageOptions: {
          ...recommended.languageOptions,
          parserOptions: { projectService: true, tsconfigRootDir: corpus },
        },
      },
    ] as ESLint.Options["overrideConfig"],
  });
  const results = await eslint.lintFiles(files);
  return new Map(results.map((result) => [path.basename(result.filePath), result]));
}

describe("corpus of real mistakes", async () => {
  const results = await lintCorpus();

  it.each(files)("%s reports exactly its expected rules", (file) => {
    const result = results.get(file)!;
    const fatal = result.messages.filter((message) => message.ruleId === null);
    expect(fatal).toEqual([]);
    const reported = [...new Set(result.messages.map((message) => message.ruleId!))].sort();
    expect(reported).toEqual(expected(file));
  });

  it("every rule of the plugin fires on at least one corpus file", () => {
    const fired = new Set(
      [...results.values()].flatMap((result) => result.messages.map((m) => m.ruleId)),
    );
    const missing = Object.keys(plugin.rules)
      .map((name) => `weft/${name}`)
      .filter((rule) => !fired.has(rule));
    expect(missing).toEqual([]);
  });

  it("every rule is expected by some corpus file", () => {
    const expectedRules = new Set(files.flatMap(expected));
    const missing = Object.keys(plugin.rules).filter((name) => !expectedRules.has(`weft/${name}`));
    expect(missing).toEqual([]);
  });
});
