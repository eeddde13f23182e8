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

export type { SocketAddress } from "./addresses.ts";
export {
  BufferedReceiveStream,
  type BufferedReceiveStreamOptions,
  type LinesOptions,
} from "./buffered-receive-stream.ts";
export { ConflictDetector } from "./conflict-detector.ts";
export {
  type FetchInput,
  fetch,
  fetchBytes,
  fetchJson,
  fetchText,
  readBytes,
  readJson,
  readText,
} from "./fetch.ts";
export type { OpenFlags } from "./file-arguments.ts";
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
} from "./file-helpers.ts";
export { FileStream, type OpenFileOptions, openFile } from "./file-stream.ts";
export { HttpStatusError } from "./http-status-error.ts";
export { type OpenTcpListenersOptions, openTcpListeners } from "./open-tcp-listeners.ts";
export { type OpenTcpStreamOptions, openTcpStream } from "./open-tcp-stream.ts";
export { openTlsOverTcpStream } from "./open-tls-over-tcp-stream.ts";
export {
  type MissedTickPolicy,
  type PeriodicOptions,
  periodic,
  type Tick,
  Ticker,
} from "./periodic.ts";
export {
  type ModeOf,
  type OpenProcessOptions,
  openProcess,
  type PipeOf,
  Process,
  type ProcessOptions,
  type StdioMode,
} from "./process.ts";
export {
  CalledProcessError,
  type CalledProcessErrorDetails,
  SpawnError,
} from "./process-errors.ts";
export { IncompleteReadError, LimitOverrunError } from "./read-errors.ts";
export {
  type CompletedProcess,
  type CompletedProcessFor,
  type InputMode,
  type OutputMode,
  type OutputOf,
  type RunProcessOptions,
  runProcess,
  type TextOf,
} from "./run-process.ts";
export {
  ACCEPT_RETRY_DELAY_MS,
  type ServeListenersOptions,
  type ServeTcpOptions,
  serveListeners,
  serveTcp,
} from "./serve.ts";
export {
  SocketListener,
  type SocketListenerOptions,
  type SocketListenerStatistics,
} from "./socket-listener.ts";
export { SocketStream } from "./socket-stream.ts";
export {
  HalfCloseableTimeoutStream,
  type StreamTimeouts,
  TimeoutStream,
  type TimeoutStreamInfo,
  withTimeouts,
} from "./stream-timeouts.ts";
export {
  type AsyncResource,
  acloseForcefully,
  checkMaxBytes,
  type HalfCloseableStream,
  type Listener,
  type ReceiveStream,
  receiveChunks,
  type SendStream,
  StapledStream,
  type Stream,
} from "./streams.ts";
export {
  type HostnameResolver,
  type ResolvedAddress,
  type SocketFactory,
  setCustomHostnameResolver,
  setCustomSocketFactory,
} from "./tcp-seams.ts";
export type { TextDecodingOptions } from "./text-decoding.ts";
export { TextReceiveStream, type TextReceiveStreamOptions } from "./text-receive-stream.ts";
export { TlsListener } from "./tls-listener.ts";
export {
  type TlsAcceptOptions,
  type TlsCommonOptions,
  type TlsConnectOptions,
  TlsStream,
  type TlsStreamOptions,
} from "./tls-stream.ts";
export {
  type Datagram,
  type OpenUdpSocketOptions,
  openUdpSocket,
  UdpSocket,
  type UdpSocketOptions,
  type UdpSocketStatistics,
} from "./udp-socket.ts";
export { openUnixListener, openUnixSocket } from "./unix.ts";
