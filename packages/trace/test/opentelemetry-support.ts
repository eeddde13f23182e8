/**
 * The real OpenTelemetry SDK for the tests: a tracer provider exporting to
 * memory, with the AsyncLocalStorage context manager registered globally.
 */
import { context, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** A tracer whose spans land in `spans()`; `close()` unregisters the context manager. */
export interface TestTracing {
  readonly tracer: Tracer;
  /** The finished spans, in the order they ended. */
  spans(): ReadableSpan[];
  /** The one finished span named `name` (throws unless exactly one). */
  span(name: string): ReadableSpan;
  close(): Promise<void>;
}

export function setUpTracing(): TestTracing {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("test");
  return {
    tracer,
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`${found.length} spans named ${name}`);
      return found[0]!;
    },
    async close() {
      await provider.shutdown();
      context.disable();
    },
  };
}

/** The id of the span's parent, or undefined for a root span. */
export const parentId = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

/** The span's own id. */
export const spanId = (span: ReadableSpan): string => span.spanContext().spanId;
