// A TCP port scanner: one task per port, a `CapacityLimiter` bounding how many
// connection attempts are in flight at once, and a timeout on each attempt
// (`moveOnAfter`: a port that neither accepts nor refuses in time is reported
// as filtered). To be deterministic it scans only 127.0.0.1, and first opens
// a few listeners of its own (`openTcpListeners`) on ports near one another;
// the scan of a range around them reports exactly those ports as open. The
// listeners are closed at the end, in a `finally`.
import {
  CancelScope,
  CapacityLimiter,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
  sleepForever,
  type TaskStatus,
} from "@weft/core";
import { openTcpListeners, openTcpStream, type SocketListener } from "@weft/net";

const HOST = "127.0.0.1";
/** At most this many connection attempts at once. */
const CONCURRENCY = 10;
/** Each attempt's timeout. */
const ATTEMPT_TIMEOUT_MS = 250;
/** How many listeners to open, and where, relative to the first (ephemeral) port. */
const LISTENER_OFFSETS = [0, 3, 7];
/** The scanned range: from the first listener's port minus this, 40 ports long. */
const RANGE_BEFORE = 10;
const RANGE_LENGTH = 40;

/** What one attempt found. */
export type PortState = "open" | "closed" | "filtered";

/** Tries to connect to `host:port` once, for at most `timeoutMs`. */
export async function probe(host: string, port: number, timeoutMs: number): Promise<PortState> {
  const state = await moveOnAfter(timeoutMs, async (): Promise<PortState> => {
    try {
      const stream = await openTcpStream(host, port);
      await stream.aclose();
      return "open";
    } catch (error) {
      if (isCancelled(error)) throw error; // the timeout (or an outer cancellation)
      return "closed"; // refused: nothing listens there
    }
  });
  return state ?? "filtered";
}

/** Scans `host` from `first` to `last` (inclusive) and returns each port's state, in port order. */
export async function scanPorts(
  host: string,
  first: number,
  last: number,
  options: { concurrency: number; timeoutMs: number },
): Promise<{ states: Map<number, PortState>; maxInFlight: number }> {
  const limiter = new CapacityLimiter(options.concurrency);
  const states = new Map<number, PortState>();
  let inFlight = 0;
  let maxInFlight = 0;
  await openNursery(async (nursery) => {
    for (let port = first; port <= last; port++) {
      nursery.startSoon(async () => {
        // The token is held for the whole attempt and given back on the way out.
        await using _ = await limiter.guard();
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          states.set(port, await probe(host, port, options.timeoutMs));
        } finally {
          inFlight--;
        }
      });
    }
  });
  const ordered = new Map([...states].sort(([a], [b]) => a - b));
  return { states: ordered, maxInFlight };
}

/**
 * Opens listeners on `HOST` at the first port the system picks plus each
 * offset (an offset whose port is taken, or off the end, is skipped), reports
 * them through `status`, and keeps them open until cancelled.
 */
async function listenNearby(status: TaskStatus<number[]>): Promise<void> {
  const listeners: SocketListener[] = [];
  try {
    const [first] = await openTcpListeners(0, { host: HOST });
    listeners.push(first!);
    const base = first!.localAddress.port;
    for (const offset of LISTENER_OFFSETS.slice(1)) {
      if (base + offset > 65535) continue;
      try {
        listeners.push(...(await openTcpListeners(base + offset, { host: HOST })));
      } catch (error) {
        if (isCancelled(error)) throw error;
        // Taken by someone else: fine, we report only the ports we did open.
      }
    }
    status.started(listeners.map((l) => l.localAddress.port));
    await sleepForever();
  } finally {
    // This task is cancelled here, and aclose() ends with a checkpoint that
    // raises Cancelled after closing: without the shield only the first
    // listener would be closed.
    await new CancelScope({ shield: true }).run(async () => {
      for (const listener of listeners) await listener.aclose();
    });
  }
}

export async function main(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      const ours = await nursery.start(listenNearby, { name: "listeners" });
      const first = Math.max(1, ours[0]! - RANGE_BEFORE);
      const last = Math.min(65535, first + RANGE_LENGTH - 1);
      console.log(`listening on ${HOST} ports ${ours.join(", ")}`);
      console.log(
        `scanning ${HOST} ports ${first}-${last}, at most ${CONCURRENCY} attempts at once, ` +
          `${ATTEMPT_TIMEOUT_MS} ms timeout each:`,
      );
      const start = performance.now();
      const { states, maxInFlight } = await scanPorts(HOST, first, last, {
        concurrency: CONCURRENCY,
        timeoutMs: ATTEMPT_TIMEOUT_MS,
      });
      const elapsed = performance.now() - start;
      const open = [...states].filter(([, s]) => s === "open").map(([port]) => port);
      const filtered = [...states].filter(([, s]) => s === "filtered").map(([port]) => port);
      for (const port of open) {
        console.log(`  ${port} open${ours.includes(port) ? " (one of ours)" : " (not ours!)"}`);
      }
      console.log(
        `${states.size} ports scanned in ${(elapsed / 1000).toFixed(2)} s: ` +
          `${open.length} open, ${filtered.length} filtered, ${states.size - open.length - filtered.length} closed; ` +
          `at most ${maxInFlight} attempts were in flight at once.`,
      );
      const missed = ours.filter((port) => !open.includes(port));
      if (missed.length > 0) console.log(`  MISSED our own listeners: ${missed.join(", ")}`);
      // The listeners' task would wait forever: cancel the nursery to close them.
      nursery.cancelScope.cancel("scan done");
    });
  });
}

if (import.meta.main) await main();
