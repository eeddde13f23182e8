/**
 * Property: whatever sendAll calls are cancelled, and wherever, the peer of a
 * SocketStream receives exactly a prefix of the concatenation of the calls
 * that ran — the completed ones in full, then part of the first cancelled one
 * — and nothing of any call after it, which raises BrokenResourceError
 * (SEMANTICS.md, "I/O resources"). Node's write buffer stays within the
 * documented 64 KiB all along. Real sockets on 127.0.0.1; what the peer got
 * is compared by SHA-256 and length.
 */
import { createHash } from "node:crypto";
import { BrokenResourceError, Cancelled, CancelScope, Event, openNursery, run } from "@weft/core";
import fc from "fast-check";
import { expect, test } from "vitest";
import { propertyParameters } from "../../../core/test/support/property-parameters.ts";
import { cancelOnceBlocked, tcpStreamPair, withTcpListener } from "../support/io.ts";

const MiB = 1024 * 1024;
/** The documented bound on what sendAll leaves in Node's write buffer. */
const SEND_BUFFER_BOUND = 64 * 1024;

/**
 * How a call is cancelled: not at all, before it starts (an already cancelled
 * scope), once it blocks (the peer paused, so it blocks if it is bigger than
 * the kernel's buffers), or once the peer has received a fraction `at` of it.
 */
type CancelMode = "none" | "before" | "onceBlocked" | "afterPeerGot";

interface SendPlan {
  readonly size: number;
  readonly cancel: CancelMode;
  readonly at: number;
}

const sendPlan: fc.Arbitrary<SendPlan> = fc.record({
  size: fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4096 }) },
    { weight: 3, arbitrary: fc.integer({ min: 4097, max: 6 * MiB }) },
  ),
  cancel: fc.oneof(
    { weight: 2, arbitrary: fc.constant<CancelMode>("none") },
    { weight: 1, arbitrary: fc.constant<CancelMode>("before") },
    { weight: 3, arbitrary: fc.constant<CancelMode>("onceBlocked") },
    { weight: 3, arbitrary: fc.constant<CancelMode>("afterPeerGot") },
  ),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
});

/**
 * The bytes of call `index`: a pattern different for every call, whose period
 * (a prime) lines up with no write size, so misplaced bytes show.
 */
function payload(size: number, index: number): Uint8Array {
  const period = new Uint8Array(4099);
  for (let j = 0; j < period.length; j++) period[j] = (j * 31 + (j >> 3) + index * 97) & 0xff;
  return size === 0 ? new Uint8Array(0) : Buffer.alloc(size, period);
}

/** SHA-256 of the first `length` bytes of the concatenation of `parts`. */
function prefixDigest(parts: readonly Uint8Array[], length: number): string {
  const hash = createHash("sha256");
  let left = length;
  for (const part of parts) {
    if (left === 0) break;
    const take = Math.min(left, part.length);
    hash.update(part.subarray(0, take));
    left -= take;
  }
  return hash.digest("hex");
}

type Outcome = { kind: "sent" } | { kind: "cancelled" } | { kind: "failed"; error: unknown };

const { numRuns, parameters, timeout } = propertyParameters(20);

test(
  "property: the peer gets a prefix of the sends up to the first cancelled one, and nothing after it",
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(sendPlan, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 256 * 1024 }),
        async (plans, peerReadSize) => {
          await run(() =>
            withTcpListener(async (listener) => {
              const [a, b] = await tcpStreamPair(listener);
              const sent: Uint8Array[] = [];
              const outcomes: Outcome[] = [];
              const hash = createHash("sha256");
              let received = 0;
              let maxWritable = 0;
              let gate: Event | null = null;
              let trigger: { threshold: number; scope: CancelScope } | null = null;
              try {
                await openNursery(async (nursery) => {
                  nursery.startSoon(async () => {
                    while (true) {
                      while (gate !== null) await gate.wait();
                      const chunk = await b.receiveSome(peerReadSize);
                      if (chunk.length === 0) return;
                      hash.update(chunk);
                      received += chunk.length;
                      maxWritable = Math.max(maxWritable, a.socket.writableLength);
                      if (trigger !== null && received >= trigger.threshold) {
                        trigger.scope.cancel("the peer got that far");
                        trigger = null;
                      }
                    }
                  });
                  let started = 0;
                  for (const [index, plan] of plans.entries()) {
                    const data = payload(plan.size, index);
                    sent.push(data);
                    let outcome: Outcome;
                    if (plan.cancel === "onceBlocked") {
                      const paused = new Event();
                      gate = paused;
                      const result = await cancelOnceBlocked(() => a.sendAll(data));
                      gate = null;
                      paused.set();
                      outcome = result.cancelled
                        ? { kind: "cancelled" }
                        : result.error === null
                          ? { kind: "sent" }
                          : { kind: "failed", error: result.error };
                    } else {
                      const scope = new CancelScope();
                      if (plan.cancel === "before") scope.cancel("before the call");
                      if (plan.cancel === "afterPeerGot") {
                        trigger = { threshold: started + Math.floor(plan.at * plan.size), scope };
                      }
                      try {
                        await scope.run(() => a.sendAll(data));
                        outcome = scope.cancelledCaught ? { kind: "cancelled" } : { kind: "sent" };
                      } catch (error) {
                        outcome = { kind: "failed", error };
                      }
                      trigger = null;
                    }
                    outcomes.push(outcome);
                    maxWritable = Math.max(maxWritable, a.socket.writableLength);
                    started += plan.size;
                  }
                  await a.sendEof(); // works after a cancelled send too
                });
              } finally {
                await a.aclose();
                await b.aclose();
              }

              const firstCancelled = outcomes.findIndex((o) => o.kind === "cancelled");
              const last = firstCancelled === -1 ? outcomes.length : firstCancelled;
              // Before the first cancelled call: every call completed.
              for (const outcome of outcomes.slice(0, last))
                expect(outcome).toEqual({ kind: "sent" });
              // After it: every call was refused, saying why — except one made
              // in a cancelled scope, whose cancel point comes first.
              for (const [i, outcome] of outcomes.entries()) {
                if (i <= last) continue;
                if (plans[i]!.cancel === "before") {
                  expect(outcome.kind).toBe("cancelled");
                  continue;
                }
                expect(outcome.kind).toBe("failed");
                const error = (outcome as { error: unknown }).error;
                expect(error).toBeInstanceOf(BrokenResourceError);
                expect((error as Error).message).toMatch(/a previous sendAll was cancelled/);
                expect((error as Error).cause).toBeInstanceOf(Cancelled);
              }
              // A "before" call is always cancelled.
              plans.forEach((plan, i) => {
                if (plan.cancel === "before") expect(outcomes[i]!.kind).toBe("cancelled");
              });
              // The peer got the completed calls in full, then a prefix of the
              // cancelled one, and nothing of any later call.
              const complete = sent.slice(0, last).reduce((n, d) => n + d.length, 0);
              const cancelledSize = firstCancelled === -1 ? 0 : sent[firstCancelled]!.length;
              expect(received).toBeGreaterThanOrEqual(complete);
              expect(received).toBeLessThanOrEqual(complete + cancelledSize);
              expect(hash.digest("hex")).toBe(prefixDigest(sent.slice(0, last + 1), received));
              expect(maxWritable).toBeLessThanOrEqual(SEND_BUFFER_BOUND);
            }),
          );
        },
      ),
      { ...parameters, numRuns },
    );
  },
  timeout.timeout,
);
