/**
 * A replicated key-value store over TCP, written with plain @weft/net: a
 * primary that clients write to, a backup that the primary copies every write
 * to, and a client that fails over to the backup when the primary stops
 * answering. It runs on real sockets and, unmodified, on @weft/testing's
 * simulated network — where docs/guides/testing-distributed-systems.md shows
 * a property test finding the bug in its asynchronous replication mode (a
 * write is acknowledged before the backup has it, so a crash of the primary
 * at the wrong moment loses an acknowledged write), shrinking it to one
 * fault, and the synchronous mode passing 1,000 seeds.
 *
 * The protocol is one line per request and one per reply:
 * `SET key value` → `OK` (or `ERR reason`), `GET key` → `VALUE value` or
 * `MISSING`.
 *
 * Run it on real sockets: `node --conditions=weft-source examples/replicated-kv.ts`.
 */
import {
  BrokenResourceError,
  failAfter,
  isCancelled,
  Lock,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import {
  BufferedReceiveStream,
  openTcpListeners,
  openTcpStream,
  type SocketStream,
  serveListeners,
} from "@weft/net";

/** Where a server listens. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/**
 * `"synchronous"`: the primary acknowledges a write once the backup has it.
 * `"asynchronous"`: it acknowledges at once and copies the write in the
 * background — faster, and it loses acknowledged writes when the primary
 * crashes before the copy arrives.
 */
export type Replication = "synchronous" | "asynchronous";

/**
 * A server's durable storage. A `Map` created outside a simulated host's
 * factory outlives the host's crashes and restarts, as a disk does.
 */
export type Disk = Map<string, string>;

/** How long the primary waits for the backup to take a write, in ms. */
const REPLICATION_TIMEOUT = 100;

const encoder = new TextEncoder();

/** Answers each request line of one connection with `handle`'s reply line. */
async function serveRequests(
  stream: SocketStream,
  handle: (request: string) => Promise<string>,
): Promise<void> {
  const reader = new BufferedReceiveStream(stream);
  try {
    for await (const request of reader.lines()) {
      await stream.sendAll(encoder.encode(`${await handle(request)}\n`));
    }
  } catch (error) {
    // A peer that crashed or reset its end ends this connection, not the
    // server (serveListeners lets a handler's error end the whole server).
    if (!(error instanceof BrokenResourceError)) throw error;
  }
}

/** The reply to a `GET` or a `SET` applied to `disk` (what a backup does with every request). */
function applyTo(disk: Disk, request: string): string {
  const [verb, key = "", value = ""] = request.split(" ");
  if (verb === "SET") {
    disk.set(key, value);
    return "OK";
  }
  if (verb === "GET") {
    const found = disk.get(key);
    return found === undefined ? "MISSING" : `VALUE ${found}`;
  }
  return `ERR unknown request ${JSON.stringify(request)}`;
}

/** One request line and its reply line on a connection (kept open between requests). */
class Connection {
  readonly #stream: SocketStream;
  readonly #replies: AsyncGenerator<string, void, undefined>;

  private constructor(stream: SocketStream) {
    this.#stream = stream;
    this.#replies = new BufferedReceiveStream(stream).lines();
  }

  static async open(address: Address): Promise<Connection> {
    return new Connection(await openTcpStream(address.host, address.port));
  }

  async request(line: string): Promise<string> {
    await this.#stream.sendAll(encoder.encode(`${line}\n`));
    const reply = await this.#replies.next();
    if (reply.done === true) throw new Error("the server closed the connection");
    return reply.value;
  }

  async close(): Promise<void> {
    await this.#stream.aclose();
  }
}

/**
 * The primary's copy of its writes to the backup, over one connection that is
 * reopened after a failure. Every client's connection handler copies through
 * it, so one copy at a time: two requests in flight on one connection would
 * mix up their replies.
 */
class BackupLink {
  readonly #backup: Address;
  readonly #lock = new Lock();
  #connection: Connection | null = null;

  constructor(backup: Address) {
    this.#backup = backup;
  }

  /** Sends one write to the backup and waits for its `OK`; throws if the backup cannot take it in time. */
  async copy(key: string, value: string): Promise<void> {
    await this.#lock.withLock(async () => {
      try {
        await failAfter(REPLICATION_TIMEOUT, async () => {
          this.#connection ??= await Connection.open(this.#backup);
          const reply = await this.#connection.request(`SET ${key} ${value}`);
          if (reply !== "OK") throw new Error(`the backup replied ${reply}`);
        });
      } catch (error) {
        // The connection may be half-way through a request: start afresh next time.
        await this.close();
        throw error;
      }
    });
  }

  /** Closes the connection to the backup, if open (it closes even in a cancelled scope). */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    await connection?.close();
  }
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  /** The port clients connect to. */
  readonly port: number;
  /** Where the backup takes copies of the writes. */
  readonly backup: Address;
  readonly replication: Replication;
  readonly disk: Disk;
  /** Called with the listening port once the primary accepts connections. */
  readonly onListening?: (port: number) => void;
}

/** The primary: applies clients' writes to its disk and copies them to the backup. */
export async function runPrimary(options: PrimaryOptions): Promise<never> {
  const { disk, replication } = options;
  const backup = new BackupLink(options.backup);
  const [sendCopy, copies] = openMemoryChannel<[string, string]>(Number.POSITIVE_INFINITY);
  try {
    return await openNursery(async (nursery) => {
      if (replication === "asynchronous") {
        // Copies go out in the background, in order, each retried until the backup has it.
        nursery.startSoon(
          async () => {
            for await (const [key, value] of copies) {
              while (true) {
                try {
                  await backup.copy(key, value);
                  break;
                } catch (error) {
                  if (isCancelled(error)) throw error;
                  await sleep(10); // the backup is down or unreachable: try again
                }
              }
            }
          },
          { name: "replicator" },
        );
      }
      const listeners = await openTcpListeners(options.port);
      options.onListening?.(listeners[0]!.localAddress.port);
      return serveListeners(
        (stream) =>
          serveRequests(stream, async (request) => {
            const [verb, key = "", value = ""] = request.split(" ");
            if (verb !== "SET") return applyTo(disk, request);
            disk.set(key, value);
            if (replication === "asynchronous") {
              sendCopy.sendNowait([key, value]);
              return "OK"; // acknowledged before the backup has it
            }
            try {
              await backup.copy(key, value);
            } catch (error) {
              if (isCancelled(error)) throw error;
              return "ERR the backup did not take the write";
            }
            return "OK";
          }),
        listeners,
      );
    });
  } finally {
    // The connection to the backup must not outlive the primary.
    await backup.close();
  }
}

/** Options of {@link runBackup}. */
export interface BackupOptions {
  /** The port the primary's copies and, after a failover, clients connect to. */
  readonly port: number;
  readonly disk: Disk;
  /** Called with the listening port once the backup accepts connections. */
  readonly onListening?: (port: number) => void;
}

/** The backup: takes the primary's copies, and serves clients that failed over to it. */
export async function runBackup(options: BackupOptions): Promise<never> {
  const listeners = await openTcpListeners(options.port);
  options.onListening?.(listeners[0]!.localAddress.port);
  return serveListeners(
    (stream) => serveRequests(stream, async (request) => applyTo(options.disk, request)),
    listeners,
  );
}

/** Options of a {@link KvClient}. */
export interface KvClientOptions {
  /** How long one request may take before the client gives up on its server, in ms (default 50). */
  readonly timeout?: number;
  /** Tries per request (default 3). */
  readonly attempts?: number;
}

/**
 * A client of the store: it talks to the first server until that one fails
 * (an error, a timeout or an `ERR` reply), then to the next one for good — the
 * backup after the primary.
 */
export class KvClient {
  readonly #servers: readonly Address[];
  readonly #timeout: number;
  readonly #attempts: number;
  #current = 0;
  #connection: Connection | null = null;

  constructor(servers: readonly Address[], options: KvClientOptions = {}) {
    this.#servers = servers;
    this.#timeout = options.timeout ?? 50;
    this.#attempts = options.attempts ?? 3;
  }

  /** The server the client talks to now. */
  get server(): Address {
    return this.#servers[this.#current]!;
  }

  /** The reply to `line`, or null if no server answered within the tries. */
  async #request(line: string): Promise<string | null> {
    for (let attempt = 0; attempt < this.#attempts; attempt++) {
      try {
        const reply = await failAfter(this.#timeout, async () => {
          this.#connection ??= await Connection.open(this.server);
          return this.#connection.request(line);
        });
        if (!reply.startsWith("ERR")) return reply;
      } catch (error) {
        if (isCancelled(error)) throw error;
        // refused, reset or too slow: this server has failed
      }
      await this.#connection?.close();
      this.#connection = null;
      if (this.#current < this.#servers.length - 1) this.#current++;
      await sleep(10);
    }
    return null;
  }

  /** Stores `value` under `key`; true once a server acknowledged it. */
  async set(key: string, value: string): Promise<boolean> {
    return (await this.#request(`SET ${key} ${value}`)) === "OK";
  }

  /** The value under `key` (undefined: none), or null if no server answered. */
  async get(key: string): Promise<string | undefined | null> {
    const reply = await this.#request(`GET ${key}`);
    if (reply === null) return null;
    return reply.startsWith("VALUE ") ? reply.slice("VALUE ".length) : undefined;
  }

  async close(): Promise<void> {
    await this.#connection?.close();
  }
}

/** The store on real loopback sockets: a primary, a backup, and a client writing and reading. */
export async function main(replication: Replication = "synchronous"): Promise<string[]> {
  const output: string[] = [];
  await openNursery(async (nursery) => {
    const backupPort = await nursery.start<number>((status) =>
      runBackup({ port: 0, disk: new Map(), onListening: (port) => status.started(port) }),
    );
    const primaryPort = await nursery.start<number>((status) =>
      runPrimary({
        port: 0,
        backup: { host: "127.0.0.1", port: backupPort },
        replication,
        disk: new Map(),
        onListening: (port) => status.started(port),
      }),
    );
    const client = new KvClient([
      { host: "127.0.0.1", port: primaryPort },
      { host: "127.0.0.1", port: backupPort },
    ]);
    output.push(`set greeting: ${await client.set("greeting", "hello")}`);
    output.push(`get greeting: ${await client.get("greeting")}`);
    await client.close();
    nursery.cancelScope.cancel("done");
  });
  return output;
}

if (import.meta.main) {
  for (const line of await run(() => main())) console.log(line);
}
