/**
 * One HTTP connection of `serveHttp`: a task that hands the socket to Node's
 * HTTP parser (llhttp) and watches it on the run's clock — the time allowed
 * for the first request's headers, and for the next request on an idle
 * keep-alive connection — while each request runs as a task of its own in
 * the connection's nursery.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { CancelScope, currentTime, Event, moveOnAt, type Nursery, openNursery } from "@weft/core";
import type { SocketAddress } from "../sockets/addresses.ts";

/** What a connection needs of its server. */
export interface ConnectionHost {
  readonly headersTimeout: number;
  readonly keepAliveTimeout: number;
  /** The server stopped taking requests: idle connections close, busy ones after their response. */
  readonly draining: boolean;
  /** Hands the socket to Node's HTTP server (emits `'connection'`). */
  attach(connection: HttpConnection): void;
  /** Runs one request of `connection` (in a task of the connection's nursery). */
  exchange(connection: HttpConnection, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** The request's method and path, without the query (its task's name). */
export function requestTaskName(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  return `${req.method ?? "?"} ${query < 0 ? url : url.slice(0, query)}`;
}

export class HttpConnection {
  readonly socket: Duplex;
  readonly scheme: "http" | "https";
  readonly localAddress: SocketAddress | null;
  readonly remoteAddress: SocketAddress | null;
  /** Cancelled when the server gives up on the connection (shutdown, after the grace period). */
  readonly scope = new CancelScope();
  /** The scopes of the requests being answered (their signals are the requests' signals). */
  readonly requestScopes = new Set<CancelScope>();
  readonly #host: ConnectionHost;
  #nursery: Nursery | null = null;
  /** Requests whose headers arrived, in all; requests still being answered. */
  requests = 0;
  active = 0;
  #closed = false;
  readonly #closedEvent = new Event();
  #changed = new Event();
  /** When the connection last became idle (run's clock): its idle limit counts from then. */
  #idleSince = 0;
  /** The deadline the watcher sleeps until (Infinity while it waits for the connection to go idle). */
  #watchUntil = Infinity;

  constructor(
    host: ConnectionHost,
    socket: Duplex,
    scheme: "http" | "https",
    addresses: { local: SocketAddress | null; remote: SocketAddress | null },
  ) {
    this.#host = host;
    this.socket = socket;
    this.scheme = scheme;
    this.localAddress = addresses.local;
    this.remoteAddress = addresses.remote;
    socket.once("close", () => {
      this.#closed = true;
      this.#closedEvent.set();
      this.changed();
    });
  }

  get idle(): boolean {
    return this.active === 0;
  }

  /**
   * Gives up on the connection: cancels it and each request's own scope, so
   * that `request.signal` aborts too (it follows the request's scope only).
   */
  cancel(reason: string): void {
    this.scope.cancel(reason);
    for (const scope of this.requestScopes) scope.cancel(reason);
  }

  /** Something the watcher waits for happened (a request, a response done, close, drain). */
  changed(): void {
    this.#changed.set();
  }

  /** Called from Node's `'request'` event: the request becomes a task. */
  onRequest(req: IncomingMessage, res: ServerResponse): void {
    const nursery = this.#nursery;
    if (nursery === null || this.#closed) {
      res.destroy();
      return;
    }
    // The watcher is not woken: it sleeps until the idle deadline it had,
    // and finds the connection busy then (see #watch).
    this.requests++;
    this.active++;
    try {
      nursery.startSoon(
        async () => {
          try {
            await this.#host.exchange(this, req, res);
          } finally {
            this.#requestDone();
          }
        },
        { name: requestTaskName(req) },
      );
    } catch {
      // The connection's nursery has closed: nobody will answer.
      this.active--;
      res.destroy();
    }
  }

  /** A request's task ends (in that task): the idle time may start. */
  #requestDone(): void {
    this.active--;
    if (this.active > 0) return;
    this.#idleSince = currentTime();
    // Only a deadline earlier than the one the watcher sleeps until needs it
    // awake: it waits for the connection to go idle, or the first request
    // ended with keepAliveTimeout shorter than headersTimeout.
    if (this.#idleDeadline() < this.#watchUntil) this.changed();
  }

  /** When the connection, idle since #idleSince, has waited long enough. */
  #idleDeadline(): number {
    const limit = this.requests === 0 ? this.#host.headersTimeout : this.#host.keepAliveTimeout;
    return this.#idleSince + limit;
  }

  /**
   * Serves the connection until its socket closes: idle too long (before the
   * first request's headers, or between keep-alive requests), drained by a
   * shutdown, or closed by either side. Requests still running when the
   * socket closes were cancelled by their disconnect; they are waited for.
   */
  async serve(): Promise<void> {
    try {
      await this.scope.run(() =>
        openNursery(async (nursery) => {
          this.#nursery = nursery;
          this.#host.attach(this);
          await this.#watch();
        }),
      );
    } finally {
      this.#nursery = null;
      if (!this.socket.destroyed) this.socket.destroy();
      // SEMANTICS.md, "HTTP": the server is done only when every socket is
      // closed — 'close' follows destroy() once the handle is released.
      await new CancelScope({ shield: true }).run(() => this.#closedEvent.wait());
    }
  }

  /**
   * Closes the socket once the connection has been idle for its limit (from
   * the moment it became idle), or when a shutdown finds it idle. The watcher
   * wakes at the idle deadline and when the connection goes idle while it
   * waits for that, not at every request: a busy keep-alive connection costs
   * it one wake-up per `keepAliveTimeout`.
   */
  async #watch(): Promise<void> {
    this.#idleSince = currentTime();
    while (!this.#closed) {
      const changed = this.#changed;
      if (this.#changed.isSet()) {
        this.#changed = new Event();
        continue;
      }
      if (!this.idle) {
        this.#watchUntil = Infinity;
        await changed.wait();
        continue;
      }
      if (this.#host.draining) break;
      const deadline = this.#idleDeadline();
      this.#watchUntil = deadline;
      await moveOnAt(deadline, () => changed.wait());
      // Idle for its limit: no request came since it became idle.
      if (!changed.isSet() && this.idle && !this.#closed && currentTime() >= this.#idleDeadline()) {
        break;
      }
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
