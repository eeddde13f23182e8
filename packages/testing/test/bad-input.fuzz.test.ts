/**
 * Bad-input fuzzing of every export of @weft/testing and its entry points
 * (generated from the sources: see core's support/bad-input-fuzz.ts for the contract).
 */
import {
  ERROR_CONSTRUCTOR,
  fuzzBadInput,
  KERNEL_HOOK,
} from "../../core/test/support/bad-input-fuzz.ts";
import {
  CancellationInjector,
  DeterministicScheduler,
  MemoryReceiveStream,
  MemorySendStream,
  MockClock,
  Sequencer,
  SimulatedLink,
  seededRandom,
  simulatedTcpPair,
} from "../src/index.ts";
import { Simulation } from "../src/network-simulation.ts";
import { memoryStreamOneWayPair, memoryStreamPair } from "../src/streams.ts";
import { WeftSchedule } from "../src/vitest.ts";

fuzzBadInput("@weft/testing", {
  receivers: {
    CancellationInjector: () => new CancellationInjector([]),
    MockClock: () => new MockClock(),
    MemoryReceiveStream: () => new MemoryReceiveStream(),
    MemorySendStream: () => new MemorySendStream(),
    Sequencer: () => new Sequencer(),
    SimulatedLink: () => new SimulatedLink(),
    SimulatedTcpStream: () => simulatedTcpPair()[0],
  },
  validArguments: {
    checkOneWayStream: () => [async () => memoryStreamOneWayPair()],
    checkTwoWayStream: () => [async () => memoryStreamPair()],
    checkHalfCloseableStream: () => [async () => simulatedTcpPair()],
    memoryStreamPump: () => [new MemorySendStream(), new MemoryReceiveStream()],
    // A loss rate needs a seeded random.
    "new SimulatedLink": () => [{ random: seededRandom(1) }],
  },
  allow: {
    "MockClock.prototype.deadlineToSleepTime(deadline)": KERNEL_HOOK,
    "MockClock.prototype.autojump(deadline)": KERNEL_HOOK,
    "DeterministicScheduler.prototype.selectBatch(runnable)": KERNEL_HOOK,
    "CancellationInjector.prototype.taskSpawned(task)": KERNEL_HOOK,
    "CancellationInjector.prototype.taskExited(_task)": KERNEL_HOOK,
    "CancellationInjector.prototype.taskExited(_outcome)": KERNEL_HOOK,
    "CancellationInjector.prototype.cancelScopeEntered(scope)": KERNEL_HOOK,
    "CancellationInjector.prototype.cancelScopeEntered(task)": KERNEL_HOOK,
    "CancellationInjector.prototype.cancelScopeExited(scope)": KERNEL_HOOK,
    "CancellationInjector.prototype.cancelScopeExited(_task)": KERNEL_HOOK,
    "CancellationInjector.prototype.nurseryOpened(nursery)": KERNEL_HOOK,
    "CancellationInjector.prototype.nurseryClosed(nursery)": KERNEL_HOOK,
    "CancellationInjector.prototype.beforeTaskStep(task)": KERNEL_HOOK,
  },
});

fuzzBadInput("@weft/testing/vitest", {
  receivers: {
    WeftSchedule: () => new WeftSchedule(new DeterministicScheduler()),
  },
  validArguments: {
    weftAsyncProperty: () => [[], async () => {}],
  },
  allow: {
    "weftAsyncProperty(arbitraries)":
      "its type, Arbitraries<Ts>, is a mapped tuple type that the type reader does not reduce to an array (so [] would count as wrong); the function checks it with checkArray",
    weftTest:
      "declares a vitest test, which vitest refuses while a test runs; its options are weftRun's (fuzzed here)",
    weftProperty:
      "declares a vitest test, which vitest refuses while a test runs; its arguments are weftAsyncProperty's (fuzzed here)",
  },
});

fuzzBadInput("@weft/testing/streams", { receivers: {}, allow: {} });

/** A simulation with two hosts, "a" and "b", to call methods on. */
function simulation(): Simulation {
  const sim = new Simulation();
  sim.host("a", async () => {});
  sim.host("b", async () => {});
  return sim;
}

fuzzBadInput("@weft/testing/simulation", {
  receivers: { Simulation: simulation },
  validArguments: {
    checkDeterminism: () => [() => new Simulation()],
    faultPlans: () => [["a", "b"]],
    "Simulation.prototype.crash": () => ["a"],
    "Simulation.prototype.bounce": () => ["a"],
    "Simulation.prototype.partition": () => ["a", "b"],
    "Simulation.prototype.repair": () => ["a", "b"],
    "Simulation.prototype.hold": () => ["a", "b"],
    "Simulation.prototype.release": () => ["a", "b"],
    "Simulation.prototype.link": () => ["a", "b", {}],
  },
  allow: {
    "new NondeterminismError": ERROR_CONSTRUCTOR,
  },
});
