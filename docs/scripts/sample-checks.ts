/**
 * The checks of the markdown samples (docs/contributing.md): each sample that is a module is
 * written to docs/test/.samples/ (gitignored; its tsconfig extends the repository's base, and
 * `@weft/*` resolves through docs/node_modules to the workspace packages' sources), type-checked
 * in one TypeScript program, linted with @weft/eslint-plugin's recommended config over that same
 * program, and, when the page shows its output, run with Node and its stdout compared.
 *
 * Used by docs/test/samples.test.ts (CI) and docs/scripts/check-samples.ts (writers).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import plugin from "@weft/eslint-plugin";
import { ESLint } from "eslint";
import ts from "typescript";
import { type MarkdownSample, repositoryRoot, sampleId } from "./markdown-samples.ts";

/** Where the samples are written. */
export const samplesFolder = path.join(repositoryRoot, "docs", "test", ".samples");

/** A sample that is checked, and the file it was written to. */
export interface WrittenSample {
  readonly sample: MarkdownSample;
  /** The absolute path of the sample's .ts file. */
  readonly file: string;
}

/**
 * Writes every sample that is a module (not a fragment) to a fresh samples folder, with the
 * tsconfig that type-checks them.
 */
export function writeSamples(samples: readonly MarkdownSample[]): WrittenSample[] {
  fs.rmSync(samplesFolder, { recursive: true, force: true });
  fs.mkdirSync(samplesFolder, { recursive: true });
  fs.writeFileSync(
    path.join(samplesFolder, "tsconfig.json"),
    `${JSON.stringify(
      {
        extends: "../../../tsconfig.base.json",
        compilerOptions: { noEmit: true },
        include: ["*.ts"],
      },
      null,
      2,
    )}\n`,
  );
  const written: WrittenSample[] = [];
  for (const sample of samples) {
    if (sample.kind === "fragment") continue;
    const file = path.join(samplesFolder, `${sampleId(sample)}.ts`);
    fs.writeFileSync(file, sample.code);
    written.push({ sample, file });
  }
  return written;
}

/** The TypeScript program over the written samples (and what they import). */
export function samplesProgram(): ts.Program {
  const configFile = path.join(samplesFolder, "tsconfig.json");
  const config = ts.getParsedCommandLineOfConfigFile(configFile, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
    },
  });
  if (config === undefined) throw new Error(`cannot read ${configFile}`);
  return ts.createProgram({ rootNames: config.fileNames, options: config.options });
}

/** `line:column message` for each type error of one sample's file (lines of the sample). */
export function typeErrors(program: ts.Program, file: string): string[] {
  const source = program.getSourceFile(file);
  if (source === undefined) return [`not in the program: ${file}`];
  return [
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ].map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (diagnostic.start === undefined) return message;
    const { line, character } = source.getLineAndCharacterOfPosition(diagnostic.start);
    return `${line + 1}:${character + 1} TS${diagnostic.code}: ${message}`;
  });
}

/** `line:column rule: message` for each lint message, per file, over the same program. */
export async function lintMessages(
  program: ts.Program,
  files: readonly string[],
): Promise<Map<string, string[]>> {
  if (files.length === 0) return new Map(); // ESLint refuses an empty list of files
  const { recommended } = plugin.configs;
  const eslint = new ESLint({
    cwd: samplesFolder,
    overrideConfigFile: true,
    overrideConfig: [
      {
        ...recommended,
        languageOptions: {
          ...recommended.languageOptions,
          // The program the type check built: typed rules need no second one.
          parserOptions: { programs: [program], projectService: false },
        },
      },
    ] as ESLint.Options["overrideConfig"],
  });
  const results = await eslint.lintFiles([...files]);
  return new Map(
    results.map((result) => [
      result.filePath,
      result.messages.map((m) => `${m.line}:${m.column} ${m.ruleId ?? "parse"}: ${m.message}`),
    ]),
  );
}

/** Node's compile cache for the samples' runs, kept between runs like other tools' caches. */
const compileCache = path.join(repositoryRoot, "node_modules", ".cache", "weft-docs-samples");

/** How long a sample may run. */
const RUN_TIMEOUT_MS = 20_000;

/** What running a sample printed. */
export interface SampleRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
}

/**
 * Runs a written sample with this Node (`--conditions=weft-source`) in a fresh, empty working
 * folder of its own, removed afterwards: the files a sample writes (trace.json, notes.txt…) are
 * not shared with the samples running at the same time, nor left in the samples folder.
 */
export function runSample(file: string): Promise<SampleRun> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "weft-sample-"));
  const removeCwd = (): void => fs.rmSync(cwd, { recursive: true, force: true });
  return new Promise<SampleRun>((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=weft-source", file], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        // Node caches the compiled (and type-stripped) workspace sources the samples share:
        // a sample then starts in about 0.1 s instead of 0.3 s.
        NODE_COMPILE_CACHE: compileCache,
        ...process.env,
        NO_COLOR: "1",
        FORCE_COLOR: "0",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, RUN_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, exitCode, timedOut });
    });
  }).finally(removeCwd);
}

/** Output compared line by line without trailing whitespace or trailing blank lines. */
export function normalizeOutput(output: string): string {
  return output
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")
    .trimEnd();
}

/** Whether a sample prints: such a sample needs an output block or a no-run reason. */
export function prints(sample: MarkdownSample): boolean {
  // Any console method (debug, trace, group, count, timeEnd… print too).
  return /\bconsole\.\w+\s*\(|process\.std(out|err)\.write\s*\(/.test(sample.code);
}

/** Whether this Node parses `using` and `await using` declarations (Node 24 does, 22 does not). */
export const nodeParsesUsing: boolean = (() => {
  try {
    new Function("{ using x = null; }");
    return true;
  } catch {
    return false;
  }
})();

/**
 * Whether a sample declares `using` or `await using` variables, which Node strips the types of
 * but runs as written: Node 22 cannot parse them (samples.test.ts skips running those there).
 */
export function declaresUsing(code: string): boolean {
  const source = ts.createSourceFile("sample.ts", code, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node): boolean =>
    (ts.isVariableDeclarationList(node) &&
      (node.flags & ts.NodeFlags.BlockScoped & ~ts.NodeFlags.Const) === ts.NodeFlags.Using) ||
    ts.forEachChild(node, visit) === true;
  return visit(source);
}

/** The problems of a sample's markers (not its code). */
export function markerProblems(sample: MarkdownSample): string[] {
  const problems: string[] = [];
  if (sample.kind === "no-run" && (sample.noRunReason ?? "").trim() === "") {
    problems.push("`<!-- sample: no-run -->` needs a reason: `<!-- sample: no-run: why -->`");
  }
  if (sample.kind === "no-run" && sample.output !== undefined) {
    problems.push("a no-run sample cannot have an output block");
  }
  if (sample.kind === "fragment" && sample.output !== undefined) {
    problems.push("a fragment cannot have an output block");
  }
  if (sample.kind === "module" && sample.output === undefined && prints(sample)) {
    problems.push(
      "prints but shows no output: add a ```text block after `<!-- sample: output -->`, or `<!-- sample: no-run: why -->`",
    );
  }
  return problems;
}

/** The problems of running a sample that has an output block (none when it printed it). */
export async function runProblems(file: string, expected: string): Promise<string[]> {
  const run = await runSample(file);
  const problems: string[] = [];
  if (run.timedOut) problems.push(`did not finish within ${RUN_TIMEOUT_MS} ms`);
  else if (run.exitCode !== 0) {
    problems.push(`exited with ${run.exitCode}: ${run.stderr.trim().slice(0, 2000)}`);
  }
  const actual = normalizeOutput(run.stdout);
  if (actual !== normalizeOutput(expected)) {
    problems.push(`printed:\n${actual}\n--- but the page shows:\n${normalizeOutput(expected)}`);
  }
  return problems;
}
