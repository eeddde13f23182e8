/**
 * Random task trees for the property tests: a fast-check generator of raw
 * trees, a normaliser that resolves references and enforces the rules that
 * keep a tree finite, and an interpreter that runs a tree on weft and records
 * everything the properties check.
 *
 * Raw trees hold references as plain numbers (resolved modulo what is in
 * reach), so any shrink of a raw tree is again a valid tree.
 */
import {
  Cancelled,
  CancelScope,
  cancellable,
  cancelShieldedCheckpoint,
  checkpoint,
  checkpointIfCancelled,
  currentEffectiveDeadline,
  currentTime,
  ExceptionGroup,
  failAfter,
  failAt,
  type Instrument,
  lowlevel,
  moveOnAfter,
  moveOnAt,
  type Nursery,
  openNursery,
  run,
  type Scheduler,
  sleep,
  sleepForever,
  type Task,
  type TaskStatus,
  TooSlowError,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import fc from "fast-check";
import { pendingHostTimers } from "./helpers.ts";

// ---------------------------------------------------------------- raw trees

export type ForeignKind = "microtasks" | "immediate" | "cancellable";

export type RawTimeout = { rel: number } | { abs: number } | null;

export type RawAction =
  | { t: "sleep"; ms: number }
  | { t: "checkpoint" }
  | { t: "checkpointIfCancelled" }
  | { t: "cancelShieldedCheckpoint" }
  | { t: "sleepForever" }
  /** Sets the deadline of a scope in reach to now + ms (`target` counts from the innermost). */
  | { t: "setDeadline"; target: number; ms: number }
  /** Sets `shield = false` on a scope in reach (never true: that could make a sleepForever unbounded). */
  | { t: "unshield"; target: number }
  /** Aborts the AbortSignal given to run(): every task is cancelled. */
  | { t: "abortRun" }
  /**
   * Awaits something that is not weft's: a few plain microtask hops, a host
   * immediate (the task leaves the kernel's batch), or `cancellable()` of work
   * that ends in a host immediate and stops when its signal aborts.
   */
  | { t: "foreign"; how: ForeignKind }
  /** Cancels one of the scopes in reach (the task's own or an ancestor's): `target` counts from the innermost. */
  | { t: "cancel"; target: number }
  | { t: "throw" }
  /**
   * `try { body } catch (e) { swallow the errors picked by mask; rethrow the rest }`: bit (id % 8) of
   * the mask picks the tracked errors it swallows, bit 8 makes it swallow `Cancelled` too (mask 0: rethrow all).
   */
  | { t: "try"; mask: number; body: RawAction[] }
  /** `try { body } finally { await <shielded scope>.run(() => sleep(ms)) }` */
  | { t: "finally"; ms: number; body: RawAction[] }
  | { t: "scope"; kind: "scope"; timeout: RawTimeout; shield: boolean; body: RawAction[] }
  | {
      t: "scope";
      kind: "moveOnAfter" | "failAfter" | "moveOnAt" | "failAt";
      ms: number;
      shield: boolean;
      body: RawAction[];
    }
  /** strict: the nursery's strictErrors option (undefined: the run's). */
  | { t: "nursery"; strict: boolean | undefined; body: RawAction[] }
  /** `nursery.startSoon(child)` or `await nursery.start(child)` on a nursery in reach (`target` counts from the innermost). */
  | { t: "spawn"; how: "soon" | "start"; target: number; neverStarted: boolean; body: RawAction[] }
  /** In a child being started with `start()`: `status.started()` (the first one only). */
  | { t: "started" };

/** A reference to something in reach, counted from the innermost; mostly the innermost or the next. */
const innermostFirst = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.constant(1) },
  { weight: 1, arbitrary: fc.nat(7) },
);

export interface TreeArbitraryOptions {
  /**
   * Include `foreign` actions. Waiting on host immediates makes the order of
   * events depend on real time, so a determinism check must leave them out.
   */
  readonly foreign?: boolean;
}

/** Random task trees: the body of the root nursery, a list of actions, which nest. */
export function rawTreeArbitrary(options: TreeArbitraryOptions = {}): fc.Arbitrary<RawAction[]> {
  const foreign = options.foreign ?? true;
  const arbs = fc.letrec<{ action: RawAction; body: RawAction[] }>((tie) => {
    const body = tie("body");
    return {
      body: fc.array(tie("action"), { maxLength: 6, size: "medium" }),
      action: fc.oneof(
        { depthSize: "medium", maxDepth: 4, withCrossShrink: true },
        // Leaves first: fast-check falls back to the first arbitrary at max depth.
        { weight: 40, arbitrary: fc.record({ t: fc.constant("sleep"), ms: fc.nat(5) }) },
        { weight: 30, arbitrary: fc.record({ t: fc.constant("checkpoint") }) },
        { weight: 5, arbitrary: fc.record({ t: fc.constant("checkpointIfCancelled") }) },
        { weight: 5, arbitrary: fc.record({ t: fc.constant("cancelShieldedCheckpoint") }) },
        { weight: 5, arbitrary: fc.record({ t: fc.constant("sleepForever") }) },
        {
          weight: 5,
          arbitrary: fc.record({
            t: fc.constant("setDeadline"),
            target: innermostFirst,
            ms: fc.nat(30),
          }),
        },
        { weight: 5, arbitrary: fc.record({ t: fc.constant("unshield"), target: innermostFirst }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("abortRun") }) },
        {
          weight: 5,
          arbitrary: fc.record({
            t: fc.constant("foreign"),
            how: foreign
              ? fc.constantFrom("microtasks", "immediate", "cancellable")
              : fc.constant("microtasks"),
          }),
        },
        { weight: 10, arbitrary: fc.record({ t: fc.constant("cancel"), target: innermostFirst }) },
        { weight: 10, arbitrary: fc.record({ t: fc.constant("throw") }) },
        { weight: 10, arbitrary: fc.record({ t: fc.constant("started") }) },
        { weight: 25, arbitrary: fc.record({ t: fc.constant("try"), mask: fc.nat(511), body }) },
        { weight: 20, arbitrary: fc.record({ t: fc.constant("finally"), ms: fc.nat(5), body }) },
        {
          weight: 20,
          arbitrary: fc.record({
            t: fc.constant("scope"),
            kind: fc.constant("scope"),
            timeout: fc.oneof(
              fc.constant(null),
              fc.record({ rel: fc.nat(50) }),
              fc.record({ abs: fc.nat(60) }),
            ),
            shield: fc.boolean(),
            body,
          }),
        },
        {
          weight: 20,
          arbitrary: fc.record({
            t: fc.constant("scope"),
            kind: fc.constantFrom("moveOnAfter", "failAfter", "moveOnAt", "failAt"),
            ms: fc.nat(50),
            shield: fc.boolean(),
            body,
          }),
        },
        {
          weight: 15,
          arbitrary: fc.record({
            t: fc.constant("nursery"),
            strict: fc.constantFrom(true, false, undefined),
            body,
          }),
        },
        {
          weight: 40,
          arbitrary: fc.record({
            t: fc.constant("spawn"),
            how: fc.constantFrom("soon", "start"),
            target: innermostFirst,
            neverStarted: fc.oneof(
              { weight: 45, arbitrary: fc.constant(false) },
              fc.constant(true),
            ),
            body,
          }),
        },
      ) as fc.Arbitrary<RawAction>,
    };
  });

  return fc.array(arbs.action, { minLength: 1, maxLength: 8 });
}

// ---------------------------------------------------------------- normalised trees

export type ScopeKind = "scope" | "moveOnAfter" | "failAfter" | "moveOnAt" | "failAt";

export type Action =
  | { t: "sleep"; ms: number }
  | { t: "checkpoint" }
  | { t: "checkpointIfCancelled" }
  | { t: "cancelShieldedCheckpoint" }
  | { t: "sleepForever" }
  | { t: "setDeadline"; scope: number; ms: number }
  | { t: "unshield"; scope: number }
  | { t: "abortRun" }
  | { t: "foreign"; how: ForeignKind }
  | { t: "cancel"; scope: number }
  | { t: "throw"; errorId: number }
  | { t: "try"; handler: number; mask: number; body: Action[] }
  | { t: "finally"; id: number; ms: number; body: Action[] }
  | {
      t: "scope";
      scope: number;
      kind: ScopeKind;
      /** CancelScope only: relative or absolute deadline; moveOnAfter, failAfter, moveOnAt, failAt: ms (relative or absolute). */
      timeout: RawTimeout;
      ms: number;
      shield: boolean;
      /** Id of the TooSlowError a failAfter/failAt may raise. */
      errorId: number;
      body: Action[];
    }
  | { t: "nursery"; nursery: number; scope: number; strict: boolean | undefined; body: Action[] }
  | {
      t: "spawn";
      how: "soon" | "start";
      nursery: number;
      task: number;
      /** Id of the "without calling started" error a start may raise. */
      errorId: number;
      body: Action[];
    }
  | { t: "started" };

export interface Tree {
  /** The body of the root nursery (nursery 0, scope 1), inside `moveOnAfter(BOUND)` (scope 0). */
  readonly root: Action[];
  /** Which error ids each handler swallows: bit (errorId % 8) of its mask. */
  readonly masks: ReadonlyMap<number, number>;
  readonly counts: {
    actions: number;
    tasks: number;
    scopes: number;
    nurseries: number;
    errors: number;
  };
}

/** Every run is bounded by this many virtual ms, so a `sleepForever` always ends. */
export const BOUND = 200;

interface NormContext {
  /** Scope ids in reach, for `cancel`. */
  readonly scopes: readonly number[];
  /** Nursery ids in reach, for `spawn`. */
  readonly nurseries: readonly number[];
  /** A finite deadline is guaranteed to cancel this point (no deadline-less shield in between). */
  readonly bounded: boolean;
  /** In the own code of a child being started with `start()`: whether a `started` is still to place. */
  readonly startedSlot: { open: boolean } | null;
}

function fromInnermost(ids: readonly number[], index: number): number {
  return ids[ids.length - 1 - (index % ids.length)]!;
}

export function normalize(raw: readonly RawAction[]): Tree {
  const counts = { actions: 0, tasks: 1, scopes: 2, nurseries: 1, errors: 0 };
  const masks = new Map<number, number>();
  let handlers = 0;
  let finallies = 0;
  const nurseryContexts = new Map<number, NormContext>();

  const list = (actions: readonly RawAction[], ctx: NormContext): Action[] => {
    const out: Action[] = [];
    for (const a of actions) {
      const n = one(a, ctx);
      if (n !== null) {
        counts.actions++;
        out.push(n);
      }
    }
    return out;
  };

  const one = (a: RawAction, ctx: NormContext): Action | null => {
    switch (a.t) {
      case "sleep":
      case "checkpoint":
      case "checkpointIfCancelled":
      case "cancelShieldedCheckpoint":
      case "abortRun":
      case "foreign":
        return a;
      case "setDeadline":
        return { t: "setDeadline", scope: fromInnermost(ctx.scopes, a.target), ms: a.ms };
      case "unshield":
        return { t: "unshield", scope: fromInnermost(ctx.scopes, a.target) };
      case "sleepForever":
        // Unbounded here (a deadline-less shield is in the way): sleep a little instead.
        return ctx.bounded ? a : { t: "sleep", ms: 1 };
      case "cancel":
        return { t: "cancel", scope: fromInnermost(ctx.scopes, a.target) };
      case "throw":
        return { t: "throw", errorId: counts.errors++ };
      case "started":
        if (ctx.startedSlot === null || !ctx.startedSlot.open) return null;
        ctx.startedSlot.open = false;
        return a;
      case "try": {
        const handler = handlers++;
        masks.set(handler, a.mask);
        return { t: "try", handler, mask: a.mask, body: list(a.body, ctx) };
      }
      case "finally":
        return { t: "finally", id: finallies++, ms: a.ms, body: list(a.body, ctx) };
      case "scope": {
        const scope = counts.scopes++;
        const errorId = counts.errors++;
        const timeout = a.kind === "scope" ? a.timeout : null;
        const ms = a.kind === "scope" ? 0 : a.ms;
        const finite = a.kind !== "scope" || timeout !== null;
        const inner: NormContext = {
          ...ctx,
          scopes: [...ctx.scopes, scope],
          bounded: finite || (ctx.bounded && !a.shield),
        };
        return {
          t: "scope",
          scope,
          kind: a.kind,
          timeout,
          ms,
          shield: a.shield,
          errorId,
          body: list(a.body, inner),
        };
      }
      case "nursery": {
        const nursery = counts.nurseries++;
        const scope = counts.scopes++;
        const inner: NormContext = {
          ...ctx,
          scopes: [...ctx.scopes, scope],
          nurseries: [...ctx.nurseries, nursery],
        };
        nurseryContexts.set(nursery, inner);
        return { t: "nursery", nursery, scope, strict: a.strict, body: list(a.body, inner) };
      }
      case "spawn": {
        const nursery = fromInnermost(ctx.nurseries, a.target);
        const home = nurseryContexts.get(nursery)!;
        const task = counts.tasks++;
        const errorId = counts.errors++;
        // A child being started runs under the caller until started(), under
        // the target nursery after: it may only reach what both reach.
        const slot = a.how === "start" && !a.neverStarted ? { open: true } : null;
        const childCtx: NormContext = {
          scopes: home.scopes,
          nurseries: home.nurseries,
          bounded: a.how === "start" ? home.bounded && ctx.bounded : home.bounded,
          startedSlot: slot,
        };
        const body = list(a.body, childCtx);
        if (slot?.open === true) body.push({ t: "started" });
        return { t: "spawn", how: a.how, nursery, task, errorId, body };
      }
    }
  };

  const rootCtx: NormContext = { scopes: [0, 1], nurseries: [0], bounded: true, startedSlot: null };
  nurseryContexts.set(0, rootCtx);
  const root = list(raw, rootCtx);
  return { root, masks, counts };
}

// ---------------------------------------------------------------- running a tree

/** The error a `throw` action raises: a distinct object with a unique id. */
export class TreeError extends Error {
  readonly errorId: number;
  constructor(errorId: number) {
    super(`tree error #${errorId}`);
    this.name = "TreeError";
    this.errorId = errorId;
  }
}

/** Where errors leaving a task go: a point in the code of another task (the nursery's or start()'s caller's). */
export interface Location {
  readonly owner: TaskRecord;
  /** Handlers open in `owner` at that point, outermost first. */
  readonly handlers: readonly number[];
}

export interface TaskRecord {
  readonly id: number;
  /** The nursery it was spawned into (with startSoon or start); -1 for main. */
  readonly target: number;
  readonly how: "soon" | "start" | "main";
  /** Where its errors go; `null` for main (they leave `run`). Changes once when start() moves the task. */
  home: Location | null;
  task: Task | null;
  starts: number;
  ends: number;
  /** For a child being started: what its started() call did. */
  started: "moved" | "not moved" | null;
}

export interface ThrownRecord {
  readonly errorId: number;
  readonly task: TaskRecord;
  /** Handlers open in the throwing task when it was raised, outermost first. */
  readonly handlers: readonly number[];
  readonly kind: "throw" | "tooSlow" | "neverStarted";
}

export interface NurseryRecord {
  readonly id: number;
  nursery: Nursery | null;
  location: Location | null;
  exitSeq: number | null;
  childTasksAfterExit: number | null;
}

/** One awaited checkpoint, sleep or sleepForever. */
export interface WaitRecord {
  readonly task: number;
  readonly what:
    | "sleep"
    | "checkpoint"
    | "checkpointIfCancelled"
    | "cancelShieldedCheckpoint"
    | "sleepForever"
    | "cancellable";
  readonly ms: number;
  readonly t0: number;
  readonly t1: number;
  /** currentEffectiveDeadline() just before the call. */
  readonly deadline: number;
  /** lowlevel.currentStatistics().msToNextDeadline just before the call. */
  readonly msToNextDeadline: number;
  /** How it ended: "ok", or the error. */
  readonly outcome: unknown;
  /** A deadline or shield changed, a task moved or the run was aborted while it waited. */
  readonly disturbed: boolean;
}

export interface ScopeExitRecord {
  readonly scope: number;
  readonly kind: ScopeKind;
  readonly cancelCalled: boolean;
  readonly cancelledCaught: boolean;
  readonly shield: boolean;
  /** What the body raised (NOTHING if it returned). */
  readonly bodyError: unknown;
  /** What came out of the scope (moveOnAfter / failAfter …) (NOTHING if it returned). */
  readonly outcome: unknown;
  /** In the enclosing context, right after the scope was left: currentEffectiveDeadline() === -Infinity. */
  readonly outerCancelledAfter: boolean;
}

export interface StartRecord {
  readonly task: number;
  readonly resolved: boolean;
  readonly value: unknown;
  /** In the caller, right after start() settled: currentEffectiveDeadline() === -Infinity. */
  readonly callerCancelledAfter: boolean;
}

/** Marks "returned normally" where undefined could be a thrown value. */
export const NOTHING: unique symbol = Symbol("nothing");

export interface RunReport {
  readonly tree: Tree;
  readonly settled: "resolved" | "rejected" | "timeout";
  readonly rejection: unknown;
  readonly log: string[];
  readonly thrown: Map<unknown, ThrownRecord>;
  /** Per handler: the tracked errors it saw in its catch block (leaves), in order. */
  readonly seen: Map<number, unknown[]>;
  /** Per handler: the tracked errors it swallowed. */
  readonly caught: Map<number, unknown[]>;
  readonly tasks: Map<number, TaskRecord>;
  readonly nurseries: Map<number, NurseryRecord>;
  /** Task exits as the kernel reported them (instrument), with the task's nursery at exit. */
  readonly exits: Map<Task, { seq: number; parentNursery: Nursery | null }>;
  /** For tasks started with start(): seq at which start() settled in the caller. */
  readonly startSettledSeq: Map<number, number>;
  readonly starts: StartRecord[];
  readonly finallies: Map<
    number,
    { entered: number; ran: number; done: number; ms: number; elapsed: number[] }
  >;
  readonly waits: WaitRecord[];
  readonly scopeExits: ScopeExitRecord[];
  /** The reason given to the run's AbortController, if an abortRun action ran. */
  readonly abortReason: Error | null;
  /** Consistency failures of lowlevel.currentStatistics().tasksLiving, seen during the run. */
  readonly livingMismatches: string[];
  /** Unbalanced instrument hooks (a step begun twice, an exit inside a step …). */
  readonly instrumentProblems: string[];
  readonly tasksLivingAtEndOfMain: number | null;
  readonly timersBefore: number;
  readonly timersAfter: number;
}

/** Every non-group error inside `error` (itself if it is not a group). */
export function leafErrors(error: unknown): unknown[] {
  if (error instanceof ExceptionGroup) return error.errors.flatMap(leafErrors);
  return [error];
}

export function describeError(error: unknown): string {
  if (error === NOTHING) return "-";
  if (error instanceof TreeError) return `E${error.errorId}`;
  if (error instanceof ExceptionGroup) return `[${error.errors.map(describeError).join(",")}]`;
  if (error instanceof Cancelled) return `Cancelled(${error.source})`;
  if (error instanceof Error) return `${error.name}(${error.message.split("\n")[0]})`;
  return String(error);
}

/** A scheduler that runs one runnable task per batch, chosen by a seeded PRNG. */
export class RandomOneAtATimeScheduler implements Scheduler {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  selectBatch(runnable: readonly Task[]): readonly Task[] {
    // xorshift32
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return [runnable[this.#state % runnable.length]!];
  }
}

export interface RunTreeOptions {
  /** Real-time watchdog: only a failure detector (the run is reported as "timeout"). */
  readonly watchdogMs?: number;
  /** Seed of a RandomOneAtATimeScheduler; default FIFO batches. */
  readonly schedulerSeed?: number | null;
  /** The run's strictErrors option (default: not given). */
  readonly strictErrors?: boolean | undefined;
  /** More instruments for the run (a tracer under test), after the tree's own. */
  readonly instruments?: readonly Instrument[];
}

interface Env {
  readonly task: TaskRecord;
  readonly handlers: readonly number[];
  readonly start: { status: TaskStatus<number>; target: NurseryRecord } | null;
}

function describeAction(a: Action): string {
  switch (a.t) {
    case "sleep":
      return `sleep(${a.ms})`;
    case "cancel":
    case "unshield":
      return `${a.t}(S${a.scope})`;
    case "setDeadline":
      return `setDeadline(S${a.scope}, now+${a.ms})`;
    case "foreign":
      return `foreign(${a.how})`;
    case "throw":
      return `throw(E${a.errorId})`;
    case "try":
      return `try#${a.handler}`;
    case "finally":
      return `finally#${a.id}`;
    case "scope":
      return `${a.kind}#S${a.scope}`;
    case "nursery":
      return `nursery#N${a.nursery}`;
    case "spawn":
      return `${a.how}(T${a.task} in N${a.nursery})`;
    default:
      return a.t;
  }
}

/**
 * Runs `tree` in a fresh run on a MockClock with autojump, and records what
 * happened. Never throws for what the run does: the report says it.
 */
export async function runTree(tree: Tree, options: RunTreeOptions = {}): Promise<RunReport> {
  const log: string[] = [];
  let seq = 0;
  /** Bumped whenever deadlines, shields or task homes change: timing checks skip waits that saw it. */
  let epoch = 0;
  const thrown = new Map<unknown, ThrownRecord>();
  const seen = new Map<number, unknown[]>();
  const caught = new Map<number, unknown[]>();
  const tasks = new Map<number, TaskRecord>();
  const nurseries = new Map<number, NurseryRecord>();
  const scopes = new Map<number, CancelScope>();
  const exits = new Map<Task, { seq: number; parentNursery: Nursery | null }>();
  const startSettledSeq = new Map<number, number>();
  const starts: StartRecord[] = [];
  const finallies = new Map<
    number,
    { entered: number; ran: number; done: number; ms: number; elapsed: number[] }
  >();
  const waits: WaitRecord[] = [];
  const scopeExits: ScopeExitRecord[] = [];
  const livingMismatches: string[] = [];
  const controller = new AbortController();
  let abortReason: Error | null = null;
  let spawnedSeen = 0;
  let exitedSeen = 0;

  const stepping = new Set<Task>();
  const spawnedTasks = new Set<Task>();
  const instrumentProblems: string[] = [];
  const instrument: Instrument = {
    taskSpawned(task) {
      spawnedSeen++;
      if (spawnedTasks.has(task)) instrumentProblems.push(`${task.name} spawned twice`);
      spawnedTasks.add(task);
    },
    beforeTaskStep(task) {
      if (stepping.has(task))
        instrumentProblems.push(`${task.name}: beforeTaskStep twice without afterTaskStep`);
      if (!spawnedTasks.has(task) || exits.has(task))
        instrumentProblems.push(`${task.name}: step outside its life`);
      stepping.add(task);
    },
    afterTaskStep(task) {
      if (!stepping.delete(task))
        instrumentProblems.push(`${task.name}: afterTaskStep without beforeTaskStep`);
    },
    taskExited(task) {
      exitedSeen++;
      if (stepping.has(task)) instrumentProblems.push(`${task.name}: exited inside a step`);
      if (exits.has(task)) instrumentProblems.push(`${task.name}: exited twice`);
      exits.set(task, { seq: seq++, parentNursery: task.parentNursery });
    },
  };

  const checkLiving = (where: string): void => {
    const living = lowlevel.currentStatistics().tasksLiving;
    if (living !== spawnedSeen - exitedSeen) {
      livingMismatches.push(
        `${where}: tasksLiving ${living}, instruments say ${spawnedSeen - exitedSeen}`,
      );
    }
  };

  const emit = (task: TaskRecord, what: string): void => {
    seq++;
    log.push(`T${task.id} ${what} @${currentTime()}`);
    checkLiving(`T${task.id} ${what}`);
  };

  const register = (
    error: unknown,
    errorId: number,
    env: Env,
    kind: ThrownRecord["kind"],
  ): void => {
    thrown.set(error, { errorId, task: env.task, handlers: [...env.handlers], kind });
  };

  const handlerSwallows = (mask: number, error: unknown): boolean => {
    if (error instanceof Cancelled) return (mask & 256) !== 0;
    const record = thrown.get(error);
    return record !== undefined && ((mask >> (record.errorId % 8)) & 1) === 1;
  };

  const push = <K, V>(map: Map<K, V[]>, key: K, value: V): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };

  const scopeInReach = (id: number): CancelScope => {
    const scope = scopes.get(id);
    if (scope === undefined) throw new Error(`test bug: scope S${id} not in reach`);
    return scope;
  };

  const wait = async (
    env: Env,
    what: WaitRecord["what"],
    ms: number,
    fn: () => Promise<void>,
  ): Promise<void> => {
    const t0 = currentTime();
    const deadline = currentEffectiveDeadline();
    const { msToNextDeadline } = lowlevel.currentStatistics();
    const epoch0 = epoch;
    let outcome: unknown = "ok";
    try {
      await fn();
    } catch (error) {
      outcome = error;
      throw error;
    } finally {
      waits.push({
        task: env.task.id,
        what,
        ms,
        t0,
        t1: currentTime(),
        deadline,
        msToNextDeadline,
        outcome,
        disturbed: epoch !== epoch0,
      });
    }
  };

  const exec = async (actions: readonly Action[], env: Env): Promise<void> => {
    for (const a of actions) {
      try {
        await step(a, env);
      } catch (error) {
        emit(env.task, `${describeAction(a)} raised ${describeError(error)}`);
        throw error;
      }
      emit(env.task, `${describeAction(a)} done`);
    }
  };

  const taskMain = async (
    record: TaskRecord,
    body: readonly Action[],
    start: Env["start"],
  ): Promise<void> => {
    record.task = lowlevel.currentTask();
    record.starts++;
    emit(record, "starts");
    try {
      await exec(body, { task: record, handlers: [], start });
    } finally {
      record.ends++;
      emit(record, "ends");
    }
  };

  const runScope = async (a: Extract<Action, { t: "scope" }>, env: Env): Promise<void> => {
    let scope: CancelScope | null = null;
    let bodyError: unknown = NOTHING;
    let outcome: unknown = NOTHING;
    const body = async (s: CancelScope) => {
      scope = s;
      scopes.set(a.scope, s);
      try {
        await exec(a.body, env);
      } catch (error) {
        bodyError = error;
        throw error;
      }
    };
    const shield = { shield: a.shield };
    try {
      switch (a.kind) {
        case "moveOnAfter":
          await moveOnAfter(a.ms, body, shield);
          break;
        case "moveOnAt":
          await moveOnAt(a.ms, body, shield);
          break;
        case "failAfter":
          await failAfter(a.ms, body, shield);
          break;
        case "failAt":
          await failAt(a.ms, body, shield);
          break;
        case "scope": {
          const t = a.timeout;
          const options =
            t === null ? {} : "rel" in t ? { relativeDeadline: t.rel } : { deadline: t.abs };
          await new CancelScope({ ...options, ...shield }).run(body);
          break;
        }
      }
    } catch (error) {
      outcome = error;
      if (error instanceof TooSlowError && !thrown.has(error))
        register(error, a.errorId, env, "tooSlow");
      throw error;
    } finally {
      const s = scope as CancelScope | null;
      scopeExits.push({
        scope: a.scope,
        kind: a.kind,
        cancelCalled: s?.cancelCalled ?? false,
        cancelledCaught: s?.cancelledCaught ?? false,
        shield: s?.shield ?? a.shield,
        bodyError,
        outcome,
        outerCancelledAfter: currentEffectiveDeadline() === -Infinity,
      });
    }
  };

  const step = async (a: Action, env: Env): Promise<void> => {
    switch (a.t) {
      case "sleep":
        return wait(env, "sleep", a.ms, () => sleep(a.ms));
      case "checkpoint":
        return wait(env, "checkpoint", 0, checkpoint);
      case "checkpointIfCancelled":
        return wait(env, "checkpointIfCancelled", 0, checkpointIfCancelled);
      case "cancelShieldedCheckpoint":
        return wait(env, "cancelShieldedCheckpoint", 0, cancelShieldedCheckpoint);
      case "sleepForever":
        return wait(env, "sleepForever", Infinity, sleepForever);
      case "cancel":
        scopeInReach(a.scope).cancel();
        return;
      case "setDeadline":
        epoch++;
        scopeInReach(a.scope).deadline = currentTime() + a.ms;
        return;
      case "unshield":
        epoch++;
        scopeInReach(a.scope).shield = false;
        return;
      case "foreign":
        if (a.how === "microtasks") {
          for (let i = 0; i < 3; i++) await Promise.resolve();
          return;
        }
        if (a.how === "immediate") {
          await new Promise<void>((resolve) => setImmediate(resolve));
          return;
        }
        return wait(env, "cancellable", 0, () =>
          cancellable(
            (signal) =>
              new Promise<void>((resolve, reject) => {
                const immediate = setImmediate(resolve);
                signal.addEventListener("abort", () => {
                  clearImmediate(immediate);
                  reject(signal.reason);
                });
              }),
          ),
        );
      case "abortRun":
        epoch++;
        abortReason ??= new Error("run aborted by the tree");
        controller.abort(abortReason);
        return;
      case "throw": {
        const error = new TreeError(a.errorId);
        register(error, a.errorId, env, "throw");
        throw error;
      }
      case "started": {
        const start = env.start;
        if (start === null) throw new Error("test bug: started() outside a child being started");
        epoch++;
        start.status.started(env.task.id);
        const moved = lowlevel.currentTask().parentNursery === start.target.nursery;
        if (moved) env.task.home = start.target.location;
        env.task.started = moved ? "moved" : "not moved";
        emit(env.task, moved ? "moved" : "not moved");
        return;
      }
      case "try": {
        try {
          await exec(a.body, { ...env, handlers: [...env.handlers, a.handler] });
        } catch (error) {
          for (const leaf of leafErrors(error)) if (thrown.has(leaf)) push(seen, a.handler, leaf);
          const matches = (e: unknown) => handlerSwallows(a.mask, e);
          if (error instanceof ExceptionGroup) {
            const [matched, rest] = error.split(matches);
            if (matched !== null) {
              for (const leaf of matched.leafErrors())
                if (thrown.has(leaf)) push(caught, a.handler, leaf);
            }
            if (rest !== null) throw rest;
          } else if (matches(error)) {
            if (thrown.has(error)) push(caught, a.handler, error);
          } else {
            throw error;
          }
          emit(env.task, `handler#${a.handler} swallowed`);
        }
        return;
      }
      case "finally": {
        // Each action runs at most once, so `entered` > 1 would be a bug of this file.
        const record = finallies.get(a.id) ?? {
          entered: 0,
          ran: 0,
          done: 0,
          ms: a.ms,
          elapsed: [],
        };
        finallies.set(a.id, record);
        record.entered++;
        try {
          await exec(a.body, env);
        } finally {
          record.ran++;
          emit(env.task, `finally#${a.id} runs`);
          const t0 = currentTime();
          await new CancelScope({ shield: true }).run(() => sleep(a.ms));
          record.elapsed.push(currentTime() - t0);
          record.done++;
        }
        return;
      }
      case "scope":
        return runScope(a, env);
      case "nursery": {
        const record: NurseryRecord = {
          id: a.nursery,
          nursery: null,
          location: null,
          exitSeq: null,
          childTasksAfterExit: null,
        };
        nurseries.set(a.nursery, record);
        try {
          await openNursery(
            async (nursery) => {
              record.nursery = nursery;
              record.location = { owner: env.task, handlers: [...env.handlers] };
              scopes.set(a.scope, nursery.cancelScope);
              await exec(a.body, env);
            },
            a.strict === undefined ? {} : { strictErrors: a.strict },
          );
        } finally {
          record.exitSeq = seq++;
          record.childTasksAfterExit = record.nursery?.childTasks.size ?? null;
        }
        return;
      }
      case "spawn": {
        const target = nurseries.get(a.nursery);
        if (target?.nursery == null || target.location === null) {
          throw new Error(`test bug: nursery N${a.nursery} not in reach`);
        }
        const record: TaskRecord = {
          id: a.task,
          target: a.nursery,
          how: a.how,
          home: null,
          task: null,
          starts: 0,
          ends: 0,
          started: null,
        };
        tasks.set(a.task, record);
        if (a.how === "soon") {
          record.home = target.location;
          target.nursery.startSoon(() => taskMain(record, a.body, null), { name: `T${a.task}` });
          return;
        }
        record.home = { owner: env.task, handlers: [...env.handlers] };
        let resolved = false;
        let value: unknown;
        try {
          value = await target.nursery.start<number>(
            (status) => taskMain(record, a.body, { status, target }),
            {
              name: `T${a.task}`,
            },
          );
          resolved = true;
        } catch (error) {
          value = error;
          if (
            error instanceof Error &&
            !thrown.has(error) &&
            !(error instanceof TreeError) &&
            !(error instanceof ExceptionGroup) &&
            !(error instanceof Cancelled) &&
            /without calling started/.test(error.message)
          ) {
            register(error, a.errorId, env, "neverStarted");
          }
          throw error;
        } finally {
          startSettledSeq.set(a.task, seq++);
          starts.push({
            task: a.task,
            resolved,
            value,
            callerCancelledAfter: currentEffectiveDeadline() === -Infinity,
          });
        }
        return;
      }
    }
  };

  const mainRecord: TaskRecord = {
    id: 0,
    target: -1,
    how: "main",
    home: null,
    task: null,
    starts: 0,
    ends: 0,
    started: null,
  };
  tasks.set(0, mainRecord);
  let tasksLivingAtEndOfMain: number | null = null;

  const main = async (): Promise<void> => {
    mainRecord.task = lowlevel.currentTask();
    mainRecord.starts++;
    try {
      await moveOnAfter(BOUND, async (scope) => {
        scopes.set(0, scope);
        const env: Env = { task: mainRecord, handlers: [], start: null };
        await step({ t: "nursery", nursery: 0, scope: 1, strict: true, body: tree.root }, env);
      });
    } finally {
      mainRecord.ends++;
      tasksLivingAtEndOfMain = lowlevel.currentStatistics().tasksLiving;
      checkLiving("end of main");
    }
  };

  const timersBefore = pendingHostTimers();
  const scheduler =
    options.schedulerSeed == null
      ? undefined
      : new RandomOneAtATimeScheduler(options.schedulerSeed);
  const running = run(main, {
    clock: new MockClock({ autojumpThreshold: 0 }),
    instruments: [instrument, ...(options.instruments ?? [])],
    signal: controller.signal,
    ...(options.strictErrors === undefined ? {} : { strictErrors: options.strictErrors }),
    ...(scheduler === undefined ? {} : { scheduler }),
  }).then(
    () => ({ settled: "resolved" as const, rejection: undefined }),
    (error: unknown) => ({ settled: "rejected" as const, rejection: error }),
  );
  let watchdog: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ settled: "timeout"; rejection: undefined }>((resolve) => {
    watchdog = setTimeout(
      () => resolve({ settled: "timeout", rejection: undefined }),
      options.watchdogMs ?? 5000,
    );
  });
  const outcome = await Promise.race([running, timeout]);
  clearTimeout(watchdog);
  const timersAfter = pendingHostTimers();

  return {
    tree,
    settled: outcome.settled,
    rejection: outcome.rejection,
    log,
    thrown,
    seen,
    caught,
    tasks,
    nurseries,
    exits,
    startSettledSeq,
    starts,
    finallies,
    waits,
    scopeExits,
    abortReason,
    livingMismatches,
    instrumentProblems,
    tasksLivingAtEndOfMain,
    timersBefore,
    timersAfter,
  };
}

// ---------------------------------------------------------------- expected error routes

/**
 * The handlers a tracked error passes on its way out, innermost first: those
 * open in the throwing task, then those around the point where the task's
 * errors go (its nursery, or the caller of start() if it never moved), and so on.
 */
export function route(record: ThrownRecord): number[] {
  const handlers = [...record.handlers].reverse();
  for (let home = record.task.home; home !== null; home = home.owner.home) {
    handlers.push(...[...home.handlers].reverse());
  }
  return handlers;
}

export interface ErrorExpectation {
  /** Handlers that must have seen the error, innermost first (the last one swallowed it, if `caughtBy`). */
  readonly seenBy: number[];
  readonly caughtBy: number | null;
}

/** Where a tracked error must end: caught by the first handler on its route whose mask picks it, else out of `run`. */
export function expectationFor(
  record: ThrownRecord,
  masks: ReadonlyMap<number, number>,
): ErrorExpectation {
  const seenBy: number[] = [];
  for (const handler of route(record)) {
    seenBy.push(handler);
    if (((masks.get(handler)! >> (record.errorId % 8)) & 1) === 1)
      return { seenBy, caughtBy: handler };
  }
  return { seenBy, caughtBy: null };
}

/** Counts how often each value occurs. */
export function multiset<T>(values: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** A compact text form of a normalised tree, for failure messages. */
export function showTree(tree: Tree): string {
  const lines: string[] = [];
  const walk = (actions: readonly Action[], depth: number): void => {
    for (const a of actions) {
      const pad = "  ".repeat(depth);
      switch (a.t) {
        case "sleep":
          lines.push(`${pad}sleep(${a.ms})`);
          break;
        case "cancel":
          lines.push(`${pad}cancel(S${a.scope})`);
          break;
        case "throw":
          lines.push(`${pad}throw E${a.errorId}`);
          break;
        case "try":
          lines.push(`${pad}try#${a.handler} (mask ${a.mask.toString(2)})`);
          walk(a.body, depth + 1);
          break;
        case "finally":
          lines.push(`${pad}try/finally#${a.id} (shielded sleep(${a.ms}))`);
          walk(a.body, depth + 1);
          break;
        case "scope": {
          const what =
            a.kind === "scope"
              ? `CancelScope(${a.timeout === null ? "" : "rel" in a.timeout ? `relativeDeadline ${a.timeout.rel}` : `deadline ${a.timeout.abs}`}${a.shield ? " shield" : ""})`
              : `${a.kind}(${a.ms}${a.shield ? ", shield" : ""})`;
          lines.push(
            `${pad}S${a.scope} = ${what}${a.kind === "failAfter" ? ` [TooSlow E${a.errorId}]` : ""}`,
          );
          walk(a.body, depth + 1);
          break;
        }
        case "nursery":
          lines.push(`${pad}N${a.nursery} = openNursery (scope S${a.scope})`);
          walk(a.body, depth + 1);
          break;
        case "spawn":
          lines.push(`${pad}N${a.nursery}.${a.how === "soon" ? "startSoon" : "start"}(T${a.task})`);
          walk(a.body, depth + 1);
          break;
        default:
          lines.push(`${pad}${a.t}`);
      }
    }
  };
  lines.push("moveOnAfter(BOUND) S0 / openNursery N0 (S1)");
  walk(tree.root, 1);
  return lines.join("\n");
}
