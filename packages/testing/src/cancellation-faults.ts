/**
 * Fault injection in-process (issue 20): an instrument that cancels cancel
 * scopes of a run at chosen task steps, and the fast-check arbitrary of the
 * fault lists it takes, so that a property over `run()` explores code being
 * cancelled anywhere — and a failure shrinks to the fewest, earliest faults
 * and replays exactly (with a `DeterministicScheduler` and a `MockClock`).
 */
import type { CancelScope, Instrument, Nursery, Task, TaskOutcome } from "@weft/core";
import { checkArray, checkCount, checkFunction, checkOptionsObject } from "@weft/core/validate";
import * as fc from "fast-check";

/** One injected cancellation: which scope to cancel, and when. */
export interface CancellationFault {
  /**
   * The task step (counted from 0 in each run) before which the fault
   * strikes. A run with fewer steps never reaches it: the fault is skipped.
   */
  readonly step: number;
  /**
   * Which scope: an index into the scopes open at that moment, oldest entry
   * first, taken modulo their number (0 is the outermost scope still open).
   */
  readonly scope: number;
}

/** What a {@link CancellationInjector} did for one fault that struck. */
export interface InjectedCancellation {
  /** The fault's index in the list the injector was given. */
  readonly fault: number;
  /** The step it struck before. */
  readonly step: number;
  /** The task about to take that step. */
  readonly steppingTask: string;
  /** The task that had entered the cancelled scope. */
  readonly scopeTask: string;
  /** How many scopes were open. */
  readonly open: number;
  /** The chosen scope's index among the open ones (0: the outermost). */
  readonly index: number;
}

/** Options of a {@link CancellationInjector}. */
export interface CancellationInjectorOptions {
  /**
   * Which scopes may be cancelled, besides the ones an injector never
   * touches (default: all of them). A scope the filter refuses is not
   * counted among the open scopes. An injector never cancels the run's
   * system nursery (its root task's scope: no user code reaches it), nor the
   * nursery `start()` keeps a child in until it calls `started()`: that
   * child would exit without calling `started()`, which `start()` reports as
   * a `UsageError` by design (Trio raises `RuntimeError`).
   */
  readonly filter?: (scope: CancelScope, task: Task) => boolean;
}

/** Faults and steps as `toString` shows them, for a counterexample's report. */
function describeFaults(faults: readonly CancellationFault[]): string {
  return `[${faults.map((f) => `{ step: ${f.step}, scope: ${f.scope} }`).join(", ")}]`;
}

/**
 * An instrument that cancels cancel scopes at chosen task steps: before step
 * `fault.step` of the run it calls `cancel()` on the open scope number
 * `fault.scope` (modulo the number open), with the reason `injected fault
 * N`. Pass it in `run(main, { instruments: [injector] })` with a
 * `DeterministicScheduler` and a `MockClock`, and the same faults strike the
 * same scopes on every run. It also counts what a finished run must have
 * left behind — nothing: `openScopes` and `liveTasks` are 0 once `run()` has
 * settled.
 *
 * ```ts
 * await fc.assert(fc.asyncProperty(schedules(), cancellationFaults(), async (scheduler, faults) => {
 *   const injector = new CancellationInjector(faults);
 *   await run(main, { scheduler, instruments: [injector], clock: new MockClock({ autojumpThreshold: 0 }) });
 *   expect(injector.liveTasks).toBe(0);
 * }));
 * ```
 *
 * Like a scheduler, one injector may serve several runs: each run starts
 * again from the faults (`beforeRun`), and the counters and `injected`
 * describe the latest run.
 */
export class CancellationInjector implements Instrument {
  /** The faults, as given (they strike in the order of their steps). */
  readonly faults: readonly CancellationFault[];
  readonly #filter: (scope: CancelScope, task: Task) => boolean;
  /** Fault indices in order of their steps. */
  readonly #order: readonly number[];
  #next = 0;
  #steps = 0;
  /** Open scopes in order of entry, with the task that entered each. */
  readonly #open = new Map<CancelScope, Task>();
  /** The nurseries open, by their scopes. */
  readonly #nurseries = new Map<CancelScope, Nursery>();
  #rootTask: Task | null = null;
  #liveTasks = 0;
  #injected: InjectedCancellation[] = [];

  constructor(faults: readonly CancellationFault[], options: CancellationInjectorOptions = {}) {
    checkArray("faults", faults);
    for (const fault of faults) {
      if (typeof fault !== "object" || fault === null)
        throw new TypeError("each fault must be an object { step, scope }");
      checkCount("fault.step", fault.step);
      checkCount("fault.scope", fault.scope);
    }
    checkOptionsObject("options", options);
    if (options.filter !== undefined) checkFunction("options.filter", options.filter);
    this.faults = faults.map(({ step, scope }) => ({ step, scope }));
    this.#filter = options.filter ?? (() => true);
    this.#order = this.faults
      .map((_, i) => i)
      .sort((a, b) => this.faults[a]!.step - this.faults[b]!.step || a - b);
  }

  /** The cancellations injected in the latest run, in order. */
  get injected(): readonly InjectedCancellation[] {
    return this.#injected;
  }

  /** Task steps seen in the latest run. */
  get steps(): number {
    return this.#steps;
  }

  /** Scopes (the filter's) entered and not yet exited. 0 after a run: none is left open. */
  get openScopes(): number {
    return this.#open.size;
  }

  /** Tasks spawned and not yet exited, the root task included. 0 after a run. */
  get liveTasks(): number {
    return this.#liveTasks;
  }

  beforeRun(): void {
    this.#next = 0;
    this.#steps = 0;
    this.#open.clear();
    this.#nurseries.clear();
    this.#rootTask = null;
    this.#liveTasks = 0;
    this.#injected = [];
  }

  taskSpawned(task: Task): void {
    // The first task of a run is its root task (SEMANTICS.md: the root task
    // holds the system nursery; main is its first child).
    this.#rootTask ??= task;
    this.#liveTasks++;
  }

  taskExited(_task: Task, _outcome: TaskOutcome): void {
    this.#liveTasks--;
  }

  cancelScopeEntered(scope: CancelScope, task: Task): void {
    if (task === this.#rootTask) return;
    if (this.#filter(scope, task)) this.#open.set(scope, task);
  }

  cancelScopeExited(scope: CancelScope, _task: Task): void {
    this.#open.delete(scope);
  }

  nurseryOpened(nursery: Nursery): void {
    this.#nurseries.set(nursery.cancelScope, nursery);
  }

  nurseryClosed(nursery: Nursery): void {
    this.#nurseries.delete(nursery.cancelScope);
  }

  /** Whether `scope` is that of a nursery where `start()` keeps a child that has not called `started()`. */
  #startsIn(scope: CancelScope): boolean {
    const nursery = this.#nurseries.get(scope);
    if (nursery === undefined) return false;
    for (const task of nursery.childTasks) if (task.eventualParentNursery !== null) return true;
    return false;
  }

  beforeTaskStep(task: Task): void {
    const step = this.#steps++;
    while (this.#next < this.#order.length) {
      const index = this.#order[this.#next]!;
      const fault = this.faults[index]!;
      if (fault.step > step) break;
      this.#next++;
      const candidates = [...this.#open].filter(([scope]) => !this.#startsIn(scope));
      const open = candidates.length;
      if (open === 0) continue;
      const chosen = fault.scope % open;
      const [scope, owner] = candidates[chosen]!;
      this.#injected.push({
        fault: index,
        step,
        steppingTask: task.name,
        scopeTask: owner.name,
        open,
        index: chosen,
      });
      scope.cancel(`injected fault ${index}`);
    }
  }

  /** The faults, then (after a run) what they cancelled. */
  toString(): string {
    const struck = this.#injected.map(
      (c) =>
        `fault ${c.fault}: before step ${c.step} (task ${c.steppingTask}) cancelled scope ${c.index} of ${c.open} (entered by ${c.scopeTask})`,
    );
    return [`new CancellationInjector(${describeFaults(this.faults)})`, ...struck].join("\n");
  }

  /** fast-check prints counterexamples with this. */
  [Symbol.for("fast-check/toStringMethod")](): string {
    return this.toString();
  }
}

/** Options of {@link cancellationFaults}. */
export interface CancellationFaultsOptions {
  /** Most faults in one list (default 3). */
  maxFaults?: number;
  /** Latest step a fault strikes before (default 400): about the length of the runs under test. */
  maxStep?: number;
  /** Largest scope index drawn, taken modulo the number open (default 15). */
  maxScope?: number;
}

/**
 * A fast-check arbitrary of fault lists for a {@link CancellationInjector}.
 * A list shrinks toward fewer faults, earlier steps and outer scopes, so a
 * failing property reports a minimal fault list (and the injector's report
 * of what each fault cancelled).
 *
 * ```ts
 * fc.asyncProperty(schedules(), cancellationFaults({ maxStep: 200 }), async (scheduler, faults) => …)
 * ```
 */
export function cancellationFaults(
  options: CancellationFaultsOptions = {},
): fc.Arbitrary<CancellationFault[]> {
  checkOptionsObject("options", options);
  const { maxFaults = 3, maxStep = 400, maxScope = 15 } = options;
  checkCount("options.maxFaults", maxFaults);
  checkCount("options.maxStep", maxStep);
  checkCount("options.maxScope", maxScope);
  return fc.array(fc.record({ step: fc.nat({ max: maxStep }), scope: fc.nat({ max: maxScope }) }), {
    maxLength: maxFaults,
  });
}
