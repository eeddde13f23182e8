/**
 * The soak's server process (forked by soak/run.ts): weft's serveHttp and
 * serveTcp on loopback, in one run, with the sampler reporting to the parent
 * every second. It serves until the parent says "stop" (or goes away), then
 * cancels both servers — serveHttp's graceful shutdown — and sends its totals.
 *
 *   node --conditions=weft-source --expose-gc soak/server/main.ts   (IPC channel required)
 */
import { Event, openNursery, run, sleep } from "@weft/core";
import { type SocketListener, serveHttp, serveTcp } from "@weft/net";
import { type ParentMessage, SERVER_LIMITS, type ServerMessage } from "../protocol.ts";
import { echoServer } from "./echo.ts";
import { soakRoutes } from "./routes.ts";
import { Sampler } from "./sampler.ts";
import { TaskCensus } from "./task-census.ts";

const SAMPLE_EVERY_MS = 1000;
/** Handler errors printed in full (they fail the run; the first few tell why). */
const PRINTED_ERRORS = 5;

function send(message: ServerMessage): void {
  if (process.send === undefined)
    throw new Error("soak/server/main.ts runs under soak/run.ts (fork)");
  process.send(message);
}

const census = new TaskCensus();

await run(
  async () => {
    const routes = soakRoutes();
    const echo = echoServer();
    const outcomes = new Map<string, number>();
    const sampler = new Sampler({
      tasks: () => census.live,
      requests: routes.total,
      connections: () => census.connections,
    });
    // Set from host callbacks (IPC): waking a task is what they may do.
    const stop = new Event();
    process.on("message", (message: ParentMessage) => {
      if (message.type === "stop") stop.set();
    });
    process.on("disconnect", () => stop.set());

    await openNursery(async (nursery) => {
      const [http] = await nursery.start<SocketListener[]>((taskStatus) =>
        serveHttp(routes.handler, {
          port: 0,
          host: "127.0.0.1",
          taskStatus,
          ...SERVER_LIMITS,
          log: (entry) => {
            const count = outcomes.get(entry.outcome) ?? 0;
            outcomes.set(entry.outcome, count + 1);
            if (entry.outcome === "error" && count < PRINTED_ERRORS) {
              console.error(`soak server: ${entry.method} ${entry.url}: 500`, entry.error);
            }
          },
        }),
      );
      const [tcp] = await nursery.start<SocketListener[]>((taskStatus) =>
        serveTcp(echo.handler, 0, { host: "127.0.0.1", taskStatus }),
      );
      nursery.startSoon(
        async () => {
          while (true) {
            await sleep(SAMPLE_EVERY_MS);
            send({ type: "sample", sample: sampler.take() });
          }
        },
        { name: "soak sampler" },
      );
      send({
        type: "ready",
        httpPort: (http!.localAddress as { port: number }).port,
        tcpPort: (tcp!.localAddress as { port: number }).port,
        sample: sampler.take(),
      });
      await stop.wait();
      nursery.cancelScope.cancel("the soak run is over");
    });

    const delay = sampler.wholeRunDelay();
    sampler.close();
    send({
      type: "stopped",
      totals: {
        requestsByRoute: Object.fromEntries(routes.counts),
        outcomes: Object.fromEntries(outcomes),
        httpConnections: census.connections - echo.connections,
        tcpConnections: echo.connections,
        tcpBytesEchoed: echo.bytesEchoed,
        slowestGcMs: sampler.slowestGcMs,
        eldP99Ms: delay.p99,
        eldMaxMs: delay.max,
      },
    });
  },
  { instruments: [census] },
);
// The IPC channel would keep the process alive.
process.disconnect?.();
