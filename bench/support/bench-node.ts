/**
 * Makes a benchmark run on the Node it is meant for, with the flags it needs,
 * whatever Node started it: `pnpm bench` may run under another Node, and the
 * numbers are only comparable on a known Node.
 *
 * - Node 24 (the default, the project's target): the root's `node`
 *   devDependency, the workspace's own binary.
 * - Another major (`pnpm bench --node 22`): the registry's `node` package of
 *   that major, through npx as the root's `test:node22` script gets it
 *   (`npx --yes -p node@22 node`; downloaded once, then cached by npm), asked
 *   for its `process.execPath` so that the benchmark runs the binary itself.
 *
 * Both run with {@link NODE_FLAGS} plus any extra flags asked for (`pnpm bench
 * --node 22 --node-flags=--experimental-async-context-frame`, or the
 * `WEFT_BENCH_NODE_FLAGS` environment variable; several flags separated by
 * spaces). The re-executed process checks that it got the major and the flags
 * (and fails rather than loop if not). The benchmark's `.ts` files need type
 * stripping: on by default from Node 22.18 and in 24; an older 22 gets
 * `--experimental-strip-types` added.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";

/** The repository root (bench/support/ is two levels below it). */
export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

/** Flags every benchmark process needs: `gc()` for settling, and weft from source. */
export const NODE_FLAGS = ["--expose-gc", "--conditions=weft-source"] as const;

/** The Node major the benchmarks run on unless told otherwise (the workspace's). */
export const DEFAULT_MAJOR = 24;

/** Extra Node flags from the environment (space-separated), when no `--node-flags` is given. */
export const NODE_FLAGS_ENV = "WEFT_BENCH_NODE_FLAGS";

/** Set in the re-executed process, so a misconfigured Node fails instead of looping. */
const REEXEC_MARK = "WEFT_BENCH_REEXEC";

/** What to run on. */
export interface BenchNode {
  /** The Node major version (22 or later: older ones cannot run `.ts` files). */
  readonly major?: number;
  /** Node flags besides {@link NODE_FLAGS} (e.g. `--experimental-async-context-frame`). */
  readonly flags?: readonly string[];
}

/** Splits a space-separated list of flags (`--node-flags`, {@link NODE_FLAGS_ENV}). */
export function parseNodeFlags(text: string | undefined): string[] {
  return (text ?? "").split(/\s+/).filter((flag) => flag !== "");
}

/**
 * The Node 24 binary of the root's `node` devDependency: the package's own
 * binary when it can be resolved (no shell shim in between), else the
 * workspace's `node_modules/.bin/node`.
 */
export function workspaceNode(): string {
  try {
    const require = createRequire(path.join(REPO_ROOT, "package.json"));
    const binary = path.join(path.dirname(require.resolve("node/package.json")), "bin", "node");
    if (existsSync(binary)) return binary;
  } catch {
    // not resolvable: fall back to the bin link below
  }
  return path.join(REPO_ROOT, "node_modules", ".bin", "node");
}

/**
 * The registry's Node of `major` (the `node` package, fetched by npx like the
 * root's `test:node22`), as the path of its binary; exits on failure.
 */
export function registryNode(major: number): string {
  const result = spawnSync(
    "npx",
    ["--yes", "--loglevel=error", "-p", `node@${major}`, "node", "-p", "process.execPath"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], cwd: REPO_ROOT },
  );
  const binary = result.stdout?.trim() ?? "";
  if (result.status !== 0 || binary === "" || !existsSync(binary)) {
    console.error(
      `bench: could not get Node ${major} from the registry ` +
        `(npx --yes -p node@${major} node: ${result.error?.message ?? `status ${result.status}`})`,
    );
    process.exit(2);
  }
  return binary;
}

/** The binary of `major`: the workspace's for {@link DEFAULT_MAJOR}, else the registry's. */
function nodeBinary(major: number): string {
  if (major !== DEFAULT_MAJOR) return registryNode(major);
  const node = workspaceNode();
  if (!existsSync(node)) {
    console.error(`bench: ${node} not found; run \`pnpm install\` at the repository root first`);
    process.exit(2);
  }
  return node;
}

/** `--experimental-strip-types` when `version` (e.g. "22.12.0") does not strip types by default. */
function stripTypesFlag(version: string): string[] {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major < 22 || (major === 22 && minor < 18) ? ["--experimental-strip-types"] : [];
}

/** Whether this process is `major` with its flags, `gc` exposed and @weft/* from source. */
function isReady(major: number, flags: readonly string[]): boolean {
  if (Number(process.versions.node.split(".")[0]) !== major) return false;
  if (typeof globalThis.gc !== "function") return false;
  if (!flags.every((flag) => process.execArgv.includes(flag))) return false;
  try {
    // Under the weft-source condition, @weft/core resolves to src/index.ts, not dist/.
    return import.meta.resolve("@weft/core").endsWith("/src/index.ts");
  } catch {
    return false;
  }
}

/**
 * The flags this process was started with beyond {@link NODE_FLAGS} and
 * `--experimental-strip-types` (for the report: `--experimental-async-context-frame`).
 */
export function extraNodeFlags(): string[] {
  const known: readonly string[] = [...NODE_FLAGS, "--experimental-strip-types"];
  return process.execArgv.filter((flag) => !known.includes(flag));
}

/**
 * Whether `AsyncLocalStorage` is built on AsyncContextFrame in this process
 * (Node 24 unless `--no-async-context-frame`; Node 22 only with
 * `--experimental-async-context-frame`). Without it, it runs on async_hooks,
 * and the first `run()` of any store turns on promise hooks for the rest of
 * the process: measured on Node 22.23, a raw spawn + join went from ~290 to
 * ~730 ns per task after one `storage.run` (with the flag: no slowdown).
 */
export function asyncContextFrame(): boolean {
  const major = Number(process.versions.node.split(".")[0]);
  return major >= 24
    ? !process.execArgv.includes("--no-async-context-frame")
    : process.execArgv.includes("--experimental-async-context-frame");
}

/**
 * Returns when this process is ready to benchmark on `node.major` (default
 * {@link DEFAULT_MAJOR}) with `node.flags`; otherwise runs `entry` with the
 * same arguments under that Node with {@link NODE_FLAGS} and those flags, and
 * exits with its status (never returns).
 */
export function ensureBenchNode(entry: string, node: BenchNode = {}): void {
  const major = node.major ?? DEFAULT_MAJOR;
  const flags = node.flags ?? [];
  if (!Number.isInteger(major) || major < 22) {
    console.error(`bench: Node ${major} cannot run the benchmark's .ts files; use 22 or later`);
    process.exit(2);
  }
  if (isReady(major, flags)) return;
  if (process.env[REEXEC_MARK] !== undefined) {
    console.error(
      `bench: re-executed under ${process.execPath} (node ${process.version}) but it still lacks ` +
        `Node ${major}, --expose-gc, the weft-source condition or one of ${flags.join(" ") || "no"} ` +
        `extra flags; for Node ${DEFAULT_MAJOR}, is the root "node" devDependency installed?`,
    );
    process.exit(2);
  }
  const binary = nodeBinary(major);
  const version = spawnSync(binary, ["-p", "process.versions.node"], { encoding: "utf8" });
  const strip = stripTypesFlag(version.stdout?.trim() ?? "0");
  const result = spawnSync(
    binary,
    [...NODE_FLAGS, ...strip, ...flags, entry, ...process.argv.slice(2)],
    { stdio: "inherit", env: { ...process.env, [REEXEC_MARK]: "1" } },
  );
  if (result.error !== undefined) {
    console.error(`bench: could not run ${binary}: ${result.error.message}`);
    process.exit(2);
  }
  process.exit(result.status ?? 1);
}
