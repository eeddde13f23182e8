/**
 * @weft/testing/streams — in-memory streams and stream conformance suites.
 *
 * A separate entry point because it needs `@weft/net` (an optional peer
 * dependency of `@weft/testing`): the main entry needs `@weft/core` only.
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
