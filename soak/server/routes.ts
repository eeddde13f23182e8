/**
 * The soak's HTTP handler: a few routes, each there for a kind of client of
 * soak/load (see ROUTES), and a count of the requests each got.
 */
import { cancellable, sleep } from "@weft/core";
import { LARGE_PATTERN, ROUTES } from "../protocol.ts";

/** A /large chunk: the pattern repeated to about 64 KiB, so every chunk starts at its beginning. */
const LARGE_CHUNK = Buffer.alloc(
  Math.ceil(65_536 / LARGE_PATTERN.length) * LARGE_PATTERN.length,
  LARGE_PATTERN,
);

/** Caps of the query parameters, so that no client can make the server do anything big. */
const MAX_SLOW_MS = 10_000;
const MAX_LARGE_BYTES = 64 * 1024 * 1024;

function intParam(url: URL, name: string, max: number): number {
  const value = Number(url.searchParams.get(name));
  return Number.isSafeInteger(value) && value >= 0 ? Math.min(value, max) : 0;
}

/** `bytes` bytes of the pattern, chunk by chunk as the client takes them. */
async function* largeBody(bytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < bytes; sent += LARGE_CHUNK.length) {
    yield LARGE_CHUNK.subarray(0, Math.min(LARGE_CHUNK.length, bytes - sent));
  }
}

export interface Routes {
  readonly handler: (request: Request) => Promise<Response>;
  /** Requests per route (the path, or "other"), since the start. */
  readonly counts: Map<string, number>;
  /** Requests in all, since the start. */
  total(): number;
}

export function soakRoutes(): Routes {
  const counts = new Map<string, number>();
  let total = 0;
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const known = (Object.values(ROUTES) as string[]).includes(url.pathname);
    const route = known ? url.pathname : "other";
    counts.set(route, (counts.get(route) ?? 0) + 1);
    total++;
    switch (url.pathname) {
      case ROUTES.hello:
        return new Response("hello world");
      case ROUTES.health:
        return new Response("ok");
      case ROUTES.echo: {
        if (request.method !== "POST") return new Response("POST only\n", { status: 405 });
        // A checkpoint: a client that leaves mid-body cancels the read.
        const body = await cancellable(request.arrayBuffer());
        return new Response(body);
      }
      case ROUTES.slow:
        await sleep(intParam(url, "ms", MAX_SLOW_MS));
        return new Response("slept");
      case ROUTES.large: {
        const bytes = intParam(url, "bytes", MAX_LARGE_BYTES);
        return new Response(
          largeBody(bytes) as unknown as ConstructorParameters<typeof Response>[0],
          {
            headers: { "content-length": String(bytes) },
          },
        );
      }
      default:
        return new Response("no such route\n", { status: 404 });
    }
  };
  return { handler, counts, total: () => total };
}
