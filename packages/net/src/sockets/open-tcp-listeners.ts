/**
 * `openTcpListeners` (Trio's `_highlevel_open_tcp_listeners.py`): one listener
 * per local address, on every family when no host is given.
 */
import * as dns from "node:dns";
import * as net from "node:net";
import { cancellable, isCancelled, lowlevel } from "@weft/core";
import { acloseForcefully } from "@weft/core/streams";
import { checkBoolean, checkCount, checkOptionsObject } from "@weft/core/validate";
import { codeSuffix, errorCode } from "../host/error-codes.ts";
import { waitForEvent } from "../host/io-wait.ts";
import { checkHost, checkPort } from "./addresses.ts";
import { SocketListener } from "./socket-listener.ts";
import { customListeningFactory, formatHostPort } from "./tcp-seams.ts";

/** Options of {@link openTcpListeners}. */
export interface OpenTcpListenersOptions {
  /**
   * Address or host name to listen on. Default: every local address, IPv4
   * (`0.0.0.0`) and IPv6 (`::`, IPv6-only) when the machine has IPv6.
   */
  host?: string;
  /**
   * Maximum length of the queue of connections not yet accepted. Default and
   * maximum 65535. It bounds two queues: the kernel's listen queue (which the
   * kernel may shorten to its own limit, `somaxconn` on Linux) and the
   * listener's own, where Node puts every connection as soon as it arrives
   * (0 keeps one). A connection that finds the listener's queue full is reset:
   * the client gets `ECONNRESET`, from its connect or (usually) its first read
   * or write (see `SocketListener`).
   */
  backlog?: number;
  /**
   * Let several processes listen on the same port (`SO_REUSEPORT`; Linux and
   * some BSDs): the kernel spreads incoming connections among them. Default false.
   */
  reusePort?: boolean;
}

const MAX_BACKLOG = 0xffff;

/** Codes meaning "this machine has no such address family": that listener is skipped. */
const NO_FAMILY_CODES: ReadonlySet<string> = new Set(["EAFNOSUPPORT", "EADDRNOTAVAIL"]);

/**
 * Listens on `port` (0: an ephemeral port, the same one for every listener) and
 * returns one `SocketListener` per local address, all already queueing
 * connections. Fails with an `Error` naming the address (its `cause` is Node's
 * error) if any of them cannot listen; those already open are closed.
 */
export async function openTcpListeners(
  port: number,
  options?: OpenTcpListenersOptions,
): Promise<SocketListener[]> {
  checkPort(port);
  checkOptionsObject("options", options);
  const host = options?.host;
  if (host !== undefined) checkHost(host, "options.host");
  const backlog = checkBacklog(options?.backlog);
  const reusePort = options?.reusePort ?? false;
  checkBoolean("options.reusePort", reusePort);
  const cancelled = lowlevel.cancelPoint("openTcpListeners()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const custom = customListeningFactory();
  if (custom !== null) {
    // A simulated network: its listeners stand in for SocketListeners (as a
    // custom factory's streams stand in for SocketStreams in openTcpStream).
    const opened = await custom.listen(port, { ...(host !== undefined ? { host } : {}), backlog });
    return opened as unknown as SocketListener[];
  }

  const addresses = host === undefined ? ["0.0.0.0", "::"] : await localAddresses(host);
  const wildcard = host === undefined;
  // Port 0 with several addresses: the ephemeral port the first listener got may
  // be taken on another address; pick a new one a few times before giving up.
  for (let attempt = 1; ; attempt++) {
    try {
      return await listenAll(addresses, port, backlog, reusePort, wildcard);
    } catch (error) {
      const retry = port === 0 && addresses.length > 1 && attempt < PORT_ZERO_ATTEMPTS;
      if (!retry || isCancelled(error) || errorCode((error as Error).cause) !== "EADDRINUSE") {
        throw error;
      }
    }
  }
}

const PORT_ZERO_ATTEMPTS = 8;

async function listenAll(
  addresses: string[],
  port: number,
  backlog: number,
  reusePort: boolean,
  wildcard: boolean,
): Promise<SocketListener[]> {
  const listeners: SocketListener[] = [];
  try {
    let boundPort = port;
    for (const address of addresses) {
      const server = await listenOn(address, boundPort, backlog, reusePort, wildcard);
      if (server === null) continue; // no such family here
      const listener = new SocketListener(server, { backlog });
      listeners.push(listener);
      // Port 0: every further listener shares the first one's ephemeral port.
      boundPort = listener.localAddress.port;
    }
  } catch (error) {
    for (const listener of listeners) await acloseForcefully(listener);
    throw error;
  }
  if (listeners.length === 0) {
    throw new Error(`could not listen on port ${port}: no usable local address`);
  }
  return listeners;
}

function checkBacklog(backlog: unknown): number {
  if (backlog === undefined) return MAX_BACKLOG;
  checkCount("options.backlog", backlog);
  return Math.min(backlog, MAX_BACKLOG);
}

/** The addresses `host` names (itself if numeric), without duplicates. */
async function localAddresses(host: string): Promise<string[]> {
  if (net.isIP(host) !== 0) return [host];
  const found = await cancellable(dns.promises.lookup(host, { all: true, order: "verbatim" }));
  return [...new Set(found.map((a) => a.address))];
}

/**
 * Opens one listening server; `null` if `address` is a wildcard of a family this
 * machine does not have.
 */
async function listenOn(
  address: string,
  port: number,
  backlog: number,
  reusePort: boolean,
  wildcard: boolean,
): Promise<net.Server | null> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  server.listen({
    host: address,
    port,
    backlog,
    // Without this, `::` would also take the IPv4 port the other listener holds.
    ipv6Only: net.isIPv6(address),
    ...(reusePort ? { reusePort } : {}),
  });
  try {
    await waitForEvent(server, "listening", `openTcpListeners(${formatHostPort(address, port)})`);
  } catch (error) {
    server.close();
    if (isCancelled(error)) throw error;
    const code = errorCode(error);
    if (wildcard && code !== undefined && NO_FAMILY_CODES.has(code)) return null;
    throw new Error(`could not listen on ${formatHostPort(address, port)}${codeSuffix(error)}`, {
      cause: error,
    });
  }
  return server;
}
