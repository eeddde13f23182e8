/**
 * @weft/testing/streams — in-memory streams and stream conformance suites.
 *
 * Also exported by the main entry; this subpath gives them alone. They build
 * on `@weft/core/streams`, so `@weft/net` is not needed to use them.
 *
 * @packageDocumentation
 */
export {
  checkCancelledSendAll,
  checkHalfCloseableStream,
  checkOneWayStream,
  checkTwoWayStream,
  type Maker,
} from "./check-streams.ts";
export {
  type AsyncHook,
  lockstepStreamOneWayPair,
  lockstepStreamPair,
  MemoryReceiveStream,
  type MemoryReceiveStreamOptions,
  MemorySendStream,
  type MemorySendStreamOptions,
  memoryStreamOneWayPair,
  memoryStreamPair,
  memoryStreamPump,
  type SyncHook,
} from "./memory-streams.ts";
