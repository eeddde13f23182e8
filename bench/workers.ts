/**
 * Worker-thread benchmarks (issue 7), apart from run.ts's scenarios (which
 * compare libraries on the same work; here weft is compared with the pool it
 * is built on):
 *
 * 1. Overhead of a trivial call (`add(a, b)`) through `runInWorker` against
 *    `pool.run()` on a raw tinypool with the same options, in µs per call:
 *    one caller making calls one after another, and 8 concurrent callers
 *    (both sides at most one call per CPU at once: weft's default limiter,
 *    tinypool's maxThreads). Workers are started before the timing.
 * 2. Speed-up of examples/cpu-workers.ts's job — the primes below 3,000,000
 *    in 10 chunks — with 1, 2 and N (= os.availableParallelism()) workers,
 *    against the same count on the main thread.
 *
 *   node bench/workers.ts [--quick]
 *
 * Samples of weft and raw tinypool are interleaved (alternating which goes
 * first) so that a change of machine load hits both; each sample is a fresh
 * run / pool. Reported: the median (and nearest-rank p95) of the samples.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { ensureBenchNode } from "./support/bench-node.ts";
import { describeMachine, formatMachine } from "./support/machine.ts";
import { type Summary, summarize } from "./support/stats.ts";
import { formatValue } from "./support/table.ts";

ensureBenchNode(import.meta.filename);

// After ensureBenchNode: only now does @weft/core resolve to its sources.
const { CapacityLimiter, openNursery, run, runInWorker } = await import("@weft/core");
const { Tinypool } = await import("tinypool");
const { countPrimes } = await import("../examples/cpu-workers-job.ts");

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const quick = values.quick === true;

const CPUS = availableParallelism();
const ADD = new URL("./support/trivial-job.ts", import.meta.url);
const JOB = new URL("../examples/cpu-workers-job.ts", import.meta.url);
const PRIMES_LIMIT = 3_000_000;
const PRIMES_BELOW_LIMIT = 216_816;
const CHUNKS = 10;
const CONCURRENT_CALLERS = 8;

const PLAN = quick
  ? { calls: 400, warmupCalls: 50, overheadSamples: 3, cpuSamples: 2 }
  : { calls: 2_000, warmupCalls: 500, overheadSamples: 9, cpuSamples: 7 };

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`correctness check failed: ${message}`);
}

// ------------------------------------------------------------ overhead

/** `calls` calls of `call`, from `callers` concurrent callers, in µs per call. */
async function timeCalls(
  callers: number,
  call: (i: number) => Promise<number>,
  parallel: (fns: (() => Promise<void>)[]) => Promise<void>,
): Promise<number> {
  const perCaller = Math.ceil(PLAN.calls / callers);
  const loop = (offset: number) => async () => {
    for (let i = 0; i < perCaller; i++) {
      const value = offset + i;
      check((await call(value)) === value + 1, "add returned a wrong sum");
    }
  };
  const warm = Array.from({ length: callers }, (_, c) => loop(c * 1_000_000));
  // Warm-up: starts the workers and loads the module in each (not timed).
  for (let i = 0; i < Math.ceil(PLAN.warmupCalls / perCaller); i++) await parallel(warm);
  const start = performance.now();
  await parallel(warm);
  return ((performance.now() - start) * 1000) / (perCaller * callers);
}

async function weftOverhead(callers: number): Promise<number> {
  return run(() =>
    timeCalls(
      callers,
      (i) => runInWorker<number>(ADD, "add", [i, 1]),
      (fns) =>
        openNursery(async (nursery) => {
          for (const fn of fns) nursery.startSoon(fn);
        }),
    ),
  );
}

async function rawOverhead(callers: number): Promise<number> {
  // The options weft's pool uses (packages/core/src/worker-pool.ts), with
  // maxThreads at weft's default limiter's total.
  const pool = new Tinypool({
    filename: ADD.href,
    minThreads: 0,
    maxThreads: CPUS,
    idleTimeout: 10_000,
    concurrentTasksPerWorker: 1,
    isolateWorkers: false,
  });
  try {
    return await timeCalls(
      callers,
      (i) => pool.run([i, 1], { name: "addPair" }) as Promise<number>,
      async (fns) => {
        await Promise.all(fns.map((fn) => fn()));
      },
    );
  } finally {
    await pool.destroy();
  }
}

/** Median and p95, plus the best sample: on a shared machine, the least disturbed one. */
interface Result extends Summary {
  readonly best: number;
}

async function interleaved(
  samples: number,
  contenders: Record<string, () => Promise<number>>,
): Promise<Record<string, Result>> {
  const names = Object.keys(contenders);
  const values: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(s + k) % names.length]!;
      values[name]!.push(await contenders[name]!());
    }
  }
  return Object.fromEntries(
    names.map((n) => [n, { ...summarize(values[n]!), best: Math.min(...values[n]!) }]),
  );
}

// ------------------------------------------------------------ speed-up

/** Seconds to count the primes below PRIMES_LIMIT in CHUNKS calls, `workers` at a time. */
async function weftPrimes(workers: number): Promise<number> {
  return run(async () => {
    const limiter = new CapacityLimiter(workers);
    const size = Math.ceil(PRIMES_LIMIT / CHUNKS);
    const countIn = (from: number, to: number) =>
      runInWorker<number>(JOB, "countPrimes", [from, to], { limiter });
    // Start the workers and load the job in each (not timed).
    await openNursery(async (nursery) => {
      for (let w = 0; w < workers; w++) nursery.startSoon(() => countIn(0, 10_000));
    });
    let primes = 0;
    const start = performance.now();
    await openNursery(async (nursery) => {
      for (let i = 0; i < CHUNKS; i++) {
        nursery.startSoon(async () => {
          const found = await countIn(i * size, Math.min(PRIMES_LIMIT, (i + 1) * size));
          primes += found;
        });
      }
    });
    const seconds = (performance.now() - start) / 1000;
    check(primes === PRIMES_BELOW_LIMIT, `counted ${primes} primes`);
    return seconds;
  });
}

async function mainThreadPrimes(): Promise<number> {
  const start = performance.now();
  const primes = countPrimes(0, PRIMES_LIMIT);
  const seconds = (performance.now() - start) / 1000;
  check(primes === PRIMES_BELOW_LIMIT, `counted ${primes} primes`);
  return seconds;
}

// ------------------------------------------------------------ report

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

console.log(formatMachine(describeMachine()));
console.log(`mode: ${quick ? "quick" : "full"}`);
console.log();

const overheadRows: string[][] = [];
for (const callers of [1, CONCURRENT_CALLERS]) {
  const result = await interleaved(PLAN.overheadSamples, {
    weft: () => weftOverhead(callers),
    raw: () => rawOverhead(callers),
  });
  const weft = result.weft!;
  const raw = result.raw!;
  overheadRows.push([
    callers === 1 ? "1 caller (sequential)" : `${callers} concurrent callers`,
    `${formatValue(weft.median)} (p95 ${formatValue(weft.p95)})`,
    `${formatValue(raw.median)} (p95 ${formatValue(raw.p95)})`,
    `${formatValue(weft.median - raw.median)}`,
    `${(weft.median / raw.median).toFixed(2)}x`,
  ]);
}
console.log(
  `Trivial call add(a, b), µs per call (median of ${PLAN.overheadSamples} samples of ${PLAN.calls} calls; at most ${CPUS} calls at once):`,
);
for (const line of table(
  ["callers", "weft runInWorker", "raw tinypool", "weft - raw", "weft/raw"],
  overheadRows,
)) {
  console.log(line);
}
console.log();

const workerCounts = [...new Set([1, 2, CPUS])].sort((a, b) => a - b);
const cpu = await interleaved(PLAN.cpuSamples, {
  main: mainThreadPrimes,
  ...Object.fromEntries(workerCounts.map((w) => [String(w), () => weftPrimes(w)])),
});
const one = cpu["1"]!;
const main = cpu.main!;
const cpuRows = [
  [
    "main thread (no worker)",
    formatValue(main.median),
    formatValue(main.best),
    formatValue(main.p95),
    "-",
    "-",
  ],
  ...workerCounts.map((w) => {
    const s = cpu[String(w)]!;
    return [
      `${w} worker${w === 1 ? "" : "s"}${w === CPUS ? " (= CPUs)" : ""}`,
      formatValue(s.median),
      formatValue(s.best),
      formatValue(s.p95),
      `${(one.median / s.median).toFixed(2)}x`,
      `${(one.best / s.best).toFixed(2)}x`,
    ];
  }),
];
console.log(
  `CPU example: primes below ${PRIMES_LIMIT.toLocaleString("en-US")} in ${CHUNKS} chunks (median of ${PLAN.cpuSamples} samples; workers started before the timing):`,
);
for (const line of table(
  ["workers", "median s", "best s", "p95 s", "speed-up (medians)", "speed-up (bests)"],
  cpuRows,
)) {
  console.log(line);
}
