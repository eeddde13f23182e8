/**
 * The benchmark entry point: weft side by side with raw Node, p-limit,
 * Effection and Effect (issue 6).
 *
 *   pnpm bench [--quick] [--json FILE] [--only NAME,...] [--impl NAME,...]
 *              [--node MAJOR] [--node-flags=FLAGS]
 *
 * - Runs under the workspace's Node 24 (or, with `--node 22`, the registry's
 *   Node 22) with --expose-gc, the weft-source condition and any extra
 *   `--node-flags` (or $WEFT_BENCH_NODE_FLAGS), re-executing itself if started
 *   otherwise (support/bench-node.ts).
 * - Each scenario runs in its own forked worker (support/worker.ts), which
 *   loads whichever bench/impl/<impl>.ts modules exist and implement it,
 *   interleaves them run by run after warm-up, and checks every run's result.
 * - Prints the machine, then one table of per-operation medians with weft's
 *   ratios and goals (support/table.ts); `--json FILE` writes
 *   `{ node, nodeFlags, scenarios: [{ name, unit, results: { <impl>: { median, p95 } } }] }`
 *   plus the machine, mode, date and revision (`nodeFlags`: the Node flags
 *   beyond the ones every run has, e.g. `--experimental-async-context-frame`).
 *
 * Why not mitata or tinybench: both time a function call themselves, many
 * times, while here each run is a whole scenario (up to 100,000 tasks) that
 * measures its own quantity — excluding setup (connections, blocked tasks) or
 * measuring heap bytes rather than time. What those libraries add on top —
 * warm-up, several samples, GC between them, robust statistics — is the small
 * loop in support/worker.ts (median and nearest-rank p95 in support/stats.ts).
 *
 * The exit status is non-zero when an implementation fails or returns a wrong
 * check (so CI's quick run catches broken scenarios); missed goals are
 * reported, never enforced (CI machines are too noisy for timings).
 */
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import {
  IMPL_NAMES,
  type ImplName,
  SCENARIO_NAMES,
  type ScenarioName,
  SIZES,
  UNITS,
} from "./scenario.ts";
import {
  asyncContextFrame,
  DEFAULT_MAJOR,
  ensureBenchNode,
  extraNodeFlags,
  NODE_FLAGS_ENV,
  parseNodeFlags,
  REPO_ROOT,
} from "./support/bench-node.ts";
import { invocationPath } from "./support/command-line-paths.ts";
import { describeMachine, formatMachine, sourceRevision } from "./support/machine.ts";
import { type Summary, summarize } from "./support/stats.ts";
import { formatTable, formatValue, missedGoals, type ScenarioResult } from "./support/table.ts";
import type { Job, JobResult, RunPlan } from "./support/worker.ts";

const USAGE =
  "usage: pnpm bench [--quick] [--json FILE] [--only NAME,...] [--impl NAME,...]\n" +
  "                  [--node MAJOR] [--node-flags=FLAGS]   (FLAGS: space-separated Node flags)";

/**
 * Runs per scenario and implementation. Full: 2 warm-up runs (JIT, inline
 * caches, heap sizing; 1 for a run over 5 s), then as many measured runs as
 * fit in 10 s, at least 3 and at most 15 — a stable median for the fast
 * implementations, while a library taking 20 s per run (Effection's
 * spawn-join at 100,000 tasks) does not make the benchmark take an hour.
 * Quick (CI smoke run): 1 warm-up + 2 measured runs.
 */
const PLANS: Record<"full" | "quick", RunPlan> = {
  full: { warmup: 2, slowRunMs: 5_000, minRuns: 3, maxRuns: 15, budgetMs: 10_000 },
  quick: { warmup: 1, slowRunMs: 0, minRuns: 2, maxRuns: 2, budgetMs: 0 },
};

/**
 * memory-per-task's heap bytes are deterministic run to run (p95 = median in
 * practice: measured 1,096 B for weft in all of 11 runs), while each run of a
 * library at 10 KB/task collects a gigabyte heap: a few runs say it all.
 */
const MEMORY_PLAN: RunPlan = { warmup: 1, slowRunMs: 0, minRuns: 3, maxRuns: 5, budgetMs: 10_000 };

function planFor(scenario: ScenarioName, mode: "full" | "quick"): RunPlan {
  return mode === "full" && scenario === "memory-per-task" ? MEMORY_PLAN : PLANS[mode];
}

/** A worker taking longer than this is stuck (a deadlock in an implementation): killed. */
const WORKER_TIMEOUT_MS = { full: 15 * 60_000, quick: 60_000 };

function parseList<T extends string>(
  flag: string,
  value: string | undefined,
  known: readonly T[],
): T[] {
  if (value === undefined) return [...known];
  const names = value.split(",").filter((name) => name !== "");
  const unknown = names.filter((name) => !(known as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`--${flag}: unknown ${unknown.join(", ")}; known: ${known.join(", ")}`);
    console.error(USAGE);
    process.exit(2);
  }
  return known.filter((name) => names.includes(name));
}

function parseOptions() {
  try {
    const { values } = parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        json: { type: "string" },
        only: { type: "string" },
        impl: { type: "string" },
        node: { type: "string" },
        "node-flags": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help === true) {
      console.log(USAGE);
      process.exit(0);
    }
    const node = Number(values.node ?? DEFAULT_MAJOR);
    if (!Number.isInteger(node)) throw new Error(`--node: ${values.node} is not a major version`);
    return {
      node,
      nodeFlags: parseNodeFlags(values["node-flags"] ?? process.env[NODE_FLAGS_ENV]),
      mode: values.quick === true ? ("quick" as const) : ("full" as const),
      json: values.json,
      scenarios: parseList("only", values.only, SCENARIO_NAMES),
      impls: parseList("impl", values.impl, IMPL_NAMES),
    };
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    process.exit(2);
  }
}

/** Runs one scenario in a fresh worker process and returns what it measured. */
function runWorker(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const worker = fork(
      path.join(import.meta.dirname, "support", "worker.ts"),
      [JSON.stringify(job)],
      // The worker's stdout goes to our stderr: the table alone is on stdout.
      { execArgv: process.execArgv, stdio: ["ignore", 2, 2, "ipc"] },
    );
    let result: JobResult | undefined;
    const timer = setTimeout(() => {
      worker.kill("SIGKILL");
      reject(new Error(`timed out after ${WORKER_TIMEOUT_MS[job.mode] / 1000} s`));
    }, WORKER_TIMEOUT_MS[job.mode]);
    worker.on("message", (message) => {
      result = message as JobResult;
    });
    worker.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    worker.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (result !== undefined) resolve(result);
      else reject(new Error(`the worker exited (${signal ?? `code ${code}`}) without a result`));
    });
  });
}

function unitOf(scenario: ScenarioName): string {
  const { unit, per } = UNITS[scenario];
  return `${unit}/${per}`;
}

async function main(): Promise<void> {
  const options = parseOptions();
  ensureBenchNode(import.meta.filename, { major: options.node, flags: options.nodeFlags });
  const machine = describeMachine();
  const revision = sourceRevision(REPO_ROOT);
  const nodeFlags = extraNodeFlags();
  console.log(formatMachine(machine) + (nodeFlags.length > 0 ? `, ${nodeFlags.join(" ")}` : ""));
  console.log(
    `weft ${revision}, ${options.mode} mode, scenarios: ${options.scenarios.join(", ")}\n`,
  );

  const isolate = !asyncContextFrame();
  if (isolate) {
    console.log(
      "(AsyncLocalStorage runs on async_hooks here: once weft or raw-context enters a store, promise\n" +
        " hooks slow every promise of the process, so each implementation runs in its own worker,\n" +
        " not interleaved; --node-flags=--experimental-async-context-frame avoids that on Node 22)\n",
    );
  }
  const started = performance.now();
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  for (const scenario of options.scenarios) {
    const size = SIZES[scenario][options.mode];
    process.stderr.write(`${scenario} (n=${size.n}, m=${size.m}) ...\n`);
    const t0 = performance.now();
    const job: Job = {
      scenario,
      mode: options.mode,
      impls: options.impls,
      plan: planFor(scenario, options.mode),
    };
    // Without AsyncContextFrame, each implementation gets its own worker (see asyncContextFrame).
    const groups = isolate ? job.impls.map((impl) => [impl]) : [job.impls];
    const outcome: JobResult = { scenario, samples: {}, extras: {}, failures: {} };
    for (const impls of groups) {
      try {
        const part = await runWorker({ ...job, impls });
        Object.assign(outcome.samples, part.samples);
        Object.assign(outcome.extras, part.extras);
        Object.assign(outcome.failures, part.failures);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const name = isolate ? `${scenario} / ${impls[0]}` : scenario;
        failures.push(`${name}: ${message}`);
        process.stderr.write(`  ${name}: FAILED — ${message}\n`);
      }
    }
    const summaries: Partial<Record<ImplName, Summary>> = {};
    for (const impl of IMPL_NAMES) {
      const samples = outcome.samples[impl];
      if (samples === undefined || samples.length === 0) continue;
      const extras = Object.entries(outcome.extras[impl] ?? {});
      const summary: Summary =
        extras.length === 0
          ? summarize(samples)
          : {
              ...summarize(samples),
              extras: Object.fromEntries(
                extras.map(([name, values]) => [name, summarize(values).median]),
              ),
            };
      summaries[impl] = summary;
      const extrasText = Object.entries(summary.extras ?? {})
        .map(([name, value]) => `, ${name} ${formatValue(value)}`)
        .join("");
      process.stderr.write(
        `  ${impl.padEnd(10)} median ${formatValue(summary.median).padStart(9)}  ` +
          `p95 ${formatValue(summary.p95).padStart(9)} ${unitOf(scenario)}  ` +
          `(${samples.length} runs${extrasText})\n`,
      );
    }
    for (const [impl, message] of Object.entries(outcome.failures)) {
      // The stack went to stderr as it happened; the summary keeps its first line.
      failures.push(`${scenario} / ${impl}: ${message.split("\n")[0]}`);
    }
    process.stderr.write(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    // A scenario none of the selected implementations implements has no row.
    if (Object.keys(summaries).length > 0) {
      results.push({ name: scenario, unit: unitOf(scenario), results: summaries });
    }
  }
  const seconds = (performance.now() - started) / 1000;

  console.log(formatTable(results).join("\n"));
  console.log(`\n(${seconds.toFixed(1)} s)`);
  if (options.mode === "quick") {
    console.log("(quick mode: a smoke run of small sizes; its numbers mean nothing)");
  }

  if (options.json !== undefined) {
    const file = invocationPath(options.json);
    mkdirSync(path.dirname(file), { recursive: true });
    const report = {
      node: process.versions.node,
      nodeFlags,
      // Four significant digits: the runs do not agree beyond that, and diffs stay readable.
      scenarios: results.map((result) => ({
        ...result,
        results: Object.fromEntries(
          Object.entries(result.results).map(([impl, { median, p95, extras }]) => [
            impl,
            {
              median: Number(median.toPrecision(4)),
              p95: Number(p95.toPrecision(4)),
              // Only scenarios with extras (http-hello's latencies) have the key.
              ...(extras === undefined
                ? {}
                : {
                    extras: Object.fromEntries(
                      Object.entries(extras).map(([name, value]) => [
                        name,
                        Number(value.toPrecision(4)),
                      ]),
                    ),
                  }),
            },
          ]),
        ),
      })),
      machine,
      revision,
      mode: options.mode,
      date: new Date().toISOString(),
      seconds: Math.round(seconds),
    };
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }

  const missed = missedGoals(results);
  if (missed.length > 0) console.log(`\ngoals missed:\n  ${missed.join("\n  ")}`);
  if (failures.length > 0) {
    console.error(`\nBENCHMARK FAILURES (results missing or wrong):\n  ${failures.join("\n  ")}`);
    process.exitCode = 1;
  }
}

await main();
