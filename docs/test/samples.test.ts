/**
 * Every code sample of the docs is checked (docs/contributing.md): each ```ts block of
 * README.md, docs/**\/*.md and packages/*\/README.md type-checks, passes @weft/eslint-plugin's
 * recommended config, and prints what its page shows when the page shows output. Two samples
 * made wrong on purpose prove that each check can fail.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { allSamples, type MarkdownSample, sampleLocation } from "../scripts/markdown-samples.ts";
import {
  declaresUsing,
  lintMessages,
  markerProblems,
  nodeParsesUsing,
  runProblems,
  samplesFolder,
  samplesProgram,
  typeErrors,
  writeSamples,
} from "../scripts/sample-checks.ts";

/** Wrong on purpose: a weft operation not awaited (lint), a missing name (types). */
const wrong: MarkdownSample = {
  markdown: "(wrong on purpose)",
  line: 1,
  kind: "module",
  code: 'import { run, sleep } from "@weft/core";\n\nawait run(async () => {\n  sleep(10);\n  console.log(missing);\n});\n',
  output: "something else\n",
};

/** A module written to the samples folder after the program was built: run only. */
function writeProbe(code: string): string {
  const file = path.join(samplesFolder, "_probe.ts");
  fs.writeFileSync(file, code);
  return file;
}

describe("the docs' samples", async () => {
  const samples = allSamples();
  const written = writeSamples([...samples, wrong]);
  const program = samplesProgram();
  const lint = await lintMessages(
    program,
    written.map((w) => w.file),
  );
  const checked = written.filter((w) => w.sample !== wrong);
  const run = checked.filter((w) => w.sample.output !== undefined);
  const wrongFile = written.find((w) => w.sample === wrong)!.file;
  console.log(
    `docs samples: ${samples.length} found, ${checked.length} type-checked and linted, ${run.length} run with their output, ${samples.length - checked.length} fragments`,
  );

  it("finds samples, some of them run", () => {
    expect(checked.length).toBeGreaterThan(0);
    expect(run.length).toBeGreaterThan(0);
  });

  it("catches a type error, a lint error and a wrong output", async () => {
    expect(typeErrors(program, wrongFile).join("\n")).toMatch(/Cannot find name 'missing'/);
    expect(lint.get(wrongFile)?.join("\n")).toMatch(/weft\//);
    expect((await runProblems(wrongFile, wrong.output!)).join("\n")).toMatch(/but the page shows/);
  });

  it.each(samples.map((sample) => [sampleLocation(sample), sample] as const))(
    "%s: markers",
    (_where, sample) => {
      expect(markerProblems(sample)).toEqual([]);
    },
  );

  it.each(checked.map((w) => [sampleLocation(w.sample), w.file] as const))(
    "%s: type-checks",
    (_where, file) => {
      expect(typeErrors(program, file)).toEqual([]);
    },
  );

  it.each(checked.map((w) => [sampleLocation(w.sample), w.file] as const))(
    "%s: lints",
    (_where, file) => {
      expect(lint.get(file)).toEqual([]);
    },
  );

  it("runs each sample in an empty folder of its own, removed afterwards", async () => {
    const probe = writeProbe(
      'import * as fs from "node:fs";\nconsole.log(process.cwd() === import.meta.dirname, fs.readdirSync(".").length);\nfs.writeFileSync("left.txt", "x");\n',
    );
    expect(await runProblems(probe, "false 0\n")).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(probe), "left.txt"))).toBe(false);
  });

  it("sees a sample that prints, whichever console method it calls", () => {
    const module = (code: string): MarkdownSample => ({ ...wrong, code, output: undefined });
    for (const call of [
      "console.log(1)",
      "console.debug(1)",
      "console.trace()",
      "console.group()",
    ]) {
      expect(markerProblems(module(`${call};\n`)).join("\n"), call).toMatch(/prints but shows/);
    }
    expect(markerProblems(module("const x = 1;\n"))).toEqual([]);
  });

  it("sees `using` declarations, and whether this Node parses them", () => {
    expect(declaresUsing("await using a = open();\n")).toBe(true);
    expect(declaresUsing("{ using b = open(); }\n")).toBe(true);
    expect(declaresUsing("// using c = open();\nconst using = 1;\nlet d = using;\n")).toBe(false);
    expect(nodeParsesUsing).toBe(Number(process.versions.node.split(".")[0]) >= 24);
  });

  it.concurrent.for(run.map((w) => [sampleLocation(w.sample), w] as const))(
    "%s: prints what the page shows",
    async ([_where, { file, sample }], context) => {
      if (!nodeParsesUsing && declaresUsing(sample.code)) {
        context.skip(`Node ${process.versions.node} cannot parse \`using\` declarations`);
      }
      expect(await runProblems(file, sample.output!)).toEqual([]);
    },
  );
});
