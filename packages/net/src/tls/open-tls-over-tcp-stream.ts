/**
 * `openTlsOverTcpStream` (Trio's `open_ssl_over_tcp_stream`): a TCP connection
 * with a TLS client on top.
 */
import * as tls from "node:tls";
import { acloseForcefully } from "@weft/core/streams";
import { checkOptionsObject } from "@weft/core/validate";
import { checkHost, checkPort } from "../sockets/addresses.ts";
import { type OpenTcpStreamOptions, openTcpStream } from "../sockets/open-tcp-stream.ts";
import type { SocketStream } from "../sockets/socket-stream.ts";
import { checkTlsOptions, type TlsConnectOptions, TlsStream } from "./tls-stream.ts";

/**
 * Connects to `host:port` over TCP and completes a TLS handshake as the client.
 * `options.serverName` defaults to `host` (SNI unless `host` is an IP address,
 * and the name checked against the certificate); `happyEyeballsDelay` and
 * `localAddress` are passed to `openTcpStream`. If the handshake fails
 * (`BrokenResourceError`) or is cancelled, the TCP connection is closed.
 */
export async function openTlsOverTcpStream(
  host: string,
  port: number,
  options?: TlsConnectOptions & OpenTcpStreamOptions,
): Promise<TlsStream<SocketStream>> {
  checkHost(host);
  checkPort(port);
  checkOptionsObject("options", options);
  const { localAddress, happyEyeballsDelay, ...rest } = options ?? {};
  const tlsOptions: TlsConnectOptions = { ...rest, serverName: rest.serverName ?? host };
  // Bad options and unusable key material are reported before anything is connected.
  checkTlsOptions(tlsOptions, false);
  tlsOptions.secureContext ??= tls.createSecureContext(tlsOptions);
  const tcp = await openTcpStream(host, port, {
    ...(localAddress !== undefined ? { localAddress } : {}),
    ...(happyEyeballsDelay !== undefined ? { happyEyeballsDelay } : {}),
  });
  try {
    return await TlsStream.connect(tcp, tlsOptions);
  } catch (error) {
    await acloseForcefully(tcp); // already closed if the handshake failed; not if it never started
    throw error;
  }
}
