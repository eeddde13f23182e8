/**
 * `pnpm soak [--duration 10m] [--out docs/soak/soak.svg] [--seed N]`: weft's
 * serveHttp and serveTcp in a child process (soak/server/main.ts) under
 * sustained load from this one (soak/load), well-behaved and not, for the
 * duration (default 10 minutes). It fails — exit status 1, with the reasons —
 * if a series the server samples every second grows without bound
 * (analysis/trend.ts), if a request is lost or answered wrongly (the
 * clients' ledgers), if the health probe fails (the server stopped
 * accepting), if the server does not return to its idle tasks and
 * descriptors once the load is over, or if it does not shut down cleanly.
 * It writes the chart (SVG) and the report (JSON, same name) and prints a
 * one-line summary. See soak/README.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { argumentPath } from "@weft/bench/command-line-paths";
import { SERIES } from "./analysis/series.ts";
import { type TrendVerdict, trendOf } from "./analysis/trend.ts";
import { renderSoakChart } from "./chart.ts";
import { parseDuration } from "./duration.ts";
import { generateLoad, type LoadResult } from "./load/load-generator.ts";
import { SERVER_LIMITS, type ServerTotals } from "./protocol.ts";
import type { LedgerReport, SoakReport, StampedSample } from "./report.ts";
import { ServerProcess } from "./server-process.ts";
import { summaryLine } from "./summary.ts";

const USAGE = "usage: pnpm soak [--duration 10m] [--out docs/soak/soak.svg] [--seed N]";
const DEFAULT_OUT = "docs/soak/soak.svg";
/** How long the server has, once the load is over, to be back at its idle tasks and descriptors. */
const IDLE_WITHIN_MS = SERVER_LIMITS.keepAliveTimeout + SERVER_LIMITS.headersTimeout + 10_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function options(): { duration: number; out: string; seed: number } {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "10m" },
      out: { type: "string" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed))
    throw new RangeError(`--seed ${values.seed}: expected an integer`);
  const out = argumentPath(values.out, DEFAULT_OUT);
  return { duration: parseDuration(values.duration), out, seed };
}

async function main(): Promise<number> {
  const { duration, out, seed } = options();
  const problems: string[] = [];
  const samples: StampedSample[] = [];
  let loadStart = performance.now();
  const secondsSinceStart = () => (performance.now() - loadStart) / 1000;
  const server = new ServerProcess((sample) =>
    samples.push({ ...sample, at: secondsSinceStart() }),
  );

  let stopping = false;
  let serverDied = false;
  void server.exited.then((code) => {
    if (stopping) return;
    serverDied = true;
    problems.push(`the server process exited (${code}) at ${secondsSinceStart().toFixed(1)} s`);
  });

  let load: LoadResult = { ledgers: [], connections: 0 };
  let totals: ServerTotals | null = null;
  let loadSeconds = 0;
  try {
    const ready = await withTimeout(server.ready, 30_000, "the server started");
    console.log(
      `soak: serveHttp on 127.0.0.1:${ready.httpPort}, serveTcp echo on 127.0.0.1:${ready.tcpPort}; ` +
        `${duration} s of load (seed ${seed})`,
    );
    loadStart = performance.now();
    samples.push({ ...ready.sample, at: 0 });
    const stopAt = loadStart + duration * 1000;
    load = await generateLoad({
      httpPort: ready.httpPort,
      tcpPort: ready.tcpPort,
      running: () => !serverDied && performance.now() < stopAt,
      seed,
      clock: secondsSinceStart,
      progress: (ledgers) => {
        const last = samples.at(-1)!;
        const busy = ledgers.filter((l) => l.inFlight > 0).map((l) => `${l.kind} ${l.inFlight}`);
        console.log(
          `  ${secondsSinceStart().toFixed(0)} s: ${last.requests} requests, ${last.connections} connections, ` +
            `${last.tasks} tasks, ${last.fds} fds; in flight: ${busy.join(", ") || "none"}`,
        );
      },
    });
    loadSeconds = secondsSinceStart();

    // Back to idle: every connection closed, so the tasks and descriptors of before the load.
    const idleAt = performance.now() + IDLE_WITHIN_MS;
    const idle = () => {
      const last = samples.at(-1)!;
      return (
        last.at > loadSeconds && last.tasks === ready.sample.tasks && last.fds === ready.sample.fds
      );
    };
    while (!serverDied && !idle() && performance.now() < idleAt) await delay(250);
    if (!serverDied && !idle()) {
      const last = samples.at(-1)!;
      problems.push(
        `the server did not return to idle within ${IDLE_WITHIN_MS / 1000} s of the load's end: ` +
          `${last.tasks} tasks and ${last.fds} descriptors, ${ready.sample.tasks} and ${ready.sample.fds} before the load`,
      );
    }

    stopping = true;
    server.stop();
    totals = await withTimeout(
      server.stopped,
      SERVER_LIMITS.gracePeriod + 15_000,
      "the server shut down",
    );
    const code = await withTimeout(server.exited, 10_000, "the server process exited");
    if (code !== 0) problems.push(`the server process exited with ${code} after its shutdown`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
    server.kill();
  }

  // The trend test, on the samples taken under load after the warm-up.
  // Warm-up: the first quarter, and at least 30 s — in the first half minute the JIT
  // compiles the hot paths and RSS climbs with it, a climb that ends.
  const warmup = Math.max(30, duration / 4);
  const verdicts: Record<string, TrendVerdict> = {};
  for (const series of SERIES) {
    const points = samples.map((s) => ({ t: s.at, v: series.value(s) }));
    const verdict = trendOf(points, {
      warmup,
      end: duration,
      resolution: series.resolution,
      steps: series.steps === true,
    });
    verdicts[series.key] = verdict;
    if (verdict.growing) problems.push(`${series.label} grows without bound: ${verdict.reason}`);
  }
  for (const ledger of load.ledgers) problems.push(...ledger.problems());
  const handlerErrors = totals?.outcomes.error ?? 0;
  if (handlerErrors > 0)
    problems.push(`the handler failed ${handlerErrors} times (500s; see stderr)`);

  const passed = problems.length === 0;
  const summary = summaryLine({
    seconds: loadSeconds,
    samples: samples.filter((s) => s.at > 0),
    ledgers: load.ledgers,
    server: totals,
    clientConnections: load.connections,
    passed,
  });
  const report: SoakReport = {
    date: new Date().toISOString(),
    node: process.versions.node,
    seed,
    duration,
    loadSeconds,
    warmup,
    samples,
    verdicts,
    ledgers: load.ledgers.map((ledger) => ledger.toJSON() as LedgerReport),
    server: totals,
    clientConnections: load.connections,
    problems,
    summary,
  };
  mkdirSync(path.dirname(out), { recursive: true });
  const json = `${out.replace(/\.svg$/, "")}.json`;
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(out, renderSoakChart(report));

  for (const series of SERIES) console.log(`  ${series.label}: ${verdicts[series.key]!.reason}`);
  for (const ledger of load.ledgers) {
    const entry = ledger.toJSON() as LedgerReport;
    console.log(
      `  ${entry.kind}: ${entry.started} started; responses ${JSON.stringify(entry.responses)}, ` +
        `aborted ${entry.aborted}, disconnects ${JSON.stringify(entry.disconnects)}, ` +
        `unexpected ${entry.unexpected}, lost ${entry.lost}`,
    );
    for (const failure of entry.failures) console.log(`    ${failure}`);
  }
  if (totals !== null) console.log(`  server outcomes: ${JSON.stringify(totals.outcomes)}`);
  console.log(`wrote ${out} and ${json}`);
  for (const problem of problems) console.log(`FAIL: ${problem}`);
  console.log(summary);
  return passed ? 0 : 1;
}

process.exitCode = await main();
