/**
 * The JSON report bench/run.ts writes with `--json` (docs/bench/results*.json),
 * as the tools that read it back (chart.ts, readme-table.ts) see it.
 */
import { readFileSync } from "node:fs";
import type { ScenarioResult } from "./table.ts";

export interface Report {
  /** The Node version the run used, and any extra flags it ran with. */
  readonly node: string;
  readonly nodeFlags?: readonly string[];
  readonly scenarios: readonly ScenarioResult[];
  readonly machine?: { cpu?: string; cores?: number; memoryGiB?: number; platform?: string };
  readonly mode?: string;
  readonly date?: string;
}

/** Reads a report, failing with the file's name if it is not one. */
export function readReport(file: string): Report {
  const report = JSON.parse(readFileSync(file, "utf8")) as Report;
  if (!Array.isArray(report.scenarios)) throw new Error(`${file}: no "scenarios" array`);
  return report;
}
