/**
 * `openTcpStream` (Trio's `_highlevel_open_tcp_stream.py`). Minimal until Happy
 * Eyeballs lands: Node's own resolution picks a single address.
 */
import * as net from "node:net";
import { isCancelled, lowlevel } from "@weft/core";
import { checkHost, checkOptions, checkPort } from "./addresses.ts";
import { waitForEvent } from "./io-wait.ts";
import { SocketStream } from "./socket-stream.ts";

/** Connects to `host:port` and returns a `SocketStream`. */
export async function openTcpStream(
  host: string,
  port: number,
  options?: { localAddress?: string },
): Promise<SocketStream> {
  checkHost(host);
  checkPort(port);
  checkOptions(options);
  const localAddress = options?.localAddress;
  if (localAddress !== undefined) checkHost(localAddress, "localAddress");
  lowlevel.raiseIfCancelled("openTcpStream()");
  const socket = net.connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    ...(localAddress !== undefined ? { localAddress } : {}),
  });
  try {
    await waitForEvent(socket, "connect", `openTcpStream(${host}:${port})`);
  } catch (error) {
    socket.destroy();
    if (isCancelled(error)) throw error;
    throw new Error(`could not connect to ${host}:${port}`, { cause: error });
  }
  return new SocketStream(socket);
}
