import { openMemoryChannel, openNursery, run, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";
import { expect } from "vitest";
import { describeError, type Outcome } from "./bounded-call.ts";
import { type BadValue, HOSTILE_ERROR } from "./wrong-values.ts";

/**
 * The contract the bad-input fuzz test checks (API.md, "Conventions"), case
 * by case: what a call with a bad value may do, the process-level errors it
 * must not cause, and a run that must still work afterwards.
 */

const OUTSIDE_RUN = /must be called inside weft's run\(\)/;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The contract for a call given `bad` as the argument `name`: `null` when
 * kept, else what broke it.
 */
export function violation(
  name: string,
  returnsPromise: boolean,
  bad: BadValue,
  outcome: Outcome,
  where: "inside run" | "outside run",
): string | null {
  const names = new RegExp(`${escapeRegExp(name)}(?![\\w])`);
  const named = (error: unknown): boolean =>
    (error instanceof TypeError || error instanceof RangeError) && names.test(error.message);
  const error = outcome.kind === "threw" || outcome.kind === "rejected" ? outcome.error : undefined;
  if (outcome.kind === "threw" && returnsPromise) {
    return `returns a promise, but threw synchronously: ${describeError(outcome.error)}`;
  }
  if (outcome.kind === "hang") return "hung (ignored its cancellation)";
  if (outcome.kind === "run failed") return `the run failed: ${describeError(outcome.error)}`;
  if (outcome.kind === "no receiver") {
    return `its receiver or valid arguments could not be made: ${describeError(outcome.error)}`;
  }
  if (
    where === "outside run" &&
    error instanceof Error &&
    OUTSIDE_RUN.test(error.message) &&
    !(error instanceof TypeError || error instanceof RangeError)
  ) {
    return null; // refused for being called outside run(), before looking at its arguments
  }
  if (bad.class === "wrong") {
    if (error === undefined) return `accepted it (${outcome.kind}) ${where}`;
    if (!named(error)) {
      return `failed without a TypeError/RangeError naming ${name}: ${describeError(error)}`;
    }
    return null;
  }
  if (
    (error instanceof TypeError || error instanceof RangeError) &&
    error !== HOSTILE_ERROR &&
    !named(error)
  ) {
    return `a ${error.constructor.name} that does not name ${name}: ${error.message}`;
  }
  return null;
}

export const errorsOfProcess: unknown[] = [];
let listening = false;

export function listenForUncaught(): void {
  if (listening) return;
  listening = true;
  process.on("uncaughtException", (error) => errorsOfProcess.push(error));
  process.on("unhandledRejection", (reason) => errorsOfProcess.push(reason));
}

/** A normal run with a few tasks, a channel and a sleep: the runtime still works. */
export async function runtimeStillWorks(): Promise<void> {
  const received: number[] = [];
  await run(
    async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < 3; i++) {
            await sleep(10);
            await send.send(i);
          }
          await send.aclose();
        });
        nursery.startSoon(async () => {
          for await (const value of receive) received.push(value);
        });
      });
    },
    { clock: new MockClock({ autojumpThreshold: 0 }), handleSignals: false },
  );
  expect(received).toEqual([0, 1, 2]);
}
