/**
 * The names of the span attributes and events the OpenTelemetry instrument
 * writes, in weft's `weft.` namespace.
 */

/** Span attribute: the task's name (as in task dumps and error reports). */
export const ATTR_TASK_NAME = "weft.task.name";
/** Span attribute: a number unique to the task within the instrument (1, 2, …, in spawn order). */
export const ATTR_TASK_ID = "weft.task.id";
/** Span attribute: the name of the task whose nursery the task was spawned in (absent for the run's root task). */
export const ATTR_PARENT_TASK_NAME = "weft.task.parent_name";

/** Span event: a cancel scope the task entered was cancelled. */
export const EVENT_CANCELLED = "weft.cancelled";
/** Attribute of {@link EVENT_CANCELLED}: where the cancellation came from ("deadline", "explicit", "nursery", "shutdown", "signal"…). */
export const ATTR_CANCEL_SOURCE = "weft.cancel.source";
/** Attribute of {@link EVENT_CANCELLED}: the reason given (absent when none was). */
export const ATTR_CANCEL_REASON = "weft.cancel.reason";

/** Span event (only with `blocks: true`): the task blocked in a weft operation. */
export const EVENT_BLOCKED = "weft.blocked";
/** Attribute of {@link EVENT_BLOCKED}: what the task waits for ("sleep", "Event.wait", …). */
export const ATTR_WAITING_FOR = "weft.waiting_for";

/** Set on a span ended because its run ended before its task did (`true`). */
export const ATTR_ABANDONED = "weft.task.abandoned";
