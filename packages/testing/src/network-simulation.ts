/**
 * `@weft/testing/simulation`: whole systems on one deterministic clock. A
 * `Simulation` runs hosts (task trees built from factories) and clients on a
 * simulated network that unmodified `@weft/net` code uses through its socket
 * seams. This entry needs `@weft/net` (an optional peer dependency of
 * `@weft/testing`); the links and simulated TCP pairs it builds on are in the
 * main entry, which needs `@weft/core` and fast-check (its required peers) and no `@weft/net`.
 *
 * @packageDocumentation
 */

export {
  type CheckDeterminismOptions,
  checkDeterminism,
  NondeterminismError,
} from "./simulation/determinism.ts";
export {
  describeFaultPlan,
  type Fault,
  type FaultPlan,
  type FaultPlansOptions,
  faultPlans,
  type HostFault,
  type PathFault,
} from "./simulation/fault-plan.ts";
export * from "./simulation/index.ts";
export {
  type LinkOptions,
  type LinkPathOptions,
  type NetworkResources,
  Simulation,
  type SimulationOptions,
} from "./simulation/simulation.ts";
