/**
 * `TlsStream`: TLS over any weft `Stream`, Trio's `SSLStream` (`trio/_ssl.py`),
 * built on `node:tls`.
 *
 * How it works. A `tls.TLSSocket` runs over a `MemoryBio` (a `Duplex` that does no
 * I/O): what TLS writes is queued there, and what we receive from the transport
 * is pushed into it. There is no background task moving bytes (a stream owns no
 * nursery): each weft operation drives the transport itself, as Trio's `_retry`
 * does, in a loop of "look at TLS's state, then do exactly one thing that can make
 * progress":
 *
 * - queued ciphertext → send it on the transport (under the inner send lock, so
 *   ciphertext goes out in the order TLS wrote it, whoever sends it);
 * - TLS is waiting for input → receive from the transport and feed it (under the
 *   inner receive lock; a task that queued behind another receiver does not
 *   receive again, it re-examines what the other one fed);
 * - otherwise → wait until TLS does something.
 *
 * Unlike OpenSSL's SSLObject, a TLSSocket answers asynchronously (next tick, or a
 * later event-loop turn while one of its writes is in flight), and it never says
 * "I want to read". So "TLS is waiting for input" is inferred: nothing that
 * matters happened for `QUIET_TURNS` turns of the event loop. Those waits wake
 * the task at every turn (see `#wait`), so a run is never idle while only Node
 * has work to do.
 *
 * Node specifics worth knowing: TLS reports both a close_notify and a bare
 * transport EOF as 'end', so we feed it the transport's EOF only once it is idle
 * (a close_notify before it has been reported by then) and tell the two apart
 * ourselves. A server's TLS 1.3 session tickets are held back until its next
 * send, as Trio does (see `#hold`).
 */
import type { X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  BrokenResourceError,
  BusyResourceError,
  type Cancelled,
  CancelScope,
  ClosedResourceError,
  cancelShieldedCheckpoint,
  checkpoint,
  isCancelled,
  Lock,
  lowlevel,
  StrictFIFOLock,
  type Task,
} from "@weft/core";
import {
  acloseForcefully,
  ConflictDetector,
  checkMaxBytes,
  receiveChunks,
  type Stream,
} from "@weft/core/streams";
import { checkOptionsObject, isArray, isInstance, isRevokedProxy } from "@weft/core/validate";
import { checkHost } from "../sockets/addresses.ts";
import { ChunkQueue } from "../streams/chunk-queue.ts";
import { previousSendCancelledError, sendBreakingOnCancel } from "../streams/send-cancelled.ts";
import { MemoryBio } from "./tls-memory-bio.ts";

const DEFAULT_RECEIVE_SIZE = 65536;
/** How long `aclose` tries to get its close_notify onto the transport (ms). */
const DEFAULT_CLOSE_NOTIFY_TIMEOUT = 1000;
/**
 * Event-loop turns without relevant TLS activity after which TLS is taken to be
 * waiting for input. One turn covers everything TLS does on the next tick; the
 * second covers the write completions it defers by a turn.
 */
const QUIET_TURNS = 2;
/**
 * Turns an operation waits for Node one turn at a time (see `#wait`) before it
 * parks until TLS does something: TLS answers within a turn or two, so only a
 * stalled TLS (one waiting for the peer) ever gets there.
 */
const MAX_BUSY_TURNS = 100;
/**
 * The most plaintext `sendAll` hands to TLS at once: the next piece goes only
 * once the ciphertext of this one is on the transport, so a cancelled call
 * leaves at most this much plaintext, and its ciphertext, behind (the bound
 * the class documents).
 */
const SEND_PIECE_SIZE = 65536;

/** Options shared by both sides of a TLS connection (and by `TlsListener`). */
export interface TlsCommonOptions extends tls.SecureContextOptions {
  /**
   * A secure context to use instead of building one from the other options (a
   * listener builds one and shares it between its connections).
   */
  secureContext?: tls.SecureContext;
  /** ALPN protocols to offer (client) or accept (server), most preferred first. */
  alpnProtocols?: readonly string[];
  /**
   * Trio's `https_compatible`: neither send nor expect close_notify. A transport
   * EOF is then a plain EOF rather than a possible truncation attack, and `aclose`
   * just closes the transport. For HTTPS and other protocols that mark the end of
   * their data themselves. Default false.
   */
  httpsCompatible?: boolean;
  /**
   * How long (ms, on the run's clock) `aclose` tries to send its close_notify
   * before it gives up and closes the transport anyway; a peer that never reads
   * cannot make `aclose` hang. Default 1000.
   */
  closeNotifyTimeout?: number;
}

/** Options of the client side (`TlsStream.connect`, `openTlsOverTcpStream`). */
export interface TlsConnectOptions extends TlsCommonOptions {
  /**
   * The server's name: sent as SNI (unless it is an IP address) and checked
   * against the certificate. Required unless `rejectUnauthorized` is false.
   */
  serverName?: string;
  /** Verify the server's certificate chain and name (default true). */
  rejectUnauthorized?: boolean;
  /** Replaces Node's `tls.checkServerIdentity` for the name check. */
  checkServerIdentity?: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;
}

/** Options of the server side (`TlsStream.accept`, `TlsListener`): a certificate and key, or a secure context. */
export type TlsAcceptOptions = TlsCommonOptions;

/** Options of `new TlsStream`: the client's, plus `serverSide: true` with a server's certificate for the server. */
export interface TlsStreamOptions extends TlsConnectOptions {
  /** Act as the server (default false: the client). */
  serverSide?: boolean;
}

type State = "ok" | "broken" | "closed";
type HandshakeState = "idle" | "running" | "done" | "failed";

/** A task parked in `#wait`. */
interface Waiter {
  readonly task: Task;
  /** Wake it at the next event-loop turn at the latest. */
  readonly nextTurn: boolean;
  /** Wake it on any activity, not only on relevant activity (see `#noteActivity`). */
  readonly anyActivity: boolean;
}

/** Event-loop turns without relevant TLS activity, counted by an operation's loop. */
interface QuietTurns {
  /** The relevant-activity count when the count started. */
  seen: number;
  turns: number;
}

function isStream(value: unknown): value is Stream {
  if (value === null || typeof value !== "object" || isRevokedProxy(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.sendAll === "function" &&
    typeof v.receiveSome === "function" &&
    typeof v.waitSendAllMightNotBlock === "function" &&
    typeof v.aclose === "function"
  );
}

function checkBooleanOption(options: object, name: string): void {
  const value = (options as Record<string, unknown>)[name];
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`options.${name} must be a boolean, got ${typeof value}`);
  }
}

/**
 * Checks `options` for a `TlsStream` side (`TypeError` / `RangeError` naming the
 * option). @internal Shared with `TlsListener` and `openTlsOverTcpStream`.
 */
export function checkTlsOptions(options: unknown, serverSide: boolean): void {
  checkOptionsObject("options", options);
  if (options === undefined) {
    if (serverSide) throw new TypeError("options must give the server's cert and key");
    throw new TypeError("options.serverName is required to verify the server's certificate");
  }
  const o = options as TlsStreamOptions;
  checkBooleanOption(o, "serverSide");
  checkBooleanOption(o, "rejectUnauthorized");
  checkBooleanOption(o, "httpsCompatible");
  if (o.serverName !== undefined) checkHost(o.serverName, "options.serverName");
  if (o.alpnProtocols !== undefined) {
    if (!isArray(o.alpnProtocols)) {
      throw new TypeError("options.alpnProtocols must be an array of strings");
    }
    for (const p of o.alpnProtocols as unknown[]) {
      if (typeof p !== "string" || p.length === 0 || p.length > 255) {
        throw new TypeError(
          "options.alpnProtocols must hold non-empty strings (at most 255 chars)",
        );
      }
    }
  }
  if (o.closeNotifyTimeout !== undefined) {
    const t = o.closeNotifyTimeout as unknown;
    if (typeof t !== "number") {
      throw new TypeError(`options.closeNotifyTimeout must be a number, got ${typeof t}`);
    }
    if (Number.isNaN(t) || t < 0) {
      throw new RangeError(`options.closeNotifyTimeout must be >= 0, got ${String(t)}`);
    }
  }
  if (o.checkServerIdentity !== undefined && typeof o.checkServerIdentity !== "function") {
    throw new TypeError("options.checkServerIdentity must be a function");
  }
  if (o.secureContext !== undefined && !isInstance(o.secureContext, Object)) {
    throw new TypeError("options.secureContext must be a tls.SecureContext");
  }
  if (serverSide) {
    if (o.secureContext === undefined && o.pfx === undefined && o.cert === undefined) {
      throw new TypeError("options must give the server's cert and key (or pfx, or secureContext)");
    }
  } else if (o.serverName === undefined && o.rejectUnauthorized !== false) {
    throw new TypeError("options.serverName is required to verify the server's certificate");
  }
}

/**
 * TLS over any weft `Stream` (a `SocketStream`, a memory stream, another
 * `TlsStream`…), as client or server.
 *
 * The handshake happens on the first `sendAll` / `receiveSome` (or an explicit
 * `doHandshake()`); `TlsStream.connect` / `TlsStream.accept` do it before
 * returning. One task may send while another receives; two concurrent senders or
 * receivers get `BusyResourceError`.
 *
 * Errors: a failed handshake (bad certificate, wrong name, garbage from the peer)
 * and any transport failure are `BrokenResourceError`, whose `cause` is Node's or
 * the transport's error (with its `code`, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`); after one, every operation but `aclose` throws
 * `BrokenResourceError`. A cancelled handshake, or a `sendAll` cancelled after it
 * handed data to TLS, also leaves the stream broken (how much reached the peer is
 * unknown, and the ciphertext stream may end mid-record), as in Trio. A cancelled
 * `receiveSome` loses nothing.
 *
 * Cancelled sends (SEMANTICS.md, "I/O resources"): any `sendAll` that raises
 * `Cancelled`, even one cancelled before it handed anything to TLS, leaves the
 * sending side broken: every later `sendAll` raises `BrokenResourceError` saying
 * a previous send was cancelled (its `cause` is that `Cancelled`) and sends
 * nothing; `aclose` always closes. Receiving is unaffected only when the call was
 * cancelled before it handed data to TLS (see above).
 *
 * Memory bound: `sendAll` hands TLS its data 64 KiB at a time, the next piece
 * once the ciphertext of the previous one is on the transport. So a `TlsStream`
 * holds at most 64 KiB of plaintext and its ciphertext for sending, plus what the
 * transport holds (64 KiB for a `SocketStream`) — during a call and after a
 * cancelled one alike.
 *
 * End of stream: `receiveSome` returns an empty array after the peer's
 * close_notify; a transport EOF without one is `BrokenResourceError` (it could be
 * a truncation attack) unless `httpsCompatible` is set. `aclose` sends
 * close_notify (without waiting for the peer's), then closes the transport.
 */
export class TlsStream<S extends Stream = Stream> implements Stream {
  /** The stream carrying the ciphertext. */
  readonly transport: S;
  /** True for the server side of the connection. */
  readonly serverSide: boolean;

  readonly #tls: tls.TLSSocket;
  readonly #bio: MemoryBio;
  readonly #httpsCompatible: boolean;
  readonly #closeNotifyTimeout: number;

  readonly #sendConflict = new ConflictDetector(
    "another task is currently sending data on this TlsStream",
  );
  readonly #receiveConflict = new ConflictDetector(
    "another task is currently receiving data on this TlsStream",
  );
  // Transport access (Trio's inner locks): the send lock must be FIFO so that
  // ciphertext goes out in the order TLS wrote it.
  readonly #transportSendLock = new StrictFIFOLock();
  readonly #transportReceiveLock = new Lock();
  #transportReceives = 0;

  #state: State = "ok";
  #brokenCause: unknown = null;
  /** The `Cancelled` of the `sendAll` that broke the sending side, if one did. */
  #sendCancelled: Cancelled | null = null;
  #handshake: HandshakeState = "idle";
  /** TLS finished the handshake (client: and verified the server). */
  #secure = false;
  #tlsError: unknown = null;
  #tlsEnded = false;
  #tlsClosed = false;
  #transportEof = false;
  #eofFed = false;
  /**
   * Ciphertext held back: on a TLS 1.3 server, the session tickets OpenSSL writes
   * right after the handshake. Sending them from the handshake could deadlock
   * against a client that does not read yet (Trio's `_delayed_outgoing`), so they
   * go out with the next thing the server sends. `Infinity` holds everything
   * (from 'secure' to the end of the handshake); a number holds that many queued
   * bytes; null holds nothing.
   */
  #hold: number | null = null;

  readonly #plaintext = new ChunkQueue();

  readonly #waiters = new Set<Waiter>();
  /** Counts relevant TLS activity (see `#noteActivity`), for idle detection. */
  #relevantActivity = 0;
  #turnTimer: NodeJS.Immediate | null = null;

  #alpnProtocol: string | null = null;
  #protocol: string | null = null;
  #peerCertificate: X509Certificate | null = null;

  /**
   * Wraps `transport`; no I/O happens until the first operation. Throws
   * `TypeError` for a transport that is not a `Stream` and for bad options, and
   * Node's error for unusable key / certificate material.
   */
  constructor(transport: S, options: TlsStreamOptions) {
    if (!isStream(transport)) throw new TypeError("transport must be a weft Stream");
    checkOptionsObject("options", options); // before reading options.serverSide
    const serverSide = (options as TlsStreamOptions | undefined)?.serverSide === true;
    checkTlsOptions(options, serverSide);
    this.transport = transport;
    this.serverSide = serverSide;
    this.#httpsCompatible = options.httpsCompatible === true;
    this.#closeNotifyTimeout = options.closeNotifyTimeout ?? DEFAULT_CLOSE_NOTIFY_TIMEOUT;
    const secureContext = options.secureContext ?? tls.createSecureContext(options);
    const alpn = options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols];
    this.#bio = new MemoryBio((output) => this.#noteActivity(!output));
    if (serverSide) {
      this.#tls = new tls.TLSSocket(this.#bio, {
        isServer: true,
        secureContext,
        requestCert: false,
        rejectUnauthorized: false,
        ...(alpn !== undefined ? { ALPNProtocols: alpn } : {}),
      });
      // A server TLSSocket made outside a tls.Server keeps its errors to itself
      // ('_tlsError') until "control is released"; tls.connect does this for
      // clients at once, and so do we for servers, so that errors after the
      // handshake are reported as 'error' too.
      (this.#tls as unknown as { _releaseControl?: () => boolean })._releaseControl?.();
    } else {
      const serverName = options.serverName;
      this.#tls = tls.connect({
        socket: this.#bio,
        secureContext,
        rejectUnauthorized: options.rejectUnauthorized !== false,
        // `host` is the name the certificate is checked against; SNI must not be an IP address.
        ...(serverName !== undefined ? { host: serverName } : {}),
        ...(serverName !== undefined && net.isIP(serverName) === 0
          ? { servername: serverName }
          : {}),
        ...(options.checkServerIdentity !== undefined
          ? { checkServerIdentity: options.checkServerIdentity }
          : {}),
        ...(alpn !== undefined ? { ALPNProtocols: alpn } : {}),
      });
    }
    const socket = this.#tls;
    socket.on("data", (chunk: Buffer) => {
      if (this.#state === "closed" || chunk.length === 0) return;
      this.#plaintext.push(chunk);
      this.#noteActivity(true);
    });
    socket.on("end", () => {
      this.#tlsEnded = true;
      this.#noteActivity(true);
    });
    socket.on("error", (error: unknown) => {
      if (this.#tlsError === null) this.#tlsError = error;
      this.#noteActivity(true);
    });
    socket.on("close", () => {
      this.#tlsClosed = true;
      this.#noteActivity(true);
    });
    socket.on(serverSide ? "secure" : "secureConnect", () => {
      this.#secure = true;
      this.#alpnProtocol = typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : null;
      this.#protocol = socket.getProtocol();
      this.#peerCertificate = socket.getPeerX509Certificate() ?? null;
      if (serverSide && this.#protocol === "TLSv1.3") this.#hold = Infinity;
      this.#noteActivity(true);
    });
  }

  /**
   * Connects as a TLS client over `transport` and completes the handshake.
   * `options.serverName` is required unless `rejectUnauthorized` is false. If
   * the handshake fails (`BrokenResourceError`) or is cancelled, the TlsStream
   * and `transport` are closed.
   */
  static async connect<S extends Stream>(
    transport: S,
    options: TlsConnectOptions,
  ): Promise<TlsStream<S>> {
    checkOptionsObject("options", options);
    const stream = new TlsStream(transport, { ...options, serverSide: false });
    return TlsStream.#handshakeOrClose(stream);
  }

  /**
   * Accepts a TLS connection over `transport` as the server (`options` give the
   * certificate and key) and completes the handshake. If the handshake fails or
   * is cancelled, the TlsStream and `transport` are closed.
   */
  static async accept<S extends Stream>(
    transport: S,
    options: TlsAcceptOptions,
  ): Promise<TlsStream<S>> {
    checkOptionsObject("options", options);
    const stream = new TlsStream(transport, { ...options, serverSide: true });
    return TlsStream.#handshakeOrClose(stream);
  }

  static async #handshakeOrClose<S extends Stream>(stream: TlsStream<S>): Promise<TlsStream<S>> {
    try {
      await stream.doHandshake();
    } catch (error) {
      await acloseForcefully(stream);
      throw error;
    }
    return stream;
  }

  /** The ALPN protocol the handshake agreed on; null before the handshake or if none was. */
  get alpnProtocol(): string | null {
    return this.#alpnProtocol;
  }

  /** The negotiated TLS version (e.g. `"TLSv1.3"`); null before the handshake. */
  get protocol(): string | null {
    return this.#protocol;
  }

  /** The peer's certificate; null before the handshake or if the peer sent none (a client usually). */
  get peerCertificate(): X509Certificate | null {
    return this.#peerCertificate;
  }

  /** True once the handshake completed. */
  get handshakeDone(): boolean {
    return this.#handshake === "done";
  }

  /**
   * Completes the initial handshake if it has not been yet; waits for it if
   * another task is doing it. Idempotent (later calls are a checkpoint). Failure
   * → `BrokenResourceError`; cancelled → the stream is broken.
   */
  async doHandshake(): Promise<void> {
    this.#checkUsable();
    await this.#ensureHandshake(true);
  }

  /**
   * Encrypts `data` and sends it on the transport, 64 KiB at a time. `data` is
   * copied a piece at a time: the caller may reuse its array once the call
   * returns (or raises).
   */
  async sendAll(data: Uint8Array): Promise<void> {
    if (!isInstance(data, Uint8Array)) throw new TypeError("data must be a Uint8Array");
    this.#sendConflict.acquire();
    try {
      // SEMANTICS.md, "I/O resources": a cancelled sendAll leaves the sending
      // side broken, wherever it was cancelled.
      await sendBreakingOnCancel(
        "TlsStream.sendAll()",
        () => this.#checkSendable("sendAll"),
        () => this.#send(data),
        (cancelled) => {
          this.#sendCancelled ??= cancelled;
        },
      );
    } finally {
      this.#sendConflict.release();
    }
  }

  /** `sendAll` once the checks passed: the handshake if needed, then `data` a piece at a time. */
  async #send(data: Uint8Array): Promise<void> {
    await this.#ensureHandshake(false);
    if (data.length === 0) {
      await checkpoint();
      return;
    }
    const failed = this.#tlsFailure();
    if (failed !== null) throw this.#breakWith(failed);
    this.#hold = null; // held tickets go out ahead of this data
    try {
      for (let offset = 0; offset < data.length; offset += SEND_PIECE_SIZE) {
        await this.#sendPiece(data.subarray(offset, offset + SEND_PIECE_SIZE));
      }
    } catch (error) {
      // The data is TLS's now: whether it reaches the peer is unknown.
      if (isCancelled(error)) this.#breakWith(error);
      throw error;
    }
  }

  /** Hands `piece` to TLS and sends the ciphertext it makes of it. */
  async #sendPiece(piece: Uint8Array): Promise<void> {
    let written = false;
    let writeError: unknown = null;
    // Copy: the caller may reuse its buffer as soon as we return or are cancelled.
    this.#tls.write(Buffer.from(piece), (error) => {
      written = true;
      if (error != null) writeError = error;
      this.#noteActivity(false);
    });
    let turns = 0;
    while (true) {
      if (this.#state === "closed") throw this.#closedError();
      if (this.#flushable()) {
        await this.#flush();
        turns = 0; // progress: TLS is not stalled
        continue;
      }
      // TLS calls back only after the ciphertext was written to the BIO.
      if (written && writeError === null) return;
      const failure = writeError ?? this.#tlsFailure();
      if (failure !== null) throw this.#breakWith(failure);
      this.#checkUsable();
      await this.#wait("sendAll", { nextTurn: turns++ < MAX_BUSY_TURNS, anyActivity: true });
    }
  }

  /**
   * Returns when the transport's `sendAll` might not block. After a cancelled
   * `sendAll`, raises what `sendAll` would.
   */
  async waitSendAllMightNotBlock(): Promise<void> {
    this.#sendConflict.acquire();
    try {
      this.#checkSendable("waitSendAllMightNotBlock");
      // Taking the inner lock hides from our caller a receiveSome that is
      // sending handshake data on the transport (Trio's reasoning exactly).
      await this.#transportSendLock.acquire();
      try {
        await this.transport.waitSendAllMightNotBlock();
      } catch (error) {
        throw this.#state === "closed" && !isCancelled(error) ? this.#closedError(error) : error;
      } finally {
        this.#transportSendLock.release();
      }
    } finally {
      this.#sendConflict.release();
    }
  }

  /**
   * Returns 1..`maxBytes` bytes of decrypted data, or an empty array after the
   * peer's close_notify (or a transport EOF with `httpsCompatible`).
   */
  async receiveSome(maxBytes?: number): Promise<Uint8Array> {
    checkMaxBytes(maxBytes);
    this.#receiveConflict.acquire();
    try {
      this.#checkUsable();
      let blocked = this.#handshake !== "done";
      try {
        await this.#ensureHandshake(false);
      } catch (error) {
        // An HTTPS peer may hang up without even finishing the handshake.
        if (this.#httpsCompatible && this.#transportEof && error instanceof BrokenResourceError) {
          return new Uint8Array(0);
        }
        throw error;
      }
      const cancelled = lowlevel.cancelPoint("TlsStream.receiveSome()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      const quiet = this.#startQuietCount();
      while (true) {
        if (this.#state === "closed") throw this.#closedError();
        if (this.#plaintext.bytes > 0) {
          const result = this.#plaintext.take(maxBytes ?? DEFAULT_RECEIVE_SIZE);
          if (!blocked) await cancelShieldedCheckpoint();
          return result;
        }
        if (this.#tlsEnded) {
          // TLS reports EOF for a close_notify and for a bare transport EOF
          // alike; only we know whether we fed it the latter.
          if (this.#eofFed && !this.#httpsCompatible) {
            throw this.#breakWith(
              new Error("the transport reached EOF without a TLS close_notify (truncated stream)"),
            );
          }
          if (!blocked) await cancelShieldedCheckpoint();
          return new Uint8Array(0);
        }
        this.#checkUsable();
        const failure = this.#tlsFailure();
        if (failure !== null) throw this.#breakWith(failure);
        // Flush only what no sender will: a sendAll in progress sends everything
        // queued, and a receiver stuck sending a sender's data on a clogged
        // transport would stop receiving.
        if (this.#flushable() && !this.#sendConflict.held) {
          await this.#flush();
          blocked = true;
          continue;
        }
        if (this.#isQuiet(quiet)) {
          if (this.#transportEof) {
            if (this.#eofFed) {
              throw this.#breakWith(new Error("TLS did not react to EOF"));
            }
            // Fed only now that TLS is idle, so that a close_notify received
            // before the EOF has been reported as 'end' already.
            this.#eofFed = true;
            this.#bio.feedEof();
            this.#noteActivity(true);
          } else {
            await this.#receiveFromTransport();
            blocked = true;
          }
          continue;
        }
        await this.#waitQuietTurn("receiveSome", quiet);
        blocked = true;
      }
    } finally {
      this.#receiveConflict.release();
    }
  }

  /**
   * Sends close_notify (unless the stream is broken, `httpsCompatible`, or the
   * handshake never completed), without waiting for the peer's, then closes the
   * transport. Gives up on close_notify after `closeNotifyTimeout`. Always
   * closes, even when cancelled (then without close_notify, and it throws
   * `Cancelled` after closing).
   */
  async aclose(): Promise<void> {
    if (this.#state === "closed") {
      await checkpoint();
      return;
    }
    const graceful =
      this.#state === "ok" &&
      !this.#httpsCompatible &&
      this.#handshake === "done" &&
      this.#tlsFailure() === null;
    if (!graceful) {
      this.#markClosed();
      await this.transport.aclose();
      return;
    }
    let sent: boolean;
    try {
      const cancelled = lowlevel.cancelPoint("TlsStream.aclose()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      sent = await this.#sendCloseNotify();
    } catch (error) {
      this.#markClosed();
      await acloseForcefully(this.transport);
      throw error;
    }
    this.#markClosed();
    // A transport that could not take our close_notify in time would not
    // close gracefully either.
    if (sent) await this.transport.aclose();
    else await acloseForcefully(this.transport);
  }

  /** `aclose()`, for `await using stream = await openTlsOverTcpStream(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }

  /** Returns whether close_notify was sent (or could not be because the peer is gone). */
  async #sendCloseNotify(): Promise<boolean> {
    this.#hold = null;
    this.#tls.end();
    // TLS writes close_notify and then shuts its socket (our BIO) down, a tick or
    // an event-loop turn later; this waits for Node only, never for the peer.
    let turns = 0;
    while (!this.#bio.shutdown && this.#tlsFailure() === null && this.#state === "ok") {
      await this.#wait("aclose", { nextTurn: turns++ < MAX_BUSY_TURNS, anyActivity: true });
    }
    const scope = new CancelScope({ relativeDeadline: this.#closeNotifyTimeout });
    await scope.run(async () => {
      try {
        await this.#flush();
      } catch (error) {
        // The peer may well have closed already (it sent its own close_notify
        // and hung up): that is fine, as in Trio.
        if (
          error instanceof BrokenResourceError ||
          error instanceof BusyResourceError ||
          error instanceof ClosedResourceError
        ) {
          return;
        }
        throw error;
      }
    });
    return !scope.cancelledCaught;
  }

  #checkUsable(): void {
    if (this.#state === "closed") throw this.#closedError();
    if (this.#state === "broken") throw this.#brokenError();
  }

  /** `#checkUsable`, and after a cancelled `sendAll` (closed aside), the error that rule gives. */
  #checkSendable(operation: string): void {
    if (this.#state !== "closed" && this.#sendCancelled !== null) {
      throw previousSendCancelledError(`TlsStream.${operation}`, this.#sendCancelled);
    }
    this.#checkUsable();
  }

  #closedError(cause?: unknown): ClosedResourceError {
    return new ClosedResourceError(
      "the TlsStream was closed",
      cause === undefined ? undefined : { cause },
    );
  }

  #brokenError(): BrokenResourceError {
    const cause = this.#brokenCause;
    const detail = !(cause instanceof Error)
      ? ""
      : isCancelled(cause)
        ? `: an operation was cancelled while it was sending or handshaking (${cause.message})`
        : `: ${cause.message}`;
    return new BrokenResourceError(`the TlsStream is broken${detail}`, { cause });
  }

  /**
   * Marks the stream broken by `cause` (unless it is closed or broken already)
   * and returns the error to throw: `cause` itself for cancellation and for a
   * transport's `BrokenResourceError`, else a `BrokenResourceError` with it as
   * cause.
   */
  #breakWith(cause: unknown): unknown {
    if (this.#state === "closed") return isCancelled(cause) ? cause : this.#closedError(cause);
    if (this.#state === "ok") {
      this.#state = "broken";
      this.#brokenCause = cause;
      this.#noteActivity(true);
    }
    if (isCancelled(cause) || cause instanceof BrokenResourceError) return cause;
    if (cause === this.#brokenCause) return this.#brokenError();
    return new BrokenResourceError("the TlsStream is broken", { cause });
  }

  /** Why TLS can no longer work (an error, the socket gone, EOF mid-handshake), or null. */
  #tlsFailure(): unknown {
    if (this.#tlsError !== null) return this.#tlsError;
    if (this.#tlsClosed) return new Error("the TLS socket closed unexpectedly");
    if (this.#tlsEnded && !this.#secure) {
      return new Error("the peer closed the connection during the TLS handshake");
    }
    return null;
  }

  async #ensureHandshake(checkpointIfDone: boolean): Promise<void> {
    if (this.#handshake === "done") {
      if (checkpointIfDone) await checkpoint();
      return;
    }
    const cancelled = lowlevel.cancelPoint("TlsStream.doHandshake()");
    if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
    if (this.#handshake === "idle") {
      this.#handshake = "running";
      try {
        await this.#runHandshake();
      } catch (error) {
        this.#handshake = "failed";
        throw this.#breakWith(error);
      }
      this.#handshake = "done";
      this.#noteActivity(true);
      return;
    }
    // Another task is doing the handshake: wait for it to finish either way.
    // No turn-by-turn waiting: the task doing the handshake keeps the run busy.
    while (this.#handshake === "running") {
      this.#checkUsable();
      await this.#wait("doHandshake", { nextTurn: false, anyActivity: true });
    }
    this.#checkUsable();
  }

  async #runHandshake(): Promise<void> {
    const quiet = this.#startQuietCount();
    while (true) {
      this.#checkUsable();
      const failure = this.#tlsFailure();
      if (failure !== null) throw failure;
      if (this.#flushable()) {
        await this.#flush();
        continue;
      }
      if (this.#isQuiet(quiet)) {
        // Only once TLS is idle after 'secure' is our last flight (the
        // client's Finished) sure to be queued, and so flushed above.
        if (this.#secure) break;
        if (this.#transportEof) {
          if (this.#eofFed) throw new Error("the transport reached EOF during the TLS handshake");
          this.#eofFed = true;
          this.#bio.feedEof();
          this.#noteActivity(true);
        } else {
          await this.#receiveFromTransport();
        }
        continue;
      }
      await this.#waitQuietTurn("doHandshake", quiet);
    }
    if (this.#hold !== null) {
      const queued = this.#bio.outgoingBytes;
      this.#hold = queued > 0 ? queued : null;
    }
  }

  /** Queued ciphertext that may go out now (held tickets wait for more). */
  #flushable(): boolean {
    const queued = this.#bio.outgoingBytes;
    return queued > 0 && (this.#hold === null || queued > this.#hold);
  }

  /** Sends all queued ciphertext on the transport (any failure, cancellation included, breaks the stream). */
  async #flush(): Promise<void> {
    await this.#transportSendLock.acquire();
    try {
      // Someone else may have sent it while we queued for the lock.
      if (this.#bio.outgoingBytes === 0) return;
      this.#hold = null;
      const data = this.#bio.takeOutgoing()!;
      try {
        await this.transport.sendAll(data);
      } catch (error) {
        // An unknown part of the ciphertext went out: the TLS stream is lost.
        throw this.#breakWith(error);
      }
    } finally {
      this.#transportSendLock.release();
    }
  }

  /**
   * Receives once from the transport and feeds TLS, unless another task did
   * while we waited for the lock. Cancelled, nothing is lost (the transport
   * kept its data).
   */
  async #receiveFromTransport(): Promise<void> {
    const before = this.#transportReceives;
    await this.#transportReceiveLock.acquire();
    try {
      if (before !== this.#transportReceives || this.#transportEof) return;
      let data: Uint8Array;
      try {
        data = await this.transport.receiveSome();
      } catch (error) {
        if (isCancelled(error)) throw error;
        throw this.#breakWith(error);
      }
      this.#transportReceives++;
      if (data.length === 0) this.#transportEof = true;
      else this.#bio.feed(data);
      this.#noteActivity(true);
    } finally {
      this.#transportReceiveLock.release();
    }
  }

  #markClosed(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#plaintext.clear();
    this.#tls.destroy();
    this.#bio.destroy();
    this.#noteActivity(true);
  }

  /**
   * Something happened in TLS (or to our state): wake the waiters it concerns.
   * `relevant` is false for TLS writing ciphertext or completing a write once
   * the handshake is done: that concerns senders, not whether TLS waits for
   * input, and a busy sender must not keep a receiver from ever seeing TLS idle.
   */
  #noteActivity(relevant: boolean): void {
    const counts = relevant || this.#handshake !== "done";
    if (counts) this.#relevantActivity++;
    for (const waiter of this.#waiters) {
      if (counts || waiter.anyActivity) this.#wake(waiter);
    }
  }

  #wake(waiter: Waiter): void {
    this.#waiters.delete(waiter);
    lowlevel.reschedule(waiter.task);
    if (this.#turnTimer !== null && ![...this.#waiters].some((w) => w.nextTurn)) {
      clearImmediate(this.#turnTimer);
      this.#turnTimer = null;
    }
  }

  /**
   * Parks the calling task until TLS does something (or our state changes), and
   * with `nextTurn`, until the next event-loop turn at the latest.
   *
   * Why wake every turn: TLS reacts on later ticks and turns, and an idle weft
   * run is one whose tasks are all parked. Waking the waiter at each turn (from
   * a setImmediate queued before it parks, so it runs before the kernel's own
   * idle check) keeps the run from looking idle while only Node has work to do:
   * a MockClock does not autojump past a deadline and `waitAllTasksBlocked` does
   * not return in the middle of a handshake over memory streams.
   */
  async #wait(
    operation: string,
    how: { readonly nextTurn: boolean; readonly anyActivity: boolean },
  ): Promise<void> {
    const waiter: Waiter = { task: lowlevel.currentTask(), ...how };
    this.#waiters.add(waiter);
    if (how.nextTurn) this.#turnTimer ??= setImmediate(this.#onTurn);
    await lowlevel.waitTaskRescheduled(
      () => {
        this.#waiters.delete(waiter);
        if (this.#turnTimer !== null && ![...this.#waiters].some((w) => w.nextTurn)) {
          clearImmediate(this.#turnTimer);
          this.#turnTimer = null;
        }
        return lowlevel.Abort.SUCCEEDED;
      },
      // A wait for the next turn ends on its own: external, like I/O. Any
      // other wait ends only once some task acts (a handshake follower waits
      // for the task doing it; a stalled TLS for a receiver to feed it), so a
      // run stuck there is a deadlock the kernel may report.
      { waitingFor: `TlsStream.${operation}`, external: how.nextTurn },
    );
  }

  readonly #onTurn = (): void => {
    this.#turnTimer = null;
    for (const waiter of this.#waiters) if (waiter.nextTurn) this.#wake(waiter);
  };

  #startQuietCount(): QuietTurns {
    return { seen: this.#relevantActivity, turns: 0 };
  }

  /** True when nothing relevant happened in TLS for `QUIET_TURNS` turns: it waits for input. */
  #isQuiet(quiet: QuietTurns): boolean {
    return quiet.turns >= QUIET_TURNS && quiet.seen === this.#relevantActivity;
  }

  /** Waits for relevant activity or the next turn, and counts quiet turns. */
  async #waitQuietTurn(operation: string, quiet: QuietTurns): Promise<void> {
    await this.#wait(operation, { nextTurn: true, anyActivity: false });
    if (quiet.seen === this.#relevantActivity) {
      quiet.turns++;
    } else {
      quiet.seen = this.#relevantActivity;
      quiet.turns = 0;
    }
  }
}
