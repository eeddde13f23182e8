/**
 * `withTimeouts()`: idle, read and write timeouts for any stream, as deadlines
 * of cancel scopes on the run's clock (so a `MockClock` drives them; no host
 * timers). Expiry is a `TooSlowError`, as from `failAfter`.
 */
import {
  BrokenResourceError,
  CancelScope,
  ClosedResourceError,
  currentTime,
  TooSlowError,
} from "@weft/core";
import {
  ConflictDetector,
  checkMaxBytes,
  type HalfCloseableStream,
  type ReceiveStream,
  receiveChunks,
  type SendStream,
  type Stream,
} from "@weft/core/streams";
import { checkOptionsObject, describeValue, isInstance, isRevokedProxy } from "@weft/core/validate";

/**
 * Timeouts of a `TimeoutStream`, in milliseconds of the run's clock. Each is
 * optional; absent or `Infinity` means none.
 */
export interface StreamTimeouts {
  /**
   * Fail when nothing was sent or received for this long, counted from the
   * last completed I/O in either direction — including time when no
   * operation is running. See `TimeoutStream`.
   */
  idle?: number;
  /** Bound each `receiveSome`, from the call until data (or EOF) arrives. */
  read?: number;
  /** Bound each `sendAll` (and `waitSendAllMightNotBlock` / `sendEof`), from call to completion. */
  write?: number;
}

type TimeoutKind = "idle" | "read" | "write";

/** A running operation, kept so activity in the other direction can move its idle deadline. */
interface PendingOperation {
  readonly scope: CancelScope;
  /** The operation's own (read / write) deadline; `Infinity` if none. */
  readonly deadline: number;
}

function checkTimeout(name: string, value: unknown): number {
  if (value === undefined) return Infinity;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeValue(value)}`);
  }
  if (value <= 0) throw new RangeError(`${name} must be greater than 0, got ${value}`);
  return value;
}

function canSend(stream: SendStream | ReceiveStream): stream is SendStream {
  return typeof (stream as Partial<SendStream>).sendAll === "function";
}

function canReceive(stream: SendStream | ReceiveStream): stream is ReceiveStream {
  return typeof (stream as Partial<ReceiveStream>).receiveSome === "function";
}

/**
 * A stream wrapper that fails operations taking too long, with `TooSlowError`
 * (its message names the timeout and its value). Made by `withTimeouts`.
 *
 * - `read`: each `receiveSome` must get data (or EOF) within `read` ms of
 *   being called. A timed-out `receiveSome` took nothing from the stream
 *   (when the wrapped stream's `receiveSome` loses no data on cancellation,
 *   as `SocketStream` and the memory streams do), so it is safe to call
 *   again: the stream stays usable.
 * - `write`: each `sendAll` must finish within `write` ms. A timed-out
 *   `sendAll` may have sent part of its data, so the stream's send side is
 *   broken from then on: every later `sendAll` / `waitSendAllMightNotBlock` /
 *   `sendEof` throws `BrokenResourceError` whose `cause` is the `TooSlowError`
 *   (as a cancelled `send_all` is in Trio). Receiving still works, and
 *   `aclose()` always closes. `waitSendAllMightNotBlock` and `sendEof` are
 *   bounded by `write` too; a timed-out `sendEof` breaks the send side, a
 *   timed-out `waitSendAllMightNotBlock` (which sends nothing) does not.
 * - `idle`: the stream fails when nothing was sent or received for `idle` ms,
 *   measured from the last activity — not only while an operation runs. An
 *   operation running when that moment comes fails then; once it has passed,
 *   every later operation fails at once (the clock since the last activity
 *   only grows), so an idle stream is dead: close it. Activity is the
 *   completion of a `receiveSome` (data or EOF), of a non-empty `sendAll`, or
 *   of `sendEof`; it moves the idle deadline of an operation running in the
 *   other direction too, so a full-duplex stream that only sends is not idle.
 *   The idle clock starts when the wrapper is made. Progress inside one
 *   `sendAll` is invisible here, so a single `sendAll` that takes longer than
 *   `idle` fails even if bytes are trickling out: send big payloads in pieces.
 *   Timing out on `idle` has the same after-effects as on `read` / `write`.
 *
 * Nothing happens between operations (there is no background task): an
 * expired idle timeout is noticed by the next operation. Concurrent
 * `receiveSome` calls, or concurrent send-side calls, throw
 * `BusyResourceError`. Cancellation from outside is passed on unchanged.
 */
export class TimeoutStream<S extends SendStream | ReceiveStream = Stream> implements Stream {
  /** The wrapped stream. */
  readonly stream: S;
  /** The timeouts in force (`Infinity`: none). */
  readonly timeouts: Readonly<Required<StreamTimeouts>>;

  readonly #sendConflict = new ConflictDetector("another task is using this stream for sending");
  readonly #receiveConflict = new ConflictDetector(
    "another task is using this stream for receiving",
  );
  #lastActivity: number;
  #closed = false;
  /** The timeout that broke the send side, if one did. */
  #sendBrokenBy: TooSlowError | null = null;
  #pendingSend: PendingOperation | null = null;
  #pendingReceive: PendingOperation | null = null;

  /**
   * Wraps `stream` (call inside a run: the idle clock starts now). Prefer
   * `withTimeouts`, which keeps `sendEof` when the stream has one.
   * Each timeout must be a number greater than 0 or `undefined`
   * (`TypeError` / `RangeError` naming it).
   */
  constructor(stream: S, timeouts: StreamTimeouts) {
    if (
      stream === null ||
      typeof stream !== "object" ||
      isRevokedProxy(stream) ||
      (!canSend(stream) && !canReceive(stream))
    ) {
      throw new TypeError("stream must be a SendStream, a ReceiveStream or a Stream");
    }
    if (timeouts === undefined) throw new TypeError("timeouts must be an object, got undefined");
    checkOptionsObject("timeouts", timeouts);
    this.timeouts = Object.freeze({
      idle: checkTimeout("timeouts.idle", timeouts.idle),
      read: checkTimeout("timeouts.read", timeouts.read),
      write: checkTimeout("timeouts.write", timeouts.write),
    });
    this.stream = stream;
    this.#lastActivity = currentTime();
  }

  /** When the last I/O completed (run-clock ms; at first, when the wrapper was made). */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  /** When the idle timeout expires unless there is activity first (`Infinity` without one). */
  get idleDeadline(): number {
    return this.#lastActivity + this.timeouts.idle;
  }

  /** Sends all of `data` (bounded by `write` and `idle`); see the class for what a timeout leaves behind. */
  sendAll(data: Uint8Array): Promise<void> {
    if (!isInstance(data, Uint8Array)) {
      return Promise.reject(new TypeError("data must be a Uint8Array"));
    }
    return this.timedSend("sendAll", true, data.length > 0, (stream) => stream.sendAll(data));
  }

  /** The wrapped stream's `waitSendAllMightNotBlock`, bounded by `write` and `idle`; a timeout here breaks nothing. */
  waitSendAllMightNotBlock(): Promise<void> {
    return this.timedSend("waitSendAllMightNotBlock", false, false, (stream) =>
      stream.waitSendAllMightNotBlock(),
    );
  }

  /** Returns 1..`maxBytes` bytes, or an empty array at EOF (bounded by `read` and `idle`). */
  async receiveSome(maxBytes?: number): Promise<Uint8Array> {
    checkMaxBytes(maxBytes);
    const stream = this.stream;
    if (!canReceive(stream)) throw new TypeError("the wrapped stream cannot receive");
    this.#receiveConflict.acquire();
    try {
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      return await this.#timed("receiveSome", "read", false, true, () =>
        stream.receiveSome(maxBytes),
      );
    } finally {
      this.#receiveConflict.release();
    }
  }

  /** Closes the wrapped stream (with no timeout). Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    this.#closed = true;
    await this.stream.aclose();
  }

  /** `aclose()`, for `await using stream = withTimeouts(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields received chunks until EOF; each `receiveSome` under the `read` and `idle` timeouts. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }

  /**
   * @internal Runs a send-side operation: conflict detection, the closed and
   * broken checks, then `body` under the `write` and `idle` timeouts.
   * `breaks`: a timeout leaves the send side in an unknown state.
   * `active`: completing it counts as activity.
   */
  protected async timedSend<T>(
    operation: string,
    breaks: boolean,
    active: boolean,
    body: (stream: SendStream) => Promise<T>,
  ): Promise<T> {
    const stream = this.stream;
    if (!canSend(stream)) throw new TypeError("the wrapped stream cannot send");
    this.#sendConflict.acquire();
    try {
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      const cause = this.#sendBrokenBy;
      if (cause !== null) {
        throw new BrokenResourceError(
          `${operation}: the stream is broken for sending since an earlier send timed out (${cause.message})`,
          { cause },
        );
      }
      return await this.#timed(operation, "write", breaks, active, () => body(stream));
    } finally {
      this.#sendConflict.release();
    }
  }

  /**
   * Runs `body` in a cancel scope whose deadline is the earlier of the
   * operation's own timeout and the idle deadline; turns that scope's
   * cancellation into `TooSlowError`. `kind` also tells the direction.
   */
  async #timed<T>(
    operation: string,
    kind: "read" | "write",
    breaks: boolean,
    active: boolean,
    body: () => Promise<T>,
  ): Promise<T> {
    const { idle } = this.timeouts;
    const ownTimeout = this.timeouts[kind];
    const start = currentTime();
    if (start >= this.idleDeadline) throw this.#tooSlow(operation, "idle", start);
    if (ownTimeout === Infinity && idle === Infinity) {
      const value = await body();
      if (active) this.#recordActivity();
      return value;
    }
    const deadline = start + ownTimeout;
    const scope = new CancelScope({ deadline: Math.min(deadline, this.idleDeadline) });
    const pending: PendingOperation = { scope, deadline };
    if (kind === "read") this.#pendingReceive = pending;
    else this.#pendingSend = pending;
    let value: T | undefined;
    try {
      value = await scope.run(body);
    } finally {
      if (kind === "read") this.#pendingReceive = null;
      else this.#pendingSend = null;
    }
    if (scope.cancelledCaught) {
      // Only a deadline cancels this scope, and its deadline was the earlier
      // of the two: if the operation's own one has not passed, idle fired.
      // When both have passed, report idle: it is the one that stays expired.
      const now = currentTime();
      const fired: TimeoutKind = now >= deadline && now < this.idleDeadline ? kind : "idle";
      const error = this.#tooSlow(operation, fired, now);
      if (breaks) this.#sendBrokenBy = error;
      throw error;
    }
    if (active) this.#recordActivity();
    return value as T;
  }

  #tooSlow(operation: string, kind: TimeoutKind, now: number): TooSlowError {
    const ms = this.timeouts[kind];
    const detail =
      kind === "idle"
        ? `nothing sent or received for ${now - this.#lastActivity} ms`
        : kind === "read"
          ? "no data arrived"
          : "the send did not complete";
    return new TooSlowError(`${operation}: ${kind} timeout of ${ms} ms expired (${detail})`);
  }

  /** Completed I/O: restarts the idle clock, for the operation running in the other direction too. */
  #recordActivity(): void {
    this.#lastActivity = currentTime();
    if (this.timeouts.idle === Infinity) return;
    const idleDeadline = this.idleDeadline;
    for (const pending of [this.#pendingSend, this.#pendingReceive]) {
      if (pending !== null) pending.scope.deadline = Math.min(pending.deadline, idleDeadline);
    }
  }
}

/** A `TimeoutStream` over a `HalfCloseableStream`: it keeps `sendEof`. Made by `withTimeouts`. */
export class HalfCloseableTimeoutStream<S extends HalfCloseableStream = HalfCloseableStream>
  extends TimeoutStream<S>
  implements HalfCloseableStream
{
  /** The wrapped stream's `sendEof`, bounded by `write` and `idle`; a timeout breaks the send side. */
  sendEof(): Promise<void> {
    const stream = this.stream;
    return this.timedSend("sendEof", true, true, () => stream.sendEof());
  }
}

/** The properties a `TimeoutStream` adds to the stream it wraps. */
export type TimeoutStreamInfo<S extends SendStream | ReceiveStream> = Pick<
  TimeoutStream<S>,
  "stream" | "timeouts" | "lastActivity" | "idleDeadline"
>;

/**
 * Wraps `stream` with idle / read / write timeouts on the run's clock; see
 * `TimeoutStream` for their exact meaning and what a timeout leaves behind.
 * The result has the same kind as `stream`: a `HalfCloseableStream` keeps
 * `sendEof`, a one-way stream stays one-way. Call it inside a run (the idle
 * clock starts now).
 *
 * ```ts
 * const conn = withTimeouts(socketStream, { idle: 30_000, write: 10_000 });
 * for await (const chunk of conn) await conn.sendAll(chunk); // TooSlowError after 30 s of silence
 * ```
 */
export function withTimeouts<S extends HalfCloseableStream>(
  stream: S,
  timeouts: StreamTimeouts,
): HalfCloseableTimeoutStream<S>;
export function withTimeouts<S extends Stream>(
  stream: S,
  timeouts: StreamTimeouts,
): TimeoutStream<S>;
export function withTimeouts<S extends SendStream>(
  stream: S,
  timeouts: StreamTimeouts,
): SendStream & TimeoutStreamInfo<S>;
export function withTimeouts<S extends ReceiveStream>(
  stream: S,
  timeouts: StreamTimeouts,
): ReceiveStream & TimeoutStreamInfo<S>;
export function withTimeouts(
  stream: SendStream | ReceiveStream,
  timeouts: StreamTimeouts,
): TimeoutStream<SendStream | ReceiveStream> {
  const halfCloseable =
    stream !== null &&
    typeof stream === "object" &&
    !isRevokedProxy(stream) &&
    typeof (stream as Partial<HalfCloseableStream>).sendEof === "function";
  return halfCloseable
    ? new HalfCloseableTimeoutStream(stream as HalfCloseableStream, timeouts)
    : new TimeoutStream(stream, timeouts);
}
