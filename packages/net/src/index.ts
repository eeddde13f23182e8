/**
 * `@weft/net`: Trio-style byte streams, TCP / Unix / TLS / UDP sockets, listeners,
 * `serve`, Happy Eyeballs and periodic timers for the weft runtime.
 *
 * Streams (`SendStream`, `ReceiveStream`, `Stream`, `HalfCloseableStream`,
 * `Listener`, `StapledStream`), TCP (`openTcpStream` with Happy Eyeballs,
 * `openTcpListeners`, `serveTcp`, `serveListeners`), Unix sockets, TLS over any
 * stream, UDP, buffered reading and text decoding, `periodic` tickers and stream
 * timeouts, a `fetch` bound to the current cancel scope, subprocesses whose
 * standard streams are weft streams (`runProcess`, `openProcess`), and files as
 * streams (`openFile`) with whole-file helpers.
 *
 * @packageDocumentation
 */

export {
  type AsyncResource,
  acloseForcefully,
  ConflictDetector,
  checkMaxBytes,
  type HalfCloseableStream,
  type Listener,
  type ReceiveStream,
  receiveChunks,
  type SendStream,
  StapledStream,
  type Stream,
} from "@weft/core/streams";
export type { OpenFlags } from "./fs/file-arguments.ts";
export {
  type AppendFileOptions,
  appendFile,
  readFile,
  readTextFile,
  type SendFileOptions,
  sendFile,
  type WriteFileFlag,
  type WriteFileOptions,
  writeFile,
} from "./fs/file-helpers.ts";
export { FileStream, type OpenFileOptions, openFile } from "./fs/file-stream.ts";
export {
  type FetchInput,
  fetch,
  fetchBytes,
  fetchJson,
  fetchText,
  readBytes,
  readJson,
  readText,
} from "./http/fetch.ts";
export {
  type FetchInit,
  type FetchRetryOptions,
  RETRYABLE_STATUSES,
} from "./http/fetch-retry.ts";
export type {
  HttpHandler,
  HttpLogEntry,
  HttpOutcome,
  HttpRequestInfo,
} from "./http/http-server.ts";
export { HttpStatusError } from "./http/http-status-error.ts";
export { PayloadTooLargeError } from "./http/request-body.ts";
export { type ServeHttpOptions, serveHttp } from "./http/serve-http.ts";
export {
  encodeServerSentEvent,
  type ServerSentEvent,
  serverSentEvents,
} from "./http/server-sent-events.ts";
export {
  type ModeOf,
  type OpenProcessOptions,
  openProcess,
  type PipeOf,
  Process,
  type ProcessOptions,
  type StdioMode,
} from "./process/process.ts";
export {
  CalledProcessError,
  type CalledProcessErrorDetails,
  SpawnError,
} from "./process/process-errors.ts";
export {
  type CompletedProcess,
  type CompletedProcessFor,
  type InputMode,
  type OutputMode,
  type OutputOf,
  type RunProcessOptions,
  runProcess,
  type TextOf,
} from "./process/run-process.ts";
export type { SocketAddress } from "./sockets/addresses.ts";
export { type OpenTcpListenersOptions, openTcpListeners } from "./sockets/open-tcp-listeners.ts";
export { type OpenTcpStreamOptions, openTcpStream } from "./sockets/open-tcp-stream.ts";
export {
  ACCEPT_RETRY_DELAY_MS,
  type ServeListenersOptions,
  type ServeTcpOptions,
  serveListeners,
  serveTcp,
} from "./sockets/serve.ts";
export {
  SocketListener,
  type SocketListenerOptions,
  type SocketListenerStatistics,
} from "./sockets/socket-listener.ts";
export { SocketStream } from "./sockets/socket-stream.ts";
export {
  type BindUdpOptions,
  type DatagramAddressInfo,
  type DatagramSocket,
  type FactoryListener,
  type HostnameResolver,
  type ResolvedAddress,
  type SocketFactory,
  setCustomHostnameResolver,
  setCustomSocketFactory,
} from "./sockets/tcp-seams.ts";
export {
  type Datagram,
  type OpenUdpSocketOptions,
  openUdpSocket,
  UdpSocket,
  type UdpSocketOptions,
  type UdpSocketStatistics,
} from "./sockets/udp-socket.ts";
export { openUnixListener, openUnixSocket } from "./sockets/unix.ts";
export {
  BufferedReceiveStream,
  type BufferedReceiveStreamOptions,
  type LinesOptions,
} from "./streams/buffered-receive-stream.ts";
export { IncompleteReadError, LimitOverrunError } from "./streams/read-errors.ts";
export {
  HalfCloseableTimeoutStream,
  type StreamTimeouts,
  TimeoutStream,
  type TimeoutStreamInfo,
  withTimeouts,
} from "./streams/stream-timeouts.ts";
export type { TextDecodingOptions } from "./streams/text-decoding.ts";
export { TextReceiveStream, type TextReceiveStreamOptions } from "./streams/text-receive-stream.ts";
export { WebReceiveStream } from "./streams/web-receive-stream.ts";
export {
  type MissedTickPolicy,
  type PeriodicOptions,
  periodic,
  type Tick,
  Ticker,
} from "./timers/periodic.ts";
export { openTlsOverTcpStream } from "./tls/open-tls-over-tcp-stream.ts";
export { TlsListener } from "./tls/tls-listener.ts";
export {
  type TlsAcceptOptions,
  type TlsCommonOptions,
  type TlsConnectOptions,
  TlsStream,
  type TlsStreamOptions,
} from "./tls/tls-stream.ts";
