/**
 * `pnpm test:node22`: the whole test suite on Node 22, the older LTS line
 * weft supports (`engines: node >=22`), as `pnpm test` runs it on Node 24.
 *
 * Node 22 comes from the npm registry's `node` package through npx (fetched
 * once, then cached by npm), so a machine with only Node and npm needs
 * nothing more. Vitest runs under that binary, so its workers and every
 * child process a test starts (`process.execPath`) are Node 22 too.
 *
 * Two passes, for Node 22's two `AsyncLocalStorage` implementations:
 *
 * 1. the whole suite with Node 22's default one, built on async_hooks
 *    (promise hooks);
 * 2. with `--experimental-async-context-frame` (the implementation Node 24
 *    uses by default), given through NODE_OPTIONS so that the children of
 *    the tests get it too: the packages whose behaviour rests on the async
 *    context (see {@link FRAME_PROJECTS}).
 *
 * A test that exercises something Node 22 lacks skips itself with
 * `context.skip(reason)`; the summary reporter lists every skipped test with
 * its reason, so nothing is skipped silently. Arguments are passed on to
 * vitest (a file filter, `--project @weft/core`); with arguments, only the
 * first pass runs. Usage:
 *
 *   node scripts/test-node22.ts [vitest arguments]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const VITEST = path.join(ROOT, "node_modules", "vitest", "vitest.mjs");
/** The packages the second pass (AsyncContextFrame) runs: where the async context matters. */
const FRAME_PROJECTS = ["@weft/core", "@weft/testing", "@weft/effection", "@weft/trace"];
const FRAME_FLAG = "--experimental-async-context-frame";

/** The registry's Node 22 binary (as bench/support/bench-node.ts's registryNode gets it). */
function registryNode22(): string {
  const result = spawnSync(
    "npx",
    ["--yes", "--loglevel=error", "-p", "node@22", "node", "-p", "process.execPath"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], cwd: ROOT },
  );
  const binary = result.stdout?.trim() ?? "";
  if (result.status !== 0 || binary === "" || !existsSync(binary)) {
    console.error(
      `test:node22: could not get Node 22 from the registry (npx --yes -p node@22 node: ${
        result.error?.message ?? `status ${result.status}`
      })`,
    );
    process.exit(2);
  }
  return binary;
}

/** `--experimental-strip-types` for a Node 22 older than 22.18, which does not strip types by default. */
function stripTypesFlag(node: string): string[] {
  const version = spawnSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout;
  const minor = Number(version.trim().split(".")[1]);
  return minor < 18 ? ["--experimental-strip-types"] : [];
}

interface Pass {
  readonly title: string;
  readonly nodeOptions: readonly string[];
  readonly args: readonly string[];
}

/** Runs vitest on `node` for `pass`; returns its exit status and duration. */
function runPass(node: string, pass: Pass): { status: number; seconds: number } {
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  const nodeOptions = [process.env.NODE_OPTIONS ?? "", ...pass.nodeOptions]
    .filter((option) => option !== "")
    .join(" ");
  console.log(`\n--- test:node22: ${pass.title} (Node ${version}; NODE_OPTIONS=${nodeOptions})`);
  const started = performance.now();
  const result = spawnSync(node, [VITEST, "run", ...pass.args], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  return { status: result.status ?? 1, seconds };
}

const node = registryNode22();
const strip = stripTypesFlag(node);
const extra = process.argv.slice(2);
const passes: Pass[] = [
  {
    title:
      extra.length === 0
        ? "the whole suite, AsyncLocalStorage on async_hooks (Node 22's default)"
        : `vitest ${extra.join(" ")}, AsyncLocalStorage on async_hooks (Node 22's default)`,
    nodeOptions: strip,
    args: extra,
  },
];
if (extra.length === 0) {
  passes.push({
    title: `${FRAME_PROJECTS.join(", ")} with ${FRAME_FLAG} (AsyncLocalStorage on AsyncContextFrame, as on Node 24)`,
    nodeOptions: [...strip, FRAME_FLAG],
    args: FRAME_PROJECTS.flatMap((project) => ["--project", project]),
  });
}

const results = passes.map((pass) => ({ pass, ...runPass(node, pass) }));
console.log("\n--- test:node22: summary");
for (const { pass, status, seconds } of results) {
  console.log(
    `${status === 0 ? "passed" : `FAILED (status ${status})`} in ${seconds} s: ${pass.title}`,
  );
}
process.exit(results.every(({ status }) => status === 0) ? 0 : 1);
