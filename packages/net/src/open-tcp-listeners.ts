/** `openTcpListeners` (Trio's `_highlevel_open_tcp_listeners.py`). */
import * as net from "node:net";
import { isCancelled, lowlevel } from "@weft/core";
import { checkHost, checkOptions, checkPort } from "./addresses.ts";
import { waitForEvent } from "./io-wait.ts";
import { SocketListener } from "./socket-listener.ts";

/**
 * Listens on `port` (0 picks a free port) and returns the listeners.
 *
 * Minimal for now: a single listener on `options.host` (default `"127.0.0.1"`).
 */
export async function openTcpListeners(
  port: number,
  options?: { host?: string; backlog?: number },
): Promise<SocketListener[]> {
  checkPort(port);
  checkOptions(options);
  const host = options?.host ?? "127.0.0.1";
  checkHost(host);
  const backlog = options?.backlog;
  if (backlog !== undefined) {
    if (typeof backlog !== "number") throw new TypeError("backlog must be a number");
    if (!Number.isInteger(backlog) || backlog < 1) {
      throw new RangeError(`backlog must be an integer >= 1, got ${String(backlog)}`);
    }
  }
  lowlevel.raiseIfCancelled("openTcpListeners()");
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  server.listen({ port, host, ...(backlog !== undefined ? { backlog } : {}) });
  try {
    await waitForEvent(server, "listening", `openTcpListeners(${host}:${port})`);
  } catch (error) {
    server.close();
    if (isCancelled(error)) throw error;
    throw new Error(`could not listen on ${host}:${port}`, { cause: error });
  }
  return [new SocketListener(server)];
}
