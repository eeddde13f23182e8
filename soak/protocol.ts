/**
 * What the soak's two processes tell each other over the IPC channel of
 * `child_process.fork`: the server child's samples and totals, the parent's
 * stop. Both sides import these types, so a message changed on one side and
 * not the other is a type error.
 */

/** One second of the server's life, measured in the server's process. */
export interface Sample {
  /** Seconds since the server began serving. */
  readonly t: number;
  /** V8 heap in use right after a full GC (the live heap, not the garbage waiting for one). */
  readonly heapUsedBytes: number;
  readonly rssBytes: number;
  /** V8's heap as reserved from the system, and memory outside it (Buffers' and ArrayBuffers' stores). */
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** Open file descriptors (entries of /proc/self/fd). */
  readonly fds: number;
  /** weft tasks spawned and not yet exited (an Instrument counts them). */
  readonly tasks: number;
  /** Event-loop delay over the last second (perf_hooks.monitorEventLoopDelay), p99 and max. */
  readonly eldP99Ms: number;
  readonly eldMaxMs: number;
  /** Requests the HTTP handler got, since the start. */
  readonly requests: number;
  /** Connections accepted (HTTP and TCP), since the start. */
  readonly connections: number;
}

/** What the server counted over the whole run (its side of the accounts). */
export interface ServerTotals {
  /** Requests the HTTP handler got, per route. */
  readonly requestsByRoute: Readonly<Record<string, number>>;
  /** Requests serveHttp logged as not ending with the handler's response, per outcome. */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly httpConnections: number;
  readonly tcpConnections: number;
  readonly tcpBytesEchoed: number;
  /** The longest forced GC of the sampler (ms): what it may add to the ELD series. */
  readonly slowestGcMs: number;
  /** Event-loop delay over the whole run, p99 and max (ms). */
  readonly eldP99Ms: number;
  readonly eldMaxMs: number;
}

/** Child → parent. */
export type ServerMessage =
  /** Serving; `sample` is the idle baseline, taken before any load. */
  | {
      readonly type: "ready";
      readonly httpPort: number;
      readonly tcpPort: number;
      readonly sample: Sample;
    }
  | { readonly type: "sample"; readonly sample: Sample }
  /** The servers have shut down (serveHttp and serveTcp were cancelled and returned). */
  | { readonly type: "stopped"; readonly totals: ServerTotals };

/** Parent → child. */
export type ParentMessage = { readonly type: "stop" };

/** Routes of the soak's HTTP server (soak/server/routes.ts). */
export const ROUTES = {
  /** GET: "hello world". */
  hello: "/hello",
  /** POST: the request body, echoed (at most the server's maxBodySize). */
  echo: "/echo",
  /** GET ?ms=N: answers after sleeping N ms on the run's clock. */
  slow: "/slow",
  /** GET ?bytes=N: N bytes of LARGE_PATTERN, streamed in 64 KiB chunks. */
  large: "/large",
  /** GET: "ok" (the health probe). */
  health: "/health",
} as const;

/** The server's limits, which the misbehaving clients are built to cross. */
export const SERVER_LIMITS = {
  /** Largest request body (413 past it). */
  maxBodySize: 64 * 1024,
  /** Largest request head (431 past it). */
  maxHeaderSize: 8 * 1024,
  /** Time a new connection has for its first request's headers (slowloris is cut off then). */
  headersTimeout: 2_000,
  /** Time an idle keep-alive connection waits for its next request. */
  keepAliveTimeout: 2_000,
  /** Deadline of a request, headers to end of response (a client that never reads is cut off then). */
  requestTimeout: 4_000,
  /** Shutdown's grace period for requests in flight. */
  gracePeriod: 1_000,
} as const;

/** The bytes /large repeats: a client checks every byte it gets against it. */
export const LARGE_PATTERN = Buffer.from(
  "weft soak large body 0123456789abcdefghijklmnopqrstuvwxyz\n",
);
