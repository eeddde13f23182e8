// OpenTelemetry traces of a weft HTTP service. A "quote" service answers
// GET /quote?item=… by asking an upstream service for the item's price and
// its stock at once, in two tasks of a nursery; both services run on
// `serveHttp` from @weft/net, in one run. With `openTelemetryInstrument` from
// `@weft/trace/opentelemetry`, the two upstream calls are spans of their own
// (one per task), children of the request's span because they were spawned
// in it; the W3C `traceparent` header carries the trace across HTTP, so the
// upstream's request spans hang under the calls that made them:
//
//   client GET /quote
//     GET /quote              the quote service's request span
//       fetch /price          a task: its span is the instrument's
//         GET /price          the upstream's request span
//       fetch /stock
//         GET /stock
//
// The spans go to an in-memory exporter, printed as a tree at the end; a
// real service would register an OTLP exporter instead. Run it with
//
//   node_modules/.bin/node --conditions=weft-source examples/traced-http-service.ts
import {
  type Context,
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { type Nursery, openNursery, run, sleep } from "@weft/core";
import { fetchJson, type SocketListener, serveHttp } from "@weft/net";
import { openTelemetryInstrument } from "@weft/trace/opentelemetry";

type Handler = (request: Request) => Promise<Response>;

/** The upstream's answers. */
interface Price {
  readonly item: string;
  readonly price: number;
}
interface Stock {
  readonly item: string;
  readonly stock: number;
}

/**
 * Wraps `handler` in a server span named after the request (`GET /quote`),
 * continuing the trace of the caller's `traceparent` header if it sent one.
 * The handler runs with the span active: tasks it spawns are its children.
 */
function traced(tracer: Tracer, handler: Handler): Handler {
  return (request) => {
    const { pathname } = new URL(request.url);
    const caller: Context = propagation.extract(context.active(), request.headers, {
      keys: (headers) => [...headers.keys()],
      get: (headers, key) => headers.get(key) ?? undefined,
    });
    const attributes = { "http.request.method": request.method, "url.path": pathname };
    const options = { kind: SpanKind.SERVER, attributes };
    return tracer.startActiveSpan(
      `${request.method} ${pathname}`,
      options,
      caller,
      async (span) => {
        try {
          const response = await handler(request);
          span.setAttribute("http.response.status_code", response.status);
          if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          return response;
        } finally {
          span.end();
        }
      },
    );
  };
}

/** weft's `fetchJson`, sending the active span's `traceparent` along. */
function tracedFetchJson(url: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return fetchJson(url, { headers });
}

/** The upstream service: an item's price and its stock, each after a little work. */
const upstream: Handler = async (request) => {
  const url = new URL(request.url);
  const item = url.searchParams.get("item") ?? "";
  if (url.pathname === "/price") {
    await sleep(20);
    return Response.json({ item, price: 12.5 } satisfies Price);
  }
  if (url.pathname === "/stock") {
    await sleep(30);
    return Response.json({ item, stock: 3 } satisfies Stock);
  }
  return Response.json({ error: "not found" }, { status: 404 });
};

/** The quote service: asks the upstream for the price and the stock at once. */
function quoteService(upstreamUrl: string): Handler {
  return async (request) => {
    const item = new URL(request.url).searchParams.get("item") ?? "";
    const query = `?item=${encodeURIComponent(item)}`;
    let price: number | undefined;
    let stock: number | undefined;
    await openNursery(async (nursery) => {
      // Each call is a task, so each is a span (see the instrument's filter).
      nursery.startSoon(
        async () => {
          ({ price } = (await tracedFetchJson(`${upstreamUrl}/price${query}`)) as Price);
        },
        { name: "fetch /price" },
      );
      nursery.startSoon(
        async () => {
          ({ stock } = (await tracedFetchJson(`${upstreamUrl}/stock${query}`)) as Stock);
        },
        { name: "fetch /stock" },
      );
    });
    return Response.json({ item, price, stock });
  };
}

/** Starts `handler` on an ephemeral port of 127.0.0.1 in `nursery`; returns its base URL. */
async function listen(nursery: Nursery, handler: Handler, name: string): Promise<string> {
  const [listener] = await nursery.start<SocketListener[]>(
    (taskStatus) => serveHttp(handler, { port: 0, host: "127.0.0.1", taskStatus }),
    { name },
  );
  const { port } = listener!.localAddress as { port: number };
  return `http://127.0.0.1:${port}`;
}

/**
 * The finished spans as a tree: one line per span, indented by two spaces
 * per level under its parent; siblings in name order, roots in start order.
 */
export function spanTree(spans: readonly ReadableSpan[]): string[] {
  const ids = new Set(spans.map((span) => span.spanContext().spanId));
  const children = new Map<string | undefined, ReadableSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number): void => {
    const below = [...(children.get(parent) ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    for (const span of below) {
      lines.push(`${"  ".repeat(depth)}${span.name}`);
      walk(span.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines;
}

/** What {@link tracedRequest} returns. */
export interface TracedRequest {
  /** The quote service's answer. */
  readonly quote: unknown;
  /** Every span of the request, finished. */
  readonly spans: ReadableSpan[];
}

/**
 * Runs both services with the instrument, asks for one quote with weft's
 * fetch inside a client span, shuts the services down, and returns the spans.
 */
export async function tracedRequest(): Promise<TracedRequest> {
  // OpenTelemetry's setup: spans to memory, context through AsyncLocalStorage
  // (weft tasks inherit their spawner's), W3C trace context over HTTP.
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer("traced-http-service");
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  // serveHttp's own tasks (connections, requests, stream pumps) and weft's
  // fetch's are left out: the request's span stands for them.
  const instrument = openTelemetryInstrument({
    tracer,
    filter: (task) => task.name.startsWith("fetch /"),
  });
  try {
    const quote = await run(
      () =>
        openNursery(async (nursery) => {
          const upstreamUrl = await listen(nursery, traced(tracer, upstream), "upstream");
          const quoteUrl = await listen(
            nursery,
            traced(tracer, quoteService(upstreamUrl)),
            "quote",
          );
          const url = `${quoteUrl}/quote?item=loom`;
          const clientOptions = { kind: SpanKind.CLIENT };
          const answer = await tracer.startActiveSpan(
            "client GET /quote",
            clientOptions,
            async (span) => {
              try {
                return await tracedFetchJson(url);
              } finally {
                span.end();
              }
            },
          );
          nursery.cancelScope.cancel("done");
          return answer;
        }),
      { instruments: [instrument] },
    );
    return { quote, spans: exporter.getFinishedSpans() };
  } finally {
    await provider.shutdown();
    context.disable();
    propagation.disable();
  }
}

/** Makes one traced request and prints the answer and the span tree; returns the tree's lines. */
export async function main(): Promise<string[]> {
  const { quote, spans } = await tracedRequest();
  console.log(`GET /quote?item=loom -> ${JSON.stringify(quote)}`);
  const tree = spanTree(spans);
  const traces = new Set(spans.map((span) => span.spanContext().traceId));
  console.log(`${spans.length} spans in ${traces.size} trace${traces.size === 1 ? "" : "s"}:`);
  for (const line of tree) console.log(`  ${line}`);
  return tree;
}

if (import.meta.main) await main();
