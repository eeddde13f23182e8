/**
 * Server-sent events (`text/event-stream`): a `Response` whose body is the
 * events of an async iterable, encoded as the HTML standard says. The
 * iterable is pulled only as the client reads (the response writer's
 * backpressure), so a slow client slows the producer; when the client
 * leaves, the handler's scope is cancelled and the iterable's `finally` runs.
 */
import { checkOptionsObject, describeValue, isRevokedProxy } from "@weft/core/validate";

/** One event. Only `data` is required; a string stands for `{ data }`. */
export interface ServerSentEvent {
  /** The payload; a multi-line string becomes several `data:` lines. */
  readonly data: string;
  /** The event type (`event:`); default "message" at the client. */
  readonly event?: string;
  /** The event id (`id:`), which the client sends back as `Last-Event-ID` when it reconnects. */
  readonly id?: string;
  /** How long the client waits before reconnecting (`retry:`, ms). */
  readonly retry?: number;
}

const encoder = new TextEncoder();

function checkField(name: string, value: unknown): void {
  if (typeof value !== "string") {
    throw new TypeError(`event.${name} must be a string, got ${describeValue(value)}`);
  }
  if (/[\r\n]/.test(value)) throw new TypeError(`event.${name} must not contain a line break`);
}

/** The wire form of one event. */
export function encodeServerSentEvent(event: ServerSentEvent | string): string {
  if (
    typeof event !== "string" &&
    (event === null || typeof event !== "object" || isRevokedProxy(event))
  ) {
    throw new TypeError(`event must be a string or a ServerSentEvent, got ${describeValue(event)}`);
  }
  const { data, event: type, id, retry } = typeof event === "string" ? { data: event } : event;
  if (typeof data !== "string") throw new TypeError("event.data must be a string");
  let text = "";
  if (type !== undefined) {
    checkField("event", type);
    text += `event: ${type}\n`;
  }
  if (id !== undefined) {
    checkField("id", id);
    text += `id: ${id}\n`;
  }
  if (retry !== undefined) {
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw new RangeError(`event.retry must be a non-negative integer, got ${retry}`);
    }
    text += `retry: ${retry}\n`;
  }
  for (const line of data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

async function* encodeAll(
  events: AsyncIterable<ServerSentEvent | string>,
): AsyncGenerator<Uint8Array> {
  for await (const event of events) yield encoder.encode(encodeServerSentEvent(event));
}

/**
 * A `text/event-stream` response streaming `events`:
 *
 * ```ts
 * serveHttp(async () =>
 *   serverSentEvents((async function* () {
 *     for (let n = 0; ; n++) { yield { event: "tick", data: String(n) }; await sleep(1000); }
 *   })()));
 * ```
 */
export function serverSentEvents(
  events: AsyncIterable<ServerSentEvent | string>,
  init: ResponseInit = {},
): Response {
  if (
    events === null ||
    typeof events !== "object" ||
    isRevokedProxy(events) ||
    !(Symbol.asyncIterator in events)
  ) {
    throw new TypeError(`events must be an async iterable of events, got ${describeValue(events)}`);
  }
  checkOptionsObject("init", init);
  const headers = new Headers(init.headers);
  headers.set("content-type", "text/event-stream; charset=utf-8");
  if (!headers.has("cache-control")) headers.set("cache-control", "no-cache");
  return new Response(encodeAll(events), { ...init, headers });
}
