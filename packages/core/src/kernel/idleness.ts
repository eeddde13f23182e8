import { DeadlockError } from "../errors/errors.ts";
import { Abort } from "./abort.ts";
import { SystemClock } from "./clock.ts";
import { ContextTrigger } from "./context-trigger.ts";
import type { Kernel } from "./kernel.ts";
import { TickQueued } from "./run-loop.ts";
import type { TaskImpl } from "./task.ts";

/**
 * How long a closed-world run (RunOptions.closedWorld) waits, in real ms, for
 * I/O or foreign promises that no task can settle before it reports a deadlock.
 */
export const CLOSED_WORLD_GRACE_MS = 1_000;

/** What the kernel does if it is still idle when its host timer fires. */
const Primed = { NONE: 0, IDLE_WAITERS: 1, AUTOJUMP: 2, DEADLOCK: 3 } as const;
type Primed = (typeof Primed)[keyof typeof Primed];

interface IdleWaiter {
  readonly cushion: number;
  readonly seq: number;
  readonly task: TaskImpl;
}

/**
 * What the kernel does while no task is runnable (one per Kernel, as
 * `kernel.idleness`): it sleeps on a single host timer until the next
 * deadline; wakes the tasks in `waitAllTasksBlocked` once every other task
 * has been blocked for their cushion; autojumps a virtual clock to the next
 * deadline; and finds deadlocks — every task blocked, time virtual, nothing
 * external pending.
 *
 * Members without `private` are package-internal: the kernel and its run
 * loop (kernel/ only) use them; nothing outside kernel/ may.
 */
export class Idleness {
  private readonly kernel: Kernel;

  /** Package-internal: no batch is running or queued; the host timer (if any) wakes the kernel. */
  idle = false;
  private hostTimer: NodeJS.Timeout | null = null;
  private hostImmediate: NodeJS.Immediate | null = null;
  /** The deadline (run clock) the pending hostTimer was armed for, when it only expires deadlines. */
  private hostTimerDeadline = Infinity;
  private primed: Primed = Primed.NONE;
  private idleGeneration = -1;
  private idleWaiters: IdleWaiter[] = [];
  private idleSeq = 0;
  /** Package-internal: how many pending waits are external (see WaitOptions.external); the kernel counts them. */
  externalWaits = 0;
  private deadlockError: DeadlockError | null = null;

  // Kernel callbacks run outside any task's async context.
  private readonly onHostTimer = new ContextTrigger(() => this.hostTimerFired()).fire;

  constructor(kernel: Kernel) {
    this.kernel = kernel;
  }

  /**
   * Blocks `task` until every other task is blocked (for `cushion` real
   * milliseconds). Waiters with the smallest cushion wake first, and before
   * any autojump of a virtual clock.
   */
  waitAllTasksBlocked(task: TaskImpl, cushion: number): Promise<unknown> {
    const kernel = this.kernel;
    const refused = kernel.refusal(task);
    if (refused !== null) return refused;
    const waiter: IdleWaiter = { cushion, seq: this.idleSeq++, task };
    const waiters = this.idleWaiters;
    let i = waiters.length;
    while (i > 0 && waiters[i - 1]!.cushion > cushion) i--;
    waiters.splice(i, 0, waiter);
    return kernel.park(
      task,
      () => {
        const index = this.idleWaiters.indexOf(waiter);
        if (index >= 0) this.idleWaiters.splice(index, 1);
        return Abort.SUCCEEDED;
      },
      { waitingFor: "waitAllTasksBlocked" },
    );
  }

  /** Package-internal: a new deadline; if the kernel sleeps, it must re-arm its host timer. */
  wakeIfIdle(): void {
    const runLoop = this.kernel.runLoop;
    if (this.idle && runLoop.tickQueued === TickQueued.NONE && runLoop.batch === null)
      runLoop.scheduleTick();
  }

  /** Package-internal: nothing is runnable; sleep until the next deadline, idle waiter, autojump or deadlock check. */
  goIdle(): void {
    const kernel = this.kernel;
    const clock = kernel.clock;
    this.idle = true;
    this.idleGeneration = kernel.runLoop.generation;
    const next = kernel.deadlines.next();
    let sleep = next === Infinity ? Infinity : Math.max(0, clock.deadlineToSleepTime(next));
    let primed: Primed = Primed.NONE;
    const threshold = clock.autojumpThreshold ?? Infinity;
    // Waiters are served before any jump, except those with an infinite
    // cushion (sorted last): they never wake, and must not stop the clock
    // from jumping to a pending deadline (nor make that a deadlock).
    if (this.idleWaiters.length > 0 && this.idleWaiters[0]!.cushion !== Infinity) {
      const cushion = this.idleWaiters[0]!.cushion;
      if (cushion < sleep) {
        sleep = cushion;
        primed = Primed.IDLE_WAITERS;
      }
    } else if (next !== Infinity && threshold < sleep) {
      sleep = threshold;
      primed = Primed.AUTOJUMP;
    }
    if (
      primed === Primed.NONE &&
      this.primed === Primed.NONE &&
      this.hostTimer !== null &&
      this.hostTimerDeadline <= next &&
      next !== Infinity &&
      // Not a virtual clock, nor a subclass that may change its rate: what a
      // deadline means in real time must not change while the timer waits.
      clock.constructor === SystemClock
    ) {
      // The pending timer wakes us no later than this deadline needs: keep it.
      // A server goes idle between requests with the same keep-alive deadline
      // pending each time, and re-arming cost a clearTimeout and a setTimeout
      // per idle. Waking early for a deadline since removed is harmless: the
      // tick finds nothing due and goes idle again, arming the right timer.
      return;
    }
    this.clearHostTimer();
    if (sleep === Infinity && threshold !== Infinity) {
      if (this.externalWaits === 0 && kernel.runLoop.foreignTasks === 0) {
        // On a virtual clock with nothing external pending, nothing can wake us.
        // Confirm after an event-loop turn: pending microtasks may still reschedule someone.
        sleep = 0;
        primed = Primed.DEADLOCK;
      } else if (kernel.closedWorld) {
        // A closed world (RunOptions.closedWorld) has no real I/O, but host
        // work still finishes off the main thread (zlib, fs, crypto in the
        // thread pool): give it a grace period of real time, then call it a
        // deadlock (SEMANTICS.md, "deadlocks").
        sleep = CLOSED_WORLD_GRACE_MS;
        primed = Primed.DEADLOCK;
      }
    }
    if (sleep === Infinity) return;
    this.primed = primed;
    if (sleep <= 0) {
      this.hostImmediate = setImmediate(this.onHostTimer);
    } else {
      this.hostTimer = setTimeout(this.onHostTimer, Math.ceil(sleep));
      this.hostTimerDeadline = primed === Primed.NONE ? next : Infinity;
    }
  }

  private hostTimerFired(): void {
    this.hostTimer = null;
    this.hostTimerDeadline = Infinity;
    this.hostImmediate = null;
    const kernel = this.kernel;
    const runLoop = kernel.runLoop;
    try {
      const stillIdle =
        runLoop.batch === null &&
        runLoop.runQueue.length === 0 &&
        runLoop.generation === this.idleGeneration;
      if (stillIdle && this.primed === Primed.IDLE_WAITERS) {
        const cushion = this.idleWaiters[0]!.cushion;
        while (this.idleWaiters.length > 0 && this.idleWaiters[0]!.cushion === cushion) {
          const waiter = this.idleWaiters.shift()!;
          kernel.reschedule(waiter.task, false, undefined);
        }
      } else if (stillIdle && this.primed === Primed.AUTOJUMP) {
        kernel.clock.autojump?.(kernel.deadlines.next());
      } else if (stillIdle && this.primed === Primed.DEADLOCK) {
        // Nothing happened since going idle (same generation): in a closed
        // world, after its grace period, pending I/O and foreign promises too.
        if (kernel.closedWorld || (this.externalWaits === 0 && runLoop.foreignTasks === 0))
          this.deadlock();
      }
    } catch (error) {
      kernel.crash(error);
      return;
    }
    this.idle = false;
    runLoop.sliceStart = performance.now();
    if (runLoop.tickQueued === TickQueued.NONE) runLoop.tick();
  }

  /** Package-internal: cancels the pending host timer, if any. */
  clearHostTimer(): void {
    this.hostTimerDeadline = Infinity;
    if (this.hostTimer !== null) clearTimeout(this.hostTimer);
    if (this.hostImmediate !== null) clearImmediate(this.hostImmediate);
    this.hostTimer = null;
    this.hostImmediate = null;
  }

  /**
   * Every task is blocked on something only another task could provide, time
   * is virtual and nothing is pending: nothing can ever happen. Cancel the run
   * so that every `finally` runs; if even that cannot make progress, give up.
   */
  private deadlock(): void {
    const kernel = this.kernel;
    const report = new DeadlockError(
      "deadlock: every task is blocked, no deadline is pending and no I/O is in flight " +
        `(virtual clock at ${kernel.clock.currentTime()} ms)` +
        (kernel.runLoop.foreignTasks > 0 || this.externalWaits > 0
          ? `; in this closed world (RunOptions.closedWorld) nothing settled the I/O or non-weft promises tasks await for ${CLOSED_WORLD_GRACE_MS} ms of real time`
          : "") +
        `\n${kernel.dumpTasks()}`,
    );
    if (this.deadlockError !== null || kernel.systemNursery === null) {
      kernel.crash(this.deadlockError ?? report);
      return;
    }
    this.deadlockError = report;
    kernel.systemNursery.cancelScope.cancelWithReason({ source: "shutdown", reason: "deadlock" });
    // If the cancellation woke nobody, the next idle check finds the deadlock again and gives up.
    kernel.runLoop.scheduleTick();
  }

  /** The error the run fails with because of a deadlock, if one was found. */
  get deadlockFound(): DeadlockError | null {
    return this.deadlockError;
  }
}
