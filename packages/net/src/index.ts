/**
 * `@weft/net`: Trio-style byte streams, TCP / Unix / TLS / UDP sockets, listeners,
 * `serve`, Happy Eyeballs and periodic timers for the weft runtime.
 *
 * So far: the stream interfaces, `StapledStream`, `acloseForcefully` and
 * `ConflictDetector`.
 *
 * @packageDocumentation
 */
export { ConflictDetector } from "./conflict-detector.ts";
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
