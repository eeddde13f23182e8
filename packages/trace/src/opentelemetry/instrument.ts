import { type Attributes, context, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  type CancelReason,
  type CancelScope,
  type Instrument,
  isCancelled,
  type Task,
  type TaskOutcome,
} from "@weft/core";
import {
  ATTR_ABANDONED,
  ATTR_CANCEL_REASON,
  ATTR_CANCEL_SOURCE,
  ATTR_PARENT_TASK_NAME,
  ATTR_TASK_ID,
  ATTR_TASK_NAME,
  ATTR_WAITING_FOR,
  EVENT_BLOCKED,
  EVENT_CANCELLED,
} from "./conventions.ts";
import { type OpenTelemetryInstrumentOptions, taskFilter } from "./options.ts";

/** The name of the tracer the instrument uses by default. */
export const DEFAULT_TRACER_NAME = "@weft/trace";

/**
 * An {@link Instrument} that gives weft tasks OpenTelemetry spans: one span
 * per task (or per task the filter selects), from its spawn to its exit.
 *
 * - **Parent**: the span active where the task was spawned — the spawner
 *   task's own span, or a span the spawner made active around the spawn
 *   (`tracer.startActiveSpan(…, () => nursery.startSoon(…))`); for the run's
 *   main task (the function given to `run()`), the span active where `run()`
 *   was called. The kernel's root task (`<init>`, which holds the system
 *   nursery the main task lives in) gets no span.
 * - **Context**: the task runs with its span active (through the
 *   `taskContext` hook), so spans started inside it — by hand or by
 *   instrumented libraries — are its children, and so are its own tasks'.
 *   (It needs a context manager that follows async context, such as
 *   `AsyncLocalStorageContextManager`, registered globally.)
 * - **Cancellations**: each cancelled scope adds a `weft.cancelled` event,
 *   with the source and reason, to the span of the task that entered the
 *   scope (a nursery's scope: the task that opened it).
 * - **Failures**: a task that failed ends its span with status `ERROR` and
 *   the error recorded as an exception event (with its stack). A task that
 *   ends by `Cancelled` is not an error.
 *
 * Install it with `run(main, { instruments: [openTelemetryInstrument()] })`.
 */
export class OpenTelemetryInstrument implements Instrument {
  readonly #tracer;
  readonly #traced;
  readonly #spanName;
  readonly #spans = new WeakMap<Task, Span>();
  /** The task that entered each scope, to put the scope's cancellation on its span. */
  readonly #scopeTasks = new WeakMap<CancelScope, Task>();
  /** Spans not ended yet: ended at the end of the run if their task never exits (an abandoned run, a removed instrument). */
  readonly #open = new Set<Span>();
  #nextId = 1;

  /** The user's filter, which must not break the run: a filter that throws leaves the task untraced. */
  #isTraced(task: Task): boolean {
    try {
      return this.#traced(task);
    } catch {
      return false;
    }
  }

  /** The user's span name, or the task's name if that throws. */
  #nameOf(task: Task): string {
    try {
      return this.#spanName(task);
    } catch {
      return task.name;
    }
  }

  /** Ends the spans of tasks still running as the run ends (or as the instrument is removed and asked to). */
  afterRun(): void {
    for (const span of this.#open) {
      span.setAttribute(ATTR_ABANDONED, true);
      span.end();
    }
    this.#open.clear();
  }

  /** Set when `blocks` is on: the kernel skips hooks an instrument does not have. */
  declare readonly taskBlocked?: (task: Task, waitingFor: string) => void;

  constructor(options: OpenTelemetryInstrumentOptions = {}) {
    this.#traced = taskFilter(options); // checks the options
    this.#tracer = options.tracer ?? trace.getTracer(DEFAULT_TRACER_NAME);
    this.#spanName = options.spanName ?? ((task: Task) => task.name);
    if (options.blocks === true) {
      Object.defineProperty(this, "taskBlocked", {
        value: (task: Task, waitingFor: string) => {
          this.#spans.get(task)?.addEvent(EVENT_BLOCKED, { [ATTR_WAITING_FOR]: waitingFor });
        },
      });
    }
  }

  /** Starts the task's span, child of the span active in the spawner, and captures the task's context with it active. */
  taskContext(task: Task, capture: () => void): void {
    // The root task (`<init>`) only holds the system nursery: the main task is the run's top span.
    if (task.parentNursery === null || !this.#isTraced(task)) {
      capture();
      return;
    }
    const attributes: Attributes = {
      [ATTR_TASK_NAME]: task.name,
      [ATTR_TASK_ID]: this.#nextId++,
    };
    const parentTask = task.parentNursery?.parentTask;
    if (parentTask !== undefined) attributes[ATTR_PARENT_TASK_NAME] = parentTask.name;
    const active = context.active();
    const span = this.#tracer.startSpan(this.#nameOf(task), { attributes }, active);
    this.#spans.set(task, span);
    this.#open.add(span);
    context.with(trace.setSpan(active, span), capture);
  }

  cancelScopeEntered(scope: CancelScope, task: Task): void {
    this.#scopeTasks.set(scope, task);
  }

  cancelScopeCancelled(scope: CancelScope, reason: CancelReason): void {
    const span = this.#spanAbove(this.#scopeTasks.get(scope));
    if (span === undefined) return;
    const attributes: Attributes = { [ATTR_CANCEL_SOURCE]: reason.source };
    if (reason.reason !== undefined) attributes[ATTR_CANCEL_REASON] = reason.reason;
    span.addEvent(EVENT_CANCELLED, attributes);
  }

  taskExited(task: Task, outcome: TaskOutcome): void {
    const span = this.#spans.get(task);
    if (span === undefined) return;
    this.#spans.delete(task);
    this.#open.delete(span);
    if (outcome.failed && !isCancelled(outcome.error)) {
      const error = outcome.error;
      span.recordException(
        error instanceof Error ? error : { name: "thrown value", message: String(error) },
      );
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
    span.end();
  }

  /** The span of `task`, or of its nearest traced ancestor. */
  #spanAbove(task: Task | undefined): Span | undefined {
    for (let t = task; t !== undefined; t = t.parentNursery?.parentTask) {
      const span = this.#spans.get(t);
      if (span !== undefined) return span;
    }
    return undefined;
  }
}

/** An {@link OpenTelemetryInstrument}: `run(main, { instruments: [openTelemetryInstrument()] })`. */
export function openTelemetryInstrument(
  options?: OpenTelemetryInstrumentOptions,
): OpenTelemetryInstrument {
  return new OpenTelemetryInstrument(options);
}
