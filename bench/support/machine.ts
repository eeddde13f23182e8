/** A description of the machine and Node the benchmark runs on, printed and saved with results. */
import { execFileSync } from "node:child_process";
import * as os from "node:os";

/** What the results depend on besides the code. */
export interface Machine {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
}

/** The current machine and Node. */
export function describeMachine(): Machine {
  return {
    node: process.versions.node,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch} (${os.release()})`,
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** One line for the top of the output. */
export function formatMachine(machine: Machine): string {
  return (
    `Node ${machine.node} (V8 ${machine.v8}) on ${machine.platform}, ` +
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB`
  );
}

/**
 * The commit measured, "+dirty" when the runtime's sources differ from it
 * (read-only git commands; "unknown" outside a git checkout).
 */
export function sourceRevision(repoRoot: string): string {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: "pipe" }).trim();
    const head = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain", "--", "packages", "bench") !== "";
    return `${head}${dirty ? "+dirty" : ""}`;
  } catch {
    return "unknown";
  }
}
