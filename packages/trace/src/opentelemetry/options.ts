import type { Tracer } from "@opentelemetry/api";
import type { Task } from "@weft/core";
import {
  checkChoice,
  checkFunction,
  checkMethods,
  checkOptionalBoolean,
  checkOptionsObject,
  describeValue,
  isRevokedProxy,
} from "@weft/core/validate";

/** Which tasks get a span, by a preset: see {@link OpenTelemetryInstrumentOptions.which}. */
export type TracedTasks = "all" | "named";

/** Options of {@link openTelemetryInstrument}. */
export interface OpenTelemetryInstrumentOptions {
  /** The tracer the spans are started with (default: `trace.getTracer("@weft/trace")`, from the global provider). */
  readonly tracer?: Tracer;
  /**
   * Which tasks get a span (default `"all"`): every task (but the kernel's
   * root task `<init>`, never traced: the main task is the run's top span),
   * or only the `"named"` ones — see {@link isNamedTask}. Ignored when
   * {@link filter} is given.
   */
  readonly which?: TracedTasks;
  /**
   * Decides, as each task is spawned, whether it gets a span (overrides
   * {@link which}). A task without a span runs in its spawner's context, so
   * the spans of its own children hang under the nearest traced ancestor.
   */
  readonly filter?: (task: Task) => boolean;
  /** The span's name for a task (default: the task's name). */
  readonly spanName?: (task: Task) => string;
  /**
   * Records every block of a traced task as a `weft.blocked` span event,
   * with what it waits for (default `false`: a busy task blocks often).
   */
  readonly blocks?: boolean;
}

/** The name weft gives a task whose function has no name (an inline arrow function). */
const ANONYMOUS = "task";

/**
 * Whether `task` has a name of its own: one given with `{ name }` or taken
 * from a named function — not the fallback `"task"` of an anonymous function.
 * weft's `Task` does not record whether its name was given explicitly or
 * taken from the function, so a named function counts; so does the run's main
 * task (named after `run()`'s function, or `"main"`).
 */
export function isNamedTask(task: Task): boolean {
  if (
    task === null ||
    typeof task !== "object" ||
    isRevokedProxy(task) ||
    typeof (task as { name?: unknown }).name !== "string"
  ) {
    throw new TypeError(`task must be a weft Task, got ${describeValue(task)}`);
  }
  return task.name !== ANONYMOUS && task.name !== "";
}

/** The filter `options` describe. */
export function taskFilter(options: OpenTelemetryInstrumentOptions = {}): (task: Task) => boolean {
  checkInstrumentOptions(options);
  if (options.filter !== undefined) return options.filter;
  return (options.which ?? "all") === "named" ? isNamedTask : () => true;
}

/** The checks of {@link OpenTelemetryInstrumentOptions}: a `TypeError` naming the option. */
export function checkInstrumentOptions(
  options: unknown,
): asserts options is OpenTelemetryInstrumentOptions | undefined {
  checkOptionsObject("options", options);
  if (options === undefined) return;
  const { tracer, which, filter, spanName, blocks } = options as OpenTelemetryInstrumentOptions;
  if (tracer !== undefined) {
    checkMethods("options.tracer", tracer, ["startSpan"], "an OpenTelemetry Tracer");
  }
  checkChoice("options.which", which, ["all", "named"]);
  if (filter !== undefined) checkFunction("options.filter", filter);
  if (spanName !== undefined) checkFunction("options.spanName", spanName);
  checkOptionalBoolean("options.blocks", blocks);
}
