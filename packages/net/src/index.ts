/**
 * `@weft/net`: Trio-style byte streams, TCP / Unix / TLS / UDP sockets, listeners,
 * `serve`, Happy Eyeballs and periodic timers for the weft runtime.
 *
 * So far: the stream interfaces, `StapledStream`, `acloseForcefully`,
 * `ConflictDetector`, and TCP: `SocketStream`, `SocketListener`, and minimal
 * `openTcpStream` (one address, no Happy Eyeballs yet) / `openTcpListeners`
 * (one host, default 127.0.0.1).
 *
 * @packageDocumentation
 */
export { ConflictDetector } from "./conflict-detector.ts";
export {
  openTcpListeners,
  openTcpStream,
  type SocketAddress,
  SocketListener,
  SocketStream,
} from "./socket-stream.ts";
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
