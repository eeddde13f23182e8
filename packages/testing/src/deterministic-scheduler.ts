import type { Scheduler, Task } from "@weft/core";
import {
  checkArray,
  checkBoolean,
  checkChoice,
  checkCount,
  checkFinite,
  checkOptionsObject,
} from "@weft/core/validate";

/** How a {@link DeterministicScheduler} chooses once its recorded choices run out. */
export type SchedulingMode = "uniform" | "pct";

/** Options of `new DeterministicScheduler()`: recorded choices, then seeded ones. */
export interface DeterministicSchedulerOptions {
  /** Seed of the pseudo-random choices made after `choices` run out (default 1). */
  seed?: number;
  /**
   * Choices to make first, one per choice point (a step with two or more
   * runnable tasks): the index into the runnable list, in the order the tasks
   * became runnable (0 is the plain FIFO order). Feed back a scheduler's
   * `.choices` to replay its run exactly.
   */
  choices?: readonly number[];
  /**
   * What a recorded choice that is not a valid index means: `false` (default)
   * is an `Error` (the replay diverged from the recorded run); `true` takes it
   * modulo the number of runnable tasks (what `schedules()` uses).
   */
  wrapChoices?: boolean;
  /**
   * After `choices` run out: `"random"` (default) chooses with the seeded
   * generator and `mode`; `"fifo"` always takes the first runnable task.
   */
  afterChoices?: "random" | "fifo";
  /**
   * `"uniform"` (default): every runnable task equally likely. `"pct"`:
   * probabilistic concurrency testing — each task gets a random priority, the
   * highest-priority runnable task runs, and at `pctDepth - 1` random choice
   * points the task chosen there drops to the lowest priority. Finds bugs
   * that need a few specific preemptions much more often than uniform.
   */
  mode?: SchedulingMode;
  /** PCT: bug depth d, i.e. d - 1 priority change points (default 3). */
  pctDepth?: number;
  /** PCT: expected number of choice points, the range of the change points (default 20). */
  pctChoicePoints?: number;
  /** Steps kept for {@link DeterministicScheduler.trace} (default 10,000; 0 keeps none). */
  traceLimit?: number;
}

const defaultTraceLimit = 10_000;

/**
 * A {@link Scheduler} that runs one task step at a time and records every
 * choice it makes, so any run can be replayed exactly:
 *
 * ```ts
 * const scheduler = new DeterministicScheduler({ seed: 42 });
 * await run(main, { scheduler, clock: new MockClock({ autojumpThreshold: 0 }) });
 * // later, the same interleaving again:
 * await run(main, { scheduler: new DeterministicScheduler({ choices: scheduler.choices }) });
 * ```
 *
 * Only choice points — steps where two or more tasks are runnable — consume
 * and record a choice; a step with a single runnable task is forced. Choice 0
 * always picks the task that became runnable first, so all-zero choices are
 * the plain FIFO order. Each run starts from the options again (see
 * `startRun`), so a scheduler object reused for another run replays the same
 * run; `choices` and the trace describe the latest one. fast-check does not
 * reuse one: it clones a generated scheduler (`[fc.cloneMethod]`) before
 * every further run, so a counterexample's scheduler prints its own run.
 */
export class DeterministicScheduler implements Scheduler {
  readonly #options: DeterministicSchedulerOptions;
  readonly #replay: readonly number[];
  readonly #wrap: boolean;
  readonly #fifoAfter: boolean;
  readonly #pct: boolean;
  readonly #seed: number;
  readonly #pctDepth: number;
  readonly #pctChoicePoints: number;
  // Per-run state, from the options again at each run's start (startRun).
  #choices: number[] = [];
  #state = 1;
  #steps = 0;
  // PCT state.
  #priorities = new WeakMap<Task, number>();
  #changePoints: number[] = [];
  #nextLowPriority = 0;
  // Trace: per kept step, the chosen task and the runnable tasks (only kept at choice points).
  readonly #traceLimit: number;
  #traceChosen: Task[] = [];
  #traceRunnable: (readonly Task[] | number)[] = [];

  constructor(options: DeterministicSchedulerOptions = {}) {
    checkOptionsObject("options", options);
    const {
      seed = 1,
      choices = [],
      wrapChoices = false,
      afterChoices = "random",
      mode = "uniform",
      pctDepth = 3,
      pctChoicePoints = 20,
      traceLimit = defaultTraceLimit,
    } = options;
    checkFinite("options.seed", seed);
    checkArray("options.choices", choices);
    checkBoolean("options.wrapChoices", wrapChoices);
    for (const choice of choices) checkCount("each of options.choices", choice);
    checkChoice("options.afterChoices", afterChoices, ["random", "fifo"]);
    checkChoice("options.mode", mode, ["uniform", "pct"]);
    checkCount("options.pctDepth", pctDepth, { min: 1 });
    checkCount("options.pctChoicePoints", pctChoicePoints, { min: 1 });
    checkCount("options.traceLimit", traceLimit, { infinity: true });
    this.#options = { ...options, choices: [...choices] };
    this.#replay = [...choices];
    this.#wrap = wrapChoices === true;
    this.#fifoAfter = afterChoices === "fifo";
    this.#pct = mode === "pct";
    this.#traceLimit = traceLimit;
    this.#seed = seed;
    this.#pctDepth = pctDepth;
    this.#pctChoicePoints = pctChoicePoints;
    this.startRun();
  }

  /**
   * Called by the kernel as a run starts: the scheduler starts again from its
   * options, so one scheduler object drives the same run every time.
   * `choices`, `steps` and the trace then describe the latest run.
   */
  startRun(): void {
    this.#choices = [];
    this.#steps = 0;
    this.#priorities = new WeakMap();
    this.#nextLowPriority = 0;
    this.#traceChosen = [];
    this.#traceRunnable = [];
    // Mix the seed so nearby seeds give unrelated streams; never 0 for xorshift.
    this.#state = Math.imul((this.#seed | 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0 || 1;
    this.#changePoints = [];
    if (this.#pct) {
      for (let i = 0; i < this.#pctDepth - 1; i++)
        this.#changePoints.push(this.#nextInt(this.#pctChoicePoints));
      this.#changePoints.sort((a, b) => a - b);
    }
  }

  /** Every choice made so far, one per choice point; `new DeterministicScheduler({ choices })` replays the run. */
  get choices(): readonly number[] {
    return this.#choices;
  }

  /** Task steps run so far (choice points and forced steps). */
  get steps(): number {
    return this.#steps;
  }

  selectBatch(runnable: readonly Task[]): readonly Task[] {
    const n = runnable.length;
    const step = this.#steps++;
    if (n === 1) {
      if (step < this.#traceLimit) {
        this.#traceChosen.push(runnable[0]!);
        this.#traceRunnable.push(1);
      }
      return runnable;
    }
    const point = this.#choices.length;
    let index: number;
    if (point < this.#replay.length) {
      const recorded = this.#replay[point]!;
      if (recorded < n) index = recorded;
      else if (this.#wrap) index = recorded % n;
      else
        throw new Error(
          `DeterministicScheduler: the replay diverged from the recorded run: choice ${point} ` +
            `(step ${step + 1}) is ${recorded} but only ${n} tasks are runnable ` +
            `(${runnable.map((t) => t.name).join(", ")}). The code under test must behave the same ` +
            "on every run (no real time, real I/O or Math.random deciding what tasks do).",
        );
    } else if (this.#fifoAfter) {
      index = 0;
    } else if (this.#pct) {
      index = this.#pickPct(runnable, point);
    } else {
      index = this.#nextInt(n);
    }
    this.#choices.push(index);
    if (step < this.#traceLimit) {
      this.#traceChosen.push(runnable[index]!);
      this.#traceRunnable.push(runnable.slice());
    }
    return [runnable[index]!];
  }

  /**
   * The run so far, one line per step: which task ran and how many were
   * runnable, with the others listed at choice points. Tasks are numbered in
   * order of first appearance (`name#k`) so equal names stay distinct.
   */
  trace(): string {
    const ids = new Map<Task, number>();
    const label = (task: Task): string => {
      let id = ids.get(task);
      if (id === undefined) {
        id = ids.size + 1;
        ids.set(task, id);
      }
      return `${task.name}#${id}`;
    };
    const lines: string[] = [];
    const kept = this.#traceChosen.length;
    const width = String(kept).length;
    let point = 0;
    for (let i = 0; i < kept; i++) {
      const chosen = this.#traceChosen[i]!;
      const runnable = this.#traceRunnable[i]!;
      const head = `step ${String(i + 1).padStart(width)}: `;
      if (typeof runnable === "number") {
        lines.push(`${head}${label(chosen)} (1 of 1 runnable)`);
      } else {
        const labels = runnable.map(label);
        const index = runnable.indexOf(chosen);
        lines.push(
          `${head}${labels[index]} (${index + 1} of ${runnable.length} runnable: ` +
            `${labels.map((l, k) => (k === index ? `[${l}]` : l)).join(", ")}; choice ${point} = ${index})`,
        );
        point++;
      }
    }
    if (this.#steps > kept)
      lines.push(`... ${this.#steps - kept} more steps not kept (traceLimit)`);
    return lines.join("\n");
  }

  /** The choices made, without the trailing zeros (FIFO) that `afterChoices: "fifo"` implies. */
  #trimmedChoices(): number[] {
    let end = this.#choices.length;
    while (end > 0 && this.#choices[end - 1] === 0) end--;
    return this.#choices.slice(0, end);
  }

  /**
   * How to replay this scheduler. After a run: its exact choices (trailing FIFO
   * choices dropped) and the trace. Before any run: its options.
   */
  toString(): string {
    if (this.#steps === 0) {
      const { traceLimit: _, ...options } = this.#options;
      return `new DeterministicScheduler(${JSON.stringify(options)})`;
    }
    const replay = `new DeterministicScheduler({ choices: [${this.#trimmedChoices().join(", ")}], afterChoices: "fifo" })`;
    return `${replay}\n${this.trace()}`;
  }

  /** fast-check prints counterexamples with this. */
  [Symbol.for("fast-check/toStringMethod")](): string {
    return this.toString();
  }

  /**
   * A fresh scheduler with the same options (before any run). fast-check
   * calls this (`fc.cloneMethod`) to use a generated value again, as it does
   * with the schedule while it shrinks the values beside it: each run then has
   * a scheduler of its own, so the one in a counterexample carries the choices
   * and trace of the failing run, not of a later run made while shrinking.
   */
  [Symbol.for("fast-check/cloneMethod")](): DeterministicScheduler {
    return new DeterministicScheduler(this.#options);
  }

  // ------------------------------------------------------------ randomness

  /** xorshift32 → an integer in [0, n). */
  #nextInt(n: number): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    // Multiply-shift keeps the high bits, which are better than `% n` for small n.
    return Math.floor((this.#state / 0x1_0000_0000) * n);
  }

  #pickPct(runnable: readonly Task[], point: number): number {
    // Initial priorities are >= 1 (random, new tasks included); change points
    // lower a task to a priority below every initial one, later changes lower.
    let best = 0;
    let bestPriority = -Infinity;
    for (let i = 0; i < runnable.length; i++) {
      const task = runnable[i]!;
      let priority = this.#priorities.get(task);
      if (priority === undefined) {
        priority = 1 + this.#nextInt(0x4000_0000);
        this.#priorities.set(task, priority);
      }
      if (priority > bestPriority) {
        bestPriority = priority;
        best = i;
      }
    }
    if (this.#changePoints.length > 0 && this.#changePoints[0]! <= point) {
      this.#changePoints.shift();
      // The task that would run here is demoted; the choice goes to the next best.
      this.#priorities.set(runnable[best]!, --this.#nextLowPriority);
      return this.#pickPct(runnable, point);
    }
    return best;
  }
}
