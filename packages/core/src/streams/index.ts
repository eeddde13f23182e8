/**
 * @weft/core/streams — Trio's stream interfaces and the small pieces every
 * stream implementation shares (StapledStream, acloseForcefully, a conflict
 * detector for concurrent calls). They live in core so that @weft/net and
 * @weft/testing's memory streams both build on them; @weft/net re-exports them.
 *
 * @packageDocumentation
 */
export { ConflictDetector } from "./conflict-detector.ts";
export {
  type AsyncResource,
  acloseForcefully,
  checkMaxBytes,
  type HalfCloseableStream,
  isReceiveStream,
  type Listener,
  type ReceiveStream,
  receiveChunks,
  type SendStream,
  StapledStream,
  type Stream,
} from "./streams.ts";
