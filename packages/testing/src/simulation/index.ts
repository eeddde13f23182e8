/**
 * The simulated network (issue 16, in the spirit of Rust's turmoil): links
 * with latency and faults, and simulated TCP connections over them, all on
 * the run's clock (a `MockClock` for virtual time) with seeded randomness.
 *
 * This folder is the bottom layer: `simulated-link.ts` carries segments in one
 * direction; `simulated-tcp-stream.ts` builds connected stream pairs on two
 * links. Imports: `@weft/core` (and its `streams` / `validate` entries) only,
 * never `@weft/net`.
 */
export {
  type Latency,
  RETRANSMISSION_TIMEOUT,
  type SimulatedDelivery,
  SimulatedLink,
  type SimulatedLinkOptions,
  type SimulatedSegment,
} from "./simulated-link.ts";
export {
  type SimulatedSocketAddress,
  type SimulatedTcpPairOptions,
  SimulatedTcpStream,
  simulatedTcpPair,
} from "./simulated-tcp-stream.ts";
