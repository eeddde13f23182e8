/**
 * Makes the benchmark run on the workspace's Node 24 with the flags it needs,
 * whatever Node started it: `pnpm bench` may run under another Node, and the
 * numbers are only comparable on the Node the project targets.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";

/** The repository root (bench/support/ is two levels below it). */
export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

/** Flags every benchmark process needs: `gc()` for settling, and weft from source. */
export const NODE_FLAGS = ["--expose-gc", "--conditions=weft-source"] as const;

/** Set in the re-executed process, so a misconfigured Node fails instead of looping. */
const REEXEC_MARK = "WEFT_BENCH_REEXEC";

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

/** Whether this process is Node 24 with `gc` exposed and @weft/* resolving to their sources. */
function isReady(): boolean {
  if (process.versions.node.split(".")[0] !== "24") return false;
  if (typeof globalThis.gc !== "function") return false;
  try {
    // Under the weft-source condition, @weft/core resolves to src/index.ts, not dist/.
    return import.meta.resolve("@weft/core").endsWith("/src/index.ts");
  } catch {
    return false;
  }
}

/**
 * Returns when this process is ready to benchmark; otherwise runs `entry` with
 * the same arguments under the workspace's Node 24 with {@link NODE_FLAGS} and
 * exits with its status (never returns).
 */
export function ensureNode24(entry: string): void {
  if (isReady()) return;
  if (process.env[REEXEC_MARK] !== undefined) {
    console.error(
      `bench: re-executed under ${process.execPath} (node ${process.version}) but it still lacks ` +
        `Node 24, --expose-gc or the weft-source condition; is the root "node" devDependency installed?`,
    );
    process.exit(2);
  }
  const node = workspaceNode();
  if (!existsSync(node)) {
    console.error(`bench: ${node} not found; run \`pnpm install\` at the repository root first`);
    process.exit(2);
  }
  const result = spawnSync(node, [...NODE_FLAGS, entry, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, [REEXEC_MARK]: "1" },
  });
  if (result.error !== undefined) {
    console.error(`bench: could not run ${node}: ${result.error.message}`);
    process.exit(2);
  }
  process.exit(result.status ?? 1);
}
