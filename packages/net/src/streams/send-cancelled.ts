/**
 * What a stream's sending side is after a cancelled `sendAll` (SEMANTICS.md,
 * "I/O resources"): broken. A cancelled `sendAll` may have handed some, all or
 * none of its data on, and the caller cannot know how much (Trio's
 * `SendStream.send_all` contract), so nothing sent afterwards could be framed
 * correctly by the peer. Every later `sendAll` raises the error made here, and
 * no byte of it is written. Every stream of this package that can be cancelled
 * in `sendAll` keeps this rule (`SocketStream`, `TlsStream`, `FileStream`).
 */
import { BrokenResourceError, Cancelled, lowlevel } from "@weft/core";

/**
 * The `BrokenResourceError` a `sendAll` raises because an earlier `sendAll` on
 * the same stream was cancelled. `operation` starts the message and names the
 * call (`"SocketStream.sendAll"`, `sendAll on "/tmp/out"`); `cancelled` is the
 * earlier call's `Cancelled`, kept as `cause` (its message says what cancelled
 * it: a deadline, an explicit cancel…).
 */
export function previousSendCancelledError(
  operation: string,
  cancelled: unknown,
): BrokenResourceError {
  const why = cancelled instanceof Error ? ` (${cancelled.message})` : "";
  return new BrokenResourceError(
    `${operation}: a previous sendAll was cancelled${why}; how much of its data went out ` +
      "is unknown, so this stream can no longer send (close it)",
    { cause: cancelled },
  );
}

/**
 * The body of a stream's `sendAll`: its cancel point first (SEMANTICS.md,
 * "Run loop": so a loop that swallows `Cancelled` gets a schedule point every
 * time, even once sending is broken), then `check` (the stream's state
 * errors) and `send`. A `Cancelled` raised anywhere in it is handed to
 * `broken`, which breaks the sending side, before it propagates.
 */
export async function sendBreakingOnCancel(
  operation: string,
  check: () => void,
  send: () => Promise<void>,
  broken: (cancelled: Cancelled) => void,
): Promise<void> {
  try {
    const cancelled = lowlevel.cancelPoint(operation);
    if (cancelled !== null) await cancelled;
    check();
    await send();
  } catch (error) {
    if (error instanceof Cancelled) broken(error);
    throw error;
  }
}
