/**
 * `@weft/trace/opentelemetry`: OpenTelemetry spans for weft tasks. Needs
 * `@opentelemetry/api` (an optional peer dependency of `@weft/trace`; the
 * main entry does not load it). *
 * @packageDocumentation
 */
export {
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
export {
  DEFAULT_TRACER_NAME,
  OpenTelemetryInstrument,
  openTelemetryInstrument,
} from "./instrument.ts";
export {
  isNamedTask,
  type OpenTelemetryInstrumentOptions,
  type TracedTasks,
  taskFilter,
} from "./options.ts";
