/**
 * The soak's load: every kind of client of soak/load/clients, each as
 * `concurrency` loops of operations, from now while `running()`, then no new
 * operation — and it returns once every operation under way has been booked
 * (each ends by its cap at the latest).
 *
 * The clients are plain Node (undici, node:net), not weft: the load must not
 * share weft's bugs with the server it measures.
 */
import { setTimeout as delay } from "node:timers/promises";
import { Agent } from "undici";
import type { ClientKind, Target } from "./client-kind.ts";
import { abort } from "./clients/abort.ts";
import { healthProbe } from "./clients/health-probe.ts";
import { keepAlive } from "./clients/keep-alive.ts";
import { malformed } from "./clients/malformed.ts";
import { neverRead } from "./clients/never-read.ts";
import { oneShot } from "./clients/one-shot.ts";
import { oversized } from "./clients/oversized.ts";
import { pipelined } from "./clients/pipelined.ts";
import { slowloris } from "./clients/slowloris.ts";
import { tcpEcho } from "./clients/tcp-echo.ts";
import { Ledger } from "./ledger.ts";
import { Random } from "./random.ts";

export const CLIENT_KINDS: readonly ClientKind[] = [
  keepAlive,
  oneShot,
  pipelined,
  abort,
  neverRead,
  slowloris,
  oversized,
  malformed,
  tcpEcho,
  healthProbe,
];

export interface LoadOptions {
  readonly httpPort: number;
  readonly tcpPort: number;
  /** Whether to start more operations (false: the run is over, or the server died). */
  readonly running: () => boolean;
  readonly seed: number;
  /** Seconds since the run began (for the failures' descriptions). */
  readonly clock: () => number;
  /** Called every 10 s with the ledgers (progress lines, and where a hang hangs). */
  readonly progress?: (ledgers: readonly Ledger[]) => void;
}

export interface LoadResult {
  readonly ledgers: readonly Ledger[];
  /** Connections the clients opened (undici's pools and raw sockets). */
  readonly connections: number;
}

export async function generateLoad(options: LoadOptions): Promise<LoadResult> {
  let connections = 0;
  const countConnection = () => {
    connections++;
  };
  // Client keep-alive shorter than the server's (2 s): the client closes an
  // idle connection before the server may, so a request never meets a close
  // that crossed it on the wire.
  const keepAlivePool = new Agent({ connections: 8, keepAliveTimeout: 1_000, pipelining: 1 });
  const fresh = new Agent({ keepAliveTimeout: 1_000, pipelining: 1 });
  for (const agent of [keepAlivePool, fresh]) agent.on("connect", countConnection);
  const target: Target = {
    httpPort: options.httpPort,
    tcpPort: options.tcpPort,
    origin: `http://127.0.0.1:${options.httpPort}`,
    keepAlive: keepAlivePool,
    fresh,
    connectionOpened: countConnection,
  };
  const ledgers = CLIENT_KINDS.map((kind) => new Ledger(kind.name));
  const loops = CLIENT_KINDS.flatMap((kind, k) =>
    Array.from({ length: kind.concurrency }, async (_, i) => {
      const random = new Random(options.seed * 1009 + k * 101 + i);
      const ledger = ledgers[k]!;
      while (options.running()) {
        await ledger.account(
          kind.capMs,
          (signal) => kind.run(target, signal, random),
          options.clock,
        );
        if (kind.pauseMs !== undefined) await delay(kind.pauseMs);
      }
    }),
  );
  const progress = setInterval(() => options.progress?.(ledgers), 10_000);
  try {
    await Promise.all(loops);
    await Promise.all([keepAlivePool.close(), fresh.close()]);
  } finally {
    clearInterval(progress);
  }
  return { ledgers, connections };
}
