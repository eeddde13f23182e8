/**
 * A raw `node:net` connection for the clients that misbehave on purpose
 * (slow headers, malformed requests, oversized bodies, never reading): they
 * write exactly the bytes they choose, when they choose, and see exactly how
 * the server answers — the bytes it sent, and whether it ended the connection
 * with a FIN or a reset.
 */
import * as net from "node:net";

/** How the connection ended: "end" (the server's FIN), "closed" (ours), or the error code. */
export type Ending = "end" | "closed" | string;

/** Bytes of the answer kept for inspection (the rest is only counted). */
const KEPT_BYTES = 64 * 1024;

export class RawConnection {
  readonly socket: net.Socket;
  /** Bytes received, in all. */
  received = 0;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #ending: Ending | null = null;
  #error: string | null = null;
  #changed: (() => void) | null = null;
  #closedNow = false;
  /** Resolves when the socket has closed, with how it ended. */
  readonly closed: Promise<Ending>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.#keptBytes < KEPT_BYTES) {
        this.#kept.push(chunk);
        this.#keptBytes += chunk.length;
      }
      this.#notify();
    });
    socket.on("end", () => {
      this.#ending ??= "end";
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.#error ??= error.code ?? error.message;
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        // A reset after the FIN still says the server reset it.
        this.#ending = this.#error ?? this.#ending ?? "closed";
        this.#closedNow = true;
        this.#notify();
        resolve(this.#ending);
      });
    });
  }

  /** Connects to 127.0.0.1:port; `signal` (the operation's cap) destroys the socket. */
  static open(port: number, signal: AbortSignal): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
      const connection = new RawConnection(socket);
      const onAbort = () => socket.destroy();
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("close", () => signal.removeEventListener("abort", onAbort));
      socket.once("connect", () => resolve(connection));
      socket.once("error", reject);
    });
  }

  /** The first bytes received (up to 64 KiB). */
  get head(): Buffer {
    if (this.#kept.length > 1) this.#kept = [Buffer.concat(this.#kept)];
    return this.#kept[0] ?? Buffer.alloc(0);
  }

  /** The status of the response the server began, if it did ("HTTP/1.1 413 …"). */
  get status(): number | null {
    const match = /^HTTP\/1\.[01] (\d{3}) /.exec(this.head.subarray(0, 16).toString("latin1"));
    return match === null ? null : Number(match[1]);
  }

  /**
   * Closed, or closing: destroyed already, its 'close' event still to come
   * (a loop that waits for that event in microtasks alone would never see it).
   */
  get isClosed(): boolean {
    return this.#closedNow || this.socket.destroyed;
  }

  /**
   * Writes `data` and resolves once the kernel took it: true, or false if
   * the connection broke first (the server closed it: not an error here).
   */
  write(data: string | Uint8Array): Promise<boolean> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(data, (error) => resolve(error == null));
    });
  }

  /**
   * Resolves when `predicate` holds (checked as each chunk arrives): true,
   * or false if the connection closed first.
   */
  async until(predicate: () => boolean): Promise<boolean> {
    while (!predicate()) {
      if (this.#closedNow) return false;
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
      });
    }
    return true;
  }

  /** Resolves after `ms`, or earlier if the connection closes meanwhile. */
  async pause(ms: number): Promise<void> {
    if (this.socket.destroyed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
      this.closed,
    ]);
    clearTimeout(timer);
  }

  /** Closes our side now (a reset if the server's bytes are unread). */
  destroy(): void {
    this.socket.destroy();
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = null;
    changed?.();
  }
}

/** A complete response head at the start of `bytes`: its status, Content-Length and size. */
export function headOf(
  bytes: Buffer,
): { status: number; length: number | null; size: number } | null {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = bytes.subarray(0, end).toString("latin1");
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(head);
  if (status === null) return null;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  return {
    status: Number(status[1]),
    length: length === null ? null : Number(length[1]),
    size: end + 4,
  };
}
