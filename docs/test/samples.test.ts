/**
 * Every code sample of the docs is checked (docs/contributing.md): each ```ts block of
 * README.md, docs/**\/*.md and packages/*\/README.md type-checks, passes @weft/eslint-plugin's
 * recommended config, and prints what its page shows when the page shows output. Two samples
 * made wrong on purpose prove that each check can fail.
 */
import { describe, expect, it } from "vitest";
import { allSamples, type MarkdownSample, sampleLocation } from "../scripts/markdown-samples.ts";
import {
  lintMessages,
  markerProblems,
  runProblems,
  samplesProgram,
  typeErrors,
  writeSamples,
} from "../scripts/sample-checks.ts";

/** A `using` or `await using` declaration, which Node 22 cannot parse (the docs target Node 24). */
const USING_DECLARATION = /^\s*(await\s+)?using\s+[\w$]+\s*=/m;

/** Whether this Node parses `using` declarations (test:node22 runs this file on Node 22 too). */
const nodeParsesUsing = (() => {
  try {
    new Function("{ using resource = null; }");
    return true;
  } catch {
    return false;
  }
})();

/** Wrong on purpose: a weft operation not awaited (lint), a missing name (types). */
const wrong: MarkdownSample = {
  markdown: "(wrong on purpose)",
  line: 1,
  kind: "module",
  code: 'import { run, sleep } from "@weft/core";\n\nawait run(async () => {\n  sleep(10);\n  console.log(missing);\n});\n',
  output: "something else\n",
};

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

  it.concurrent.for(run.map((w) => [sampleLocation(w.sample), w] as const))(
    "%s: prints what the page shows",
    async ([, { file, sample }], context) => {
      if (!nodeParsesUsing && USING_DECLARATION.test(sample.code)) {
        context.skip(
          `Node ${process.version} cannot parse \`using\` declarations (they arrive in Node 24)`,
        );
      }
      expect(await runProblems(file, sample.output!)).toEqual([]);
    },
  );
});
