/**
 * `node --conditions=weft-source docs/scripts/check-samples.ts [page.md ...]`: type-checks,
 * lints and runs the samples of the given markdown files (all of them without arguments) the
 * way CI does (docs/test/samples.test.ts), and prints each problem as `file:line`. Exits 1 if
 * there is any.
 */
import * as path from "node:path";
import {
  allSamples,
  type MarkdownSample,
  repositoryRoot,
  sampleLocation,
  samplesOf,
} from "./markdown-samples.ts";
import {
  declaresUsing,
  lintMessages,
  markerProblems,
  nodeParsesUsing,
  runProblems,
  samplesProgram,
  typeErrors,
  writeSamples,
} from "./sample-checks.ts";

const pages = process.argv.slice(2);
const samples: MarkdownSample[] =
  pages.length === 0
    ? allSamples()
    : pages.flatMap((page) =>
        samplesOf(path.relative(repositoryRoot, path.resolve(page)).split(path.sep).join("/")),
      );
const written = writeSamples(samples);
const program = samplesProgram();
const lint = await lintMessages(
  program,
  written.map((w) => w.file),
);

let problems = 0;
const report = (sample: MarkdownSample, what: string, messages: readonly string[]): void => {
  for (const message of messages) {
    problems++;
    console.log(`${sampleLocation(sample)} (${what}) ${message}`);
  }
};
for (const sample of samples) report(sample, "markers", markerProblems(sample));
for (const { sample, file } of written) {
  report(sample, "types", typeErrors(program, file));
  report(sample, "lint", lint.get(file) ?? []);
  if (sample.output === undefined) continue;
  if (!nodeParsesUsing && declaresUsing(sample.code)) {
    console.log(`${sampleLocation(sample)} (run) skipped: this Node cannot parse \`using\``);
  } else report(sample, "run", await runProblems(file, sample.output));
}
const count = (kind: MarkdownSample["kind"]): number =>
  samples.filter((s) => s.kind === kind).length;
console.log(
  `${samples.length} samples: ${written.length} checked (${samples.filter((s) => s.output !== undefined).length} run with their output, ${count("no-run")} not run), ${count("fragment")} fragments; ${problems} problem(s)`,
);
process.exitCode = problems === 0 ? 0 : 1;
