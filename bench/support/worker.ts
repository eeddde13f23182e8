/**
 * The benchmark worker: measures ONE scenario in a fresh process (bench/run.ts
 * forks one per scenario), so that heap growth, JIT state and leftover timers
 * or sockets of one scenario cannot bias the next — memory-per-task in
 * particular measures the heap, which earlier scenarios would leave fragmented.
 *
 * Within the process, the implementations of the scenario are interleaved run
 * by run (round r runs each once, starting from a different one each round) so
 * a change in machine load hits all alike; a slow implementation makes fewer
 * runs (see {@link RunPlan}) and leaves the rounds early. Every run starts after the event
 * loop has settled and two full GCs, and its `check` is compared with
 * `expectedCheck`: an implementation that fails or returns a wrong check is
 * dropped from the scenario and reported by name.
 *
 * The job comes as JSON in argv[2]; the result goes back over the IPC channel.
 */
import { existsSync } from "node:fs";
import {
  expectedCheck,
  IMPL_NAMES,
  type Implementation,
  type ImplName,
  operations,
  type Runner,
  SCENARIO_NAMES,
  type ScenarioName,
  SIZES,
  UNITS,
} from "../scenario.ts";

/** How many runs to make (see bench/run.ts for the values). */
export interface RunPlan {
  /** Unmeasured runs of each implementation, before the measured ones. */
  readonly warmup: number;
  /**
   * An implementation whose first warm-up run takes longer than this makes no
   * further warm-up runs: a run that long has warmed the JIT up, and a slow
   * library must not make the whole benchmark take an hour.
   */
  readonly slowRunMs: number;
  /** Fewest measured runs of each implementation. */
  readonly minRuns: number;
  /** Most measured runs of each implementation. */
  readonly maxRuns: number;
  /**
   * Wall-time budget of one implementation's measured runs: each makes as many
   * runs (between min and max) as its last warm-up run says fit — so the fast
   * ones get a stable median, and the slow ones do not take minutes.
   */
  readonly budgetMs: number;
}

/** What bench/run.ts asks a worker to do. */
export interface Job {
  readonly scenario: ScenarioName;
  readonly mode: "full" | "quick";
  /** Implementations to consider (those that implement the scenario run). */
  readonly impls: readonly ImplName[];
  readonly plan: RunPlan;
}

/** What a worker sends back. */
export interface JobResult {
  readonly scenario: ScenarioName;
  /** Per-operation values of the measured runs, in the scenario's unit, per implementation. */
  readonly samples: Partial<Record<ImplName, number[]>>;
  /** The runs' extras (see `RunResult.extras`), by implementation and name, measured runs only. */
  readonly extras: Partial<Record<ImplName, Record<string, number[]>>>;
  /** Why an implementation has no result: it threw, or its check was wrong. */
  readonly failures: Partial<Record<ImplName, string>>;
}

function settle(): Promise<void> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error("the benchmark worker needs node --expose-gc");
  // Let callbacks, timers and finalizers left by the previous run go first.
  return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    gc();
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => gc());
  });
}

async function loadRunners(
  scenario: ScenarioName,
  impls: readonly ImplName[],
  failures: Partial<Record<ImplName, string>>,
): Promise<{ impl: ImplName; runner: Runner }[]> {
  const runners: { impl: ImplName; runner: Runner }[] = [];
  for (const impl of impls) {
    const url = new URL(`../impl/${impl}.ts`, import.meta.url);
    if (!existsSync(url)) continue; // not written (yet): the implementation is simply absent
    try {
      const module = (await import(url.href)) as { scenarios?: Implementation };
      const runner = module.scenarios?.[scenario];
      if (runner !== undefined) runners.push({ impl, runner });
    } catch (error) {
      failures[impl] = `could not load bench/impl/${impl}.ts: ${describe(error)}`;
      process.stderr.write(`  ${scenario} ${impl}: FAILED — ${failures[impl]}\n`);
    }
  }
  return runners;
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function measure(job: Job): Promise<JobResult> {
  const { scenario, mode, plan } = job;
  const size = SIZES[scenario][mode];
  const expected = expectedCheck(scenario, size);
  // ms → ns for time units; memory runners already measure bytes.
  const scale = (UNITS[scenario].unit === "ns" ? 1e6 : 1) / operations(scenario, size);
  const failures: Partial<Record<ImplName, string>> = {};
  let active = await loadRunners(scenario, job.impls, failures);
  const samples: Partial<Record<ImplName, number[]>> = {};
  const extras: Partial<Record<ImplName, Record<string, number[]>>> = {};
  for (const { impl } of active) samples[impl] = [];

  /** Wall time of each implementation's last run, including its setup. */
  const lastMs = new Map<ImplName, number>();

  /**
   * One round: each of `runners` once, starting at the `first`th (so that no
   * implementation always runs right after the same other one), after a GC.
   */
  const round = async (runners: typeof active, first: number, record: boolean): Promise<void> => {
    const order = runners.map((_, k) => runners[(first + k) % runners.length]!);
    for (const { impl, runner } of order) {
      if (failures[impl] !== undefined) continue;
      await settle();
      const t0 = performance.now();
      try {
        const { check, measured, extras: runExtras } = await runner(size);
        if (check !== expected) {
          throw new Error(`check ${check}, expected ${expected} (the work was not all done)`);
        }
        if (!Number.isFinite(measured)) throw new Error(`measured ${measured}`);
        if (record) {
          samples[impl]!.push(measured * scale);
          for (const [name, value] of Object.entries(runExtras ?? {})) {
            const byName = extras[impl] ?? {};
            extras[impl] = byName;
            const values = byName[name] ?? [];
            byName[name] = values;
            values.push(value);
          }
        }
      } catch (error) {
        failures[impl] = describe(error);
        delete samples[impl];
        delete extras[impl];
        process.stderr.write(`  ${scenario} ${impl}: FAILED — ${describe(error)}\n`);
      }
      lastMs.set(impl, performance.now() - t0);
    }
    active = active.filter(({ impl }) => failures[impl] === undefined);
  };

  for (let w = 0; w < plan.warmup; w++) {
    await round(
      active.filter(({ impl }) => w === 0 || lastMs.get(impl)! <= plan.slowRunMs),
      w,
      false,
    );
  }
  const runs = new Map<ImplName, number>();
  for (const { impl } of active) {
    const fit = Math.floor(plan.budgetMs / Math.max(lastMs.get(impl)!, 1e-3));
    runs.set(impl, Math.max(plan.minRuns, Math.min(plan.maxRuns, fit)));
  }
  // Interleaved rounds; an implementation leaves them once it has its runs.
  for (let r = 0; active.length > 0; r++) {
    const due = active.filter(({ impl }) => r < runs.get(impl)!);
    if (due.length === 0) break;
    await round(due, r, true);
  }
  return { scenario, samples, extras, failures };
}

function parseJob(text: string | undefined): Job {
  if (text === undefined) throw new Error("usage: worker.ts '<job JSON>' (forked by bench/run.ts)");
  const job = JSON.parse(text) as Job;
  if (!(SCENARIO_NAMES as readonly string[]).includes(job.scenario)) {
    throw new Error(`unknown scenario ${job.scenario}`);
  }
  if (!job.impls.every((impl) => (IMPL_NAMES as readonly string[]).includes(impl))) {
    throw new Error(`unknown implementation in ${job.impls.join(",")}`);
  }
  return job;
}

const result = await measure(parseJob(process.argv[2]));
if (process.send === undefined) {
  console.log(JSON.stringify(result));
} else {
  // Exit once the result is handed over: a leftover handle must not keep the worker alive.
  process.send(result, () => process.exit(0));
}
