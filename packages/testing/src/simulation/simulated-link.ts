/**
 * SimulatedLink: one direction of a simulated connection's path between two
 * hosts. It carries segments with a latency on the run's clock, in order, and
 * takes the faults a simulated network injects (partition, hold, break).
 *
 * Delivery is computed, not pushed: a segment's arrival time is fixed when it
 * is sent (`max(now + latency, previous arrival)`), and the receiving side
 * takes whatever has arrived by `currentTime()`, parking until the next
 * arrival otherwise. No background task or host timer is involved, so a link
 * costs nothing while idle and a run on a `MockClock` with autojump simply
 * jumps to the next arrival.
 */
import { CancelScope, currentTime, lowlevel } from "@weft/core";
import {
  checkFunction,
  checkNonNegative,
  checkOptionalName,
  checkOptionsObject,
  describeValue,
} from "@weft/core/validate";

/**
 * A link's latency in milliseconds: a fixed number, or a function drawing one
 * per segment from the link's seeded `random` (a distribution).
 */
export type Latency = number | ((random: () => number) => number);

/**
 * How much later a lost TCP segment arrives (ms): the sender retransmits it
 * after this retransmission timeout, once per loss (see
 * `SimulatedLinkOptions.loss`). A fixed 200 ms, Linux's minimum RTO.
 */
export const RETRANSMISSION_TIMEOUT = 200;

/** Options of a `SimulatedLink`. */
export interface SimulatedLinkOptions {
  /** Milliseconds from sending a segment to its arrival (default 0). */
  latency?: Latency;
  /**
   * Where a latency function draws its randomness from: a seeded generator
   * such as `seededRandom(seed)`, so that a run is reproducible (never
   * `Math.random`). Required with a latency function; unused with a number.
   */
  random?: () => number;
  /**
   * The probability (in [0, 1)) that a segment is lost on the wire. TCP does
   * not lose it: it is retransmitted and arrives {@link RETRANSMISSION_TIMEOUT}
   * ms later per loss (each retransmission may be lost again), still in order,
   * so later segments wait for it. Default 0; drawn from `random`, which is
   * then required.
   */
  loss?: number;
  /** A name for deadlock reports and error messages. */
  name?: string;
  /** Called when the receiving side takes a segment (for traces and tests). */
  onDelivery?: (delivery: SimulatedDelivery) => void;
}

/** What travels on a link: data, the end of data (FIN), or a window update (ACK). */
export type SimulatedSegment =
  | {
      /** Data. */
      readonly kind: "data";
      /** The data's bytes. */
      readonly bytes: Uint8Array;
    }
  | {
      /** The end of data (FIN). */
      readonly kind: "eof";
    }
  | {
      /** A window update (ACK): the receiver took bytes and frees that much window. */
      readonly kind: "window";
      /** How many bytes of window it returns. */
      readonly bytes: number;
    };

/** A segment taken by the receiving side, as `onDelivery` reports it. */
export interface SimulatedDelivery {
  /** The link's name. */
  readonly link: string;
  /** What the segment was: data, the end of data, or a window update. */
  readonly kind: SimulatedSegment["kind"];
  /** Bytes of data, or bytes of window a window update returns (0 for EOF). */
  readonly length: number;
  /** When it was sent (ms, run's clock). */
  readonly sentAt: number;
  /** The latency drawn for it when it was sent. */
  readonly latency: number;
  /** When it arrived (after ordering, holds and partitions). */
  readonly arrivedAt: number;
}

/** A segment in flight or waiting to be taken. */
interface Queued {
  segment: SimulatedSegment;
  readonly seq: number;
  readonly sentAt: number;
  readonly latency: number;
  arriveAt: number;
}

/** A task parked on the link, with the deadline of its next arrival. */
interface Waiter {
  /** Null for an untimed wait: a send wakes it instead of moving its deadline. */
  readonly scope: CancelScope | null;
  readonly data: boolean;
  readonly window: boolean;
}

/** A FIFO of queued segments with O(1) shift (a head index into an array). */
class SegmentQueue {
  #items: Queued[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }
  peek(): Queued | undefined {
    return this.#items[this.#head];
  }
  push(item: Queued): void {
    this.#items.push(item);
  }
  shift(): void {
    this.#items[this.#head] = undefined as unknown as Queued;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
  items(): Queued[] {
    return this.#items.slice(this.#head);
  }
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

let linkCount = 0;

/**
 * One direction of a simulated connection: segments arrive `latency` ms after
 * they were sent, in the order they were sent (a later segment never
 * overtakes an earlier one, whatever latency it drew: TCP delivers in order).
 *
 * Faults:
 * - `loss` (an option): a lost segment is retransmitted, and arrives
 *   {@link RETRANSMISSION_TIMEOUT} ms later per loss, still in order.
 * - `hold()` / `release()`: segments in flight, and those sent meanwhile, are
 *   kept in the network; on `release()` each arrives at its own arrival time,
 *   or at once if that has passed.
 * - `partition()` / `repair()`: nothing gets through, but nothing is lost
 *   either (TCP retransmits what was not acknowledged): on `repair()` every
 *   segment that did not arrive is retransmitted and arrives a freshly drawn
 *   latency later, still in order. Segments that had arrived before the
 *   partition stay arrived (they are in the receiver's buffer).
 * - `break(error)`: the connection is reset: both ends' pending and later
 *   operations raise `BrokenResourceError` whose `cause` is `error`.
 */
export class SimulatedLink {
  /** The name given in the options, or `link-<n>`. */
  readonly name: string;
  readonly #latency: Latency;
  readonly #loss: number;
  readonly #random: (() => number) | null;
  readonly #onDelivery: ((delivery: SimulatedDelivery) => void) | null;
  readonly #data = new SegmentQueue();
  readonly #window = new SegmentQueue();
  readonly #changed: lowlevel.ParkingLot;
  #seq = 0;
  /** Parked receivers (at most one for data, one for window updates: the stream's conflict detectors). */
  readonly #waiters: Waiter[] = [];
  #lastArrival = -Infinity;
  #held = false;
  #partitioned = false;
  /** When the link stopped delivering (hold or partition), or null. */
  #blockedSince: number | null = null;
  #partitionedWhileBlocked = false;
  #brokenBy: unknown = undefined;
  #isBroken = false;
  /** The reset the receiving side gets (its arrival time), from the far end's RST. */
  #resetAt: number | null = null;
  #resetCause: unknown = undefined;
  /** @internal Set by the receiving end when it closes (data reaching it is answered with a reset). */
  receiverClosed = false;

  constructor(options: SimulatedLinkOptions = {}) {
    checkOptionsObject("options", options);
    const latency = options.latency ?? 0;
    if (typeof latency === "function") {
      if (options.random === undefined) {
        throw new TypeError(
          "options.random is required with a latency function (pass a seeded generator, e.g. seededRandom(1))",
        );
      }
    } else {
      checkFiniteNonNegative("options.latency", latency);
    }
    const loss = options.loss ?? 0;
    checkProbability("options.loss", loss, { below1: true });
    if (loss > 0 && options.random === undefined) {
      throw new TypeError(
        "options.random is required with a loss rate (pass a seeded generator, e.g. seededRandom(1))",
      );
    }
    if (options.random !== undefined) checkFunction("options.random", options.random);
    if (options.onDelivery !== undefined) checkFunction("options.onDelivery", options.onDelivery);
    checkOptionalName("options.name", options.name);
    this.name = options.name ?? `link-${++linkCount}`;
    this.#latency = latency;
    this.#loss = loss;
    this.#random = options.random ?? null;
    this.#onDelivery = options.onDelivery ?? null;
    this.#changed = new lowlevel.ParkingLot(() => `a segment on simulated link ${this.name}`);
  }

  /** True between `hold()` and `release()`. */
  get held(): boolean {
    return this.#held;
  }

  /** True between `partition()` and `repair()`. */
  get partitioned(): boolean {
    return this.#partitioned;
  }

  /** True once `break()` was called. */
  get broken(): boolean {
    return this.#isBroken;
  }

  /** Segments sent and not yet taken by the receiving side. */
  get queued(): number {
    return this.#data.size + this.#window.size;
  }

  /** Keeps everything in flight (and everything sent later) until `release()`. */
  hold(): void {
    this.#held = true;
    this.#block();
  }

  /** Lets held segments arrive: each at its own arrival time, or now if that has passed. */
  release(): void {
    this.#held = false;
    this.#unblock();
  }

  /** Cuts the link: segments are held, not lost, until `repair()` (see the class comment). */
  partition(): void {
    this.#partitioned = true;
    this.#partitionedWhileBlocked = true;
    this.#block();
  }

  /** Ends a partition: held segments are retransmitted with fresh latencies. */
  repair(): void {
    this.#partitioned = false;
    this.#unblock();
  }

  /**
   * Resets the connection this link belongs to: both ends' pending and later
   * operations raise `BrokenResourceError` with `error` as `cause`. Data in
   * flight is lost. Idempotent: the first error is kept.
   */
  break(error: unknown = new Error(`simulated link ${this.name} was broken`)): void {
    if (this.#isBroken) return;
    this.#isBroken = true;
    this.#brokenBy = error;
    this.#data.clear();
    this.#window.clear();
    this.#notify();
    for (const listener of this.#breakListeners) listener();
  }

  /** The error `break` was given (`undefined` if it was not called). */
  get brokenBy(): unknown {
    return this.#brokenBy;
  }

  // ---- The interface the stream layer uses ----------------------------------

  readonly #breakListeners: (() => void)[] = [];

  /** @internal Calls `listener` when the link is broken (the stream layer wakes the other direction). */
  onBreak(listener: () => void): void {
    this.#breakListeners.push(listener);
  }

  /**
   * @internal Sends `segment`: it arrives at `max(departAt + latency, previous
   * arrival)`. `departAt` defaults to now (a reply the far end's kernel sends
   * when some segment reaches it departs later).
   */
  transmit(segment: SimulatedSegment, departAt = currentTime()): number {
    if (this.#isBroken) return departAt; // lost with the connection
    let latency = this.#sample();
    // Each loss costs a retransmission timeout (no draw at all without loss).
    if (this.#loss > 0) while (this.#random!() < this.#loss) latency += RETRANSMISSION_TIMEOUT;
    const arriveAt = Math.max(departAt + latency, this.#lastArrival);
    this.#lastArrival = arriveAt;
    const queued: Queued = { segment, seq: this.#seq++, sentAt: departAt, latency, arriveAt };
    const isWindow = segment.kind === "window";
    (isWindow ? this.#window : this.#data).push(queued);
    // Waiters sleep until their next arrival: move their deadline rather than
    // waking them to recompute it (one context switch less per segment).
    // Already due (no latency): wake them, which is cheaper than a deadline.
    if (this.#blockedSince === null) {
      if (arriveAt <= currentTime()) {
        this.#notify();
      } else {
        for (const waiter of this.#waiters) {
          if (!(isWindow ? waiter.window : waiter.data)) continue;
          if (waiter.scope === null) this.#notify();
          else if (arriveAt < waiter.scope.deadline) waiter.scope.deadline = arriveAt;
        }
      }
    }
    return arriveAt;
  }

  /**
   * @internal Schedules a reset (the far end's RST) departing at `departAt`;
   * the receiving side sees it when it arrives. The first one counts.
   */
  transmitReset(cause: unknown, departAt = currentTime()): void {
    if (this.#resetAt !== null || this.#isBroken) return;
    this.#resetAt = Math.max(departAt + this.#sample(), this.#lastArrival);
    this.#lastArrival = this.#resetAt;
    this.#resetCause = cause;
    if (this.#blockedSince === null) {
      for (const waiter of this.#waiters) {
        if (waiter.scope === null) this.#notify();
        else if (this.#resetAt < waiter.scope.deadline) waiter.scope.deadline = this.#resetAt;
      }
    }
  }

  /** @internal The reset that has arrived by now, or null. */
  arrivedReset(): { readonly cause: unknown } | null {
    if (this.#resetAt === null || !this.#hasArrived(this.#resetAt)) return null;
    return { cause: this.#resetCause };
  }

  /** @internal The first data or EOF segment if it has arrived (not taken). */
  peekData(): SimulatedSegment | null {
    const head = this.#data.peek();
    if (head === undefined || !this.#hasArrived(head.arriveAt)) return null;
    return head.segment;
  }

  /** @internal True if data or EOF is queued, arrived or not. */
  get hasQueuedData(): boolean {
    return this.#data.size > 0;
  }

  /**
   * @internal When the first queued data segment arrives (or arrived), arrived
   * or not; null if none is queued. An EOF is not data: nothing follows it.
   */
  firstDataArrival(): number | null {
    const head = this.#data.peek();
    return head === undefined || head.segment.kind !== "data" ? null : head.arriveAt;
  }

  /**
   * @internal Takes `length` bytes of the first data segment (all of an EOF),
   * which must have arrived.
   */
  takeData(length: number): void {
    const head = this.#data.peek()!;
    const segment = head.segment;
    if (segment.kind === "data" && length < segment.bytes.length) {
      head.segment = { kind: "data", bytes: segment.bytes.subarray(length) };
    } else {
      this.#data.shift();
    }
    this.#report(head, segment.kind === "data" ? length : 0);
  }

  /** @internal Takes every window update that has arrived; returns the bytes they return. */
  takeWindow(): number {
    let total = 0;
    for (let head = this.#window.peek(); head !== undefined; head = this.#window.peek()) {
      if (!this.#hasArrived(head.arriveAt)) break;
      this.#window.shift();
      const bytes = head.segment.kind === "window" ? head.segment.bytes : 0;
      total += bytes;
      this.#report(head, bytes);
    }
    return total;
  }

  /**
   * @internal Parks until something changes on the link (a send, a fault, a
   * close on either end) or until the next segment of the asked kinds
   * arrives, whichever is first.
   */
  async waitForChange(kinds: { data: boolean; window: boolean }): Promise<void> {
    let next = Infinity;
    if (this.#blockedSince === null) {
      if (kinds.data) next = Math.min(next, this.#data.peek()?.arriveAt ?? Infinity);
      if (kinds.window) next = Math.min(next, this.#window.peek()?.arriveAt ?? Infinity);
      if (this.#resetAt !== null) next = Math.min(next, this.#resetAt);
    }
    // Nothing to time (and, with no latency, whatever is sent next is due at
    // once and wakes us): park without a cancel scope, which is cheaper.
    const timed = next !== Infinity || this.#latency !== 0;
    const waiter: Waiter = { scope: timed ? new CancelScope({ deadline: next }) : null, ...kinds };
    this.#waiters.push(waiter);
    try {
      if (waiter.scope === null) await this.#changed.park();
      else await waiter.scope.run(() => this.#changed.park());
    } finally {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    }
  }

  /** @internal Wakes every task waiting on the link (a state change the stream layer made). */
  notify(): void {
    this.#notify();
  }

  // ---- Internals ------------------------------------------------------------

  #notify(): void {
    if (this.#changed.size > 0) this.#changed.unparkAll();
  }

  #sample(): number {
    return sampleLatency(this.#latency, this.#random!, `simulated link ${this.name}`);
  }

  /** Whether something due at `arriveAt` has reached the receiving side by now. */
  #hasArrived(arriveAt: number): boolean {
    if (arriveAt > currentTime()) return false;
    return this.#blockedSince === null || arriveAt <= this.#blockedSince;
  }

  #report(queued: Queued, length: number): void {
    if (this.#onDelivery === null) return;
    this.#onDelivery({
      link: this.name,
      kind: queued.segment.kind,
      length,
      sentAt: queued.sentAt,
      latency: queued.latency,
      arrivedAt: queued.arriveAt,
    });
  }

  #block(): void {
    if (this.#blockedSince === null) this.#blockedSince = currentTime();
    this.#notify(); // waiters recompute: nothing arrives while blocked
  }

  #unblock(): void {
    if (this.#held || this.#partitioned || this.#blockedSince === null) return;
    const since = this.#blockedSince;
    const now = currentTime();
    const retransmit = this.#partitionedWhileBlocked;
    this.#blockedSince = null;
    this.#partitionedWhileBlocked = false;
    // Held segments, in the order they were sent (both queues share `seq`).
    const held = [...this.#data.items(), ...this.#window.items()]
      .filter((q) => q.arriveAt > since)
      .sort((a, b) => a.seq - b.seq);
    let last = -Infinity;
    for (const q of held) {
      const due = retransmit ? now + this.#sample() : Math.max(q.arriveAt, now);
      q.arriveAt = Math.max(due, last);
      last = q.arriveAt;
    }
    if (this.#resetAt !== null && this.#resetAt > since) {
      const due = retransmit ? now + this.#sample() : Math.max(this.#resetAt, now);
      this.#resetAt = Math.max(due, last);
      last = this.#resetAt;
    }
    // Retransmitted segments may arrive earlier than their first arrival time
    // was; later segments only have to follow them.
    if (retransmit && last !== -Infinity) this.#lastArrival = last;
    else this.#lastArrival = Math.max(this.#lastArrival, last);
    this.#notify();
  }
}

/**
 * One latency drawn from `latency` (a number is itself), checked: a latency
 * function must return a finite number >= 0. `what` names the path in the
 * error.
 */
export function sampleLatency(latency: Latency, random: () => number, what: string): number {
  if (typeof latency === "number") return latency;
  const value = latency(random);
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `the latency function of ${what} must return a finite non-negative number, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A latency option: a finite number >= 0, or a function. */
export function checkLatency(name: string, value: unknown): asserts value is Latency {
  if (typeof value === "function") return;
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number of milliseconds or a function, got ${describeValue(value)}`,
    );
  }
  checkFiniteNonNegative(name, value);
}

/** A probability: a number in [0, 1] (in [0, 1) with `below1`). */
export function checkProbability(
  name: string,
  value: unknown,
  { below1 = false }: { below1?: boolean } = {},
): asserts value is number {
  checkNonNegative(name, value);
  if (below1 ? value >= 1 : value > 1) {
    throw new RangeError(
      `${name} must be a probability in [0, 1${below1 ? ")" : "]"}, got ${value}`,
    );
  }
}

function checkFiniteNonNegative(name: string, value: unknown): asserts value is number {
  checkNonNegative(name, value);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be finite, got ${value}`);
}
