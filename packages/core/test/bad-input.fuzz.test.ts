/**
 * Bad-input fuzzing of every export of @weft/core and its entry points
 * (generated from the sources: see support/bad-input-fuzz.ts for the contract).
 */
import {
  CancelScope,
  CapacityLimiter,
  Condition,
  ExceptionGroup,
  FifoScheduler,
  Lock,
  lowlevel,
  StrictFIFOLock,
  SystemClock,
} from "@weft/core";
import { ConflictDetector, StapledStream } from "@weft/core/streams";
import { MemoryReceiveStream, MemorySendStream } from "@weft/testing/streams";
import {
  ERROR_CONSTRUCTOR,
  expectEveryEntryPointFuzzed,
  fuzzBadInput,
  KERNEL_HOOK,
} from "./support/bad-input-fuzz.ts";

const WORKER = new URL("./fixtures/workers.ts", import.meta.url);

expectEveryEntryPointFuzzed();

fuzzBadInput("@weft/core", {
  receivers: {
    CancelScope: () => new CancelScope(),
    CapacityLimiter: () => new CapacityLimiter(2),
    Condition: async () => {
      const condition = new Condition();
      await condition.acquire();
      return condition;
    },
    ExceptionGroup: () => new ExceptionGroup([new Error("a"), new TypeError("b")]),
    FifoScheduler: () => new FifoScheduler(),
    Lock: () => new Lock(),
    StrictFIFOLock: () => new StrictFIFOLock(),
    SystemClock: () => new SystemClock(),
    "lowlevel.ParkingLot": () => new lowlevel.ParkingLot(),
  },
  validArguments: {
    "new ExceptionGroup": () => [[new Error("a")], "a group"],
    "lowlevel.reschedule": () => [lowlevel.currentTask()],
    "lowlevel.addParkingLotBreaker": () => [lowlevel.currentTask(), new lowlevel.ParkingLot()],
    "lowlevel.removeParkingLotBreaker": () => [lowlevel.currentTask(), new lowlevel.ParkingLot()],
    "lowlevel.waitTaskRescheduled": () => [() => lowlevel.Abort.SUCCEEDED],
    "lowlevel.ParkingLot.prototype.unpark": () => [1],
    "lowlevel.ParkingLot.prototype.repark": () => [new lowlevel.ParkingLot(), 1],
    runInWorker: () => [WORKER, "add", [1, 2]],
    generatorChannel: () => [async function* () {}, async () => {}],
    workerFunction: () => [WORKER, "add"],
  },
  allow: {
    "new BrokenResourceError": ERROR_CONSTRUCTOR,
    "new BusyResourceError": ERROR_CONSTRUCTOR,
    "new ClosedResourceError": ERROR_CONSTRUCTOR,
    "new DeadlockError": ERROR_CONSTRUCTOR,
    "new EndOfChannel": ERROR_CONSTRUCTOR,
    "new InternalError": ERROR_CONSTRUCTOR,
    "new Interrupted": ERROR_CONSTRUCTOR,
    "new TooSlowError": ERROR_CONSTRUCTOR,
    "new UsageError": ERROR_CONSTRUCTOR,
    "new WouldBlock": ERROR_CONSTRUCTOR,
    "new ExceptionGroup(message)": ERROR_CONSTRUCTOR,
    "SystemClock.prototype.deadlineToSleepTime(deadline)": KERNEL_HOOK,
    "FifoScheduler.prototype.selectBatch(runnable)": KERNEL_HOOK,
    "checkRunOptions(name)":
      "the name of what is checked, for messages only (as the name of every check of @weft/core/validate)",
    "checkRetryOptions(name)":
      "the name of what is checked, for messages only (as the name of every check of @weft/core/validate)",
  },
});

fuzzBadInput("@weft/core/streams", {
  receivers: {
    ConflictDetector: () => new ConflictDetector("busy"),
    StapledStream: () => new StapledStream(new MemorySendStream(), new MemoryReceiveStream()),
  },
  validArguments: {
    "new StapledStream": () => [new MemorySendStream(), new MemoryReceiveStream()],
  },
  allow: {},
});

fuzzBadInput("@weft/core/validate", {
  receivers: {},
  allow: {
    // The checks take the value to check as `unknown` (not fuzzed: anything
    // goes); `name` only names it in the message.
    "checkArray(name)": "the argument's name, for the message only",
    "checkBoolean(name)": "the argument's name, for the message only",
    "checkBytes(name)": "the argument's name, for the message only",
    "checkChoice(name)": "the argument's name, for the message only",
    "checkCount(name)": "the argument's name, for the message only",
    "checkDeadline(name)": "the argument's name, for the message only",
    "checkDuration(name)": "the argument's name, for the message only",
    "checkFinite(name)": "the argument's name, for the message only",
    "checkFunction(name)": "the argument's name, for the message only",
    "checkInstance(name)": "the argument's name, for the message only",
    "checkNonNegative(name)": "the argument's name, for the message only",
    "checkOptionalBoolean(name)": "the argument's name, for the message only",
    "checkOptionalName(name)": "the argument's name, for the message only",
    "checkOptionsObject(name)": "the argument's name, for the message only",
    "checkCount(__2)": "the bounds of the check (min, infinity), the calling code's constants",
    "checkCount(__2.min)": "a bound of the check, the calling code's constant",
    "checkCount(__2.infinity)": "a bound of the check, the calling code's constant",
    "checkChoice(allowed)": "the choices, the calling code's constant",
    "checkInstance(type)": "the class to test against, the calling code's constant",
    "checkMethods(name)": "the argument's name, for the message only",
    "checkMethods(methods)": "the method names, the calling code's constant",
    "checkMethods(what)": "what the value is called in the message, the calling code's constant",
    "checkInstance(what)": "what the class is called in the message, the calling code's constant",
    "isInstance(type)": "the class to test against, the calling code's constant",
  },
});
