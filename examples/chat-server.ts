// A line-based chat server on `serveTcp`, and scripted clients to show it off.
//
// Protocol: a client's first line is the name it wants (the server makes it
// unique); every later line is said to the room: the server sends
// `name: line` to every *other* member. Lines starting with `*` come from the
// server itself (welcome, joins, leaves, disconnections). `/ping X` is answered
// `* pong X` to the sender alone: since a connection's lines are handled in
// order, the pong tells the client that everything it said before has been
// handed to the other members' outboxes (the scripted clients use this to take
// turns, and to pace their flood).
//
// The part that matters: one client must never hold up the others. Whoever
// broadcasts never waits on another member's socket. Each member has an
// *outbox*, a memory channel with room for MAX_QUEUED_LINES lines, and a writer
// task of its own that moves lines from the outbox to the socket; the
// broadcaster only calls `sendNowait` on outboxes. A member that stops reading
// first fills the kernel's socket buffers (megabytes on loopback), then its
// writer blocks in `sendAll`, then its outbox fills up: at that point the
// server disconnects it. Dropping its messages instead would also keep the
// others going, but the client would then see a conversation with holes in it
// and not know, and the server would keep feeding a client that may never read
// again; disconnecting is visible (the client can reconnect and catch up) and
// frees everything the client held. Disconnecting is cancelling the member's
// own nursery from the broadcasting task: its reader and its writer (stuck in
// `sendAll`) stop at once, and `serveTcp` closes the socket.
//
// main() runs the server and four clients in one `run()`: `slowpoke` joins and
// never reads again; alice, bob and carol chat a little, then flood the room
// (in pasted batches of FLOOD_BATCH 1 KB lines, pinging after each) until they
// are told slowpoke was disconnected; then each says how many lines it sent,
// and every client checks that it received every line of the other two.
import {
  BrokenResourceError,
  EndOfChannel,
  Event,
  ExceptionGroup,
  type MemoryReceiveChannel,
  type MemorySendChannel,
  moveOnAfter,
  type Nursery,
  openMemoryChannel,
  openNursery,
  run,
  WouldBlock,
} from "@weft/core";
import {
  BufferedReceiveStream,
  LimitOverrunError,
  openTcpStream,
  type SocketStream,
  serveTcp,
} from "@weft/net";

/** How many lines may wait in a member's outbox; a member whose outbox is full is disconnected. */
const MAX_QUEUED_LINES = 256;
/**
 * Longest line accepted, in bytes; a longer one gets its sender disconnected
 * (it would grow the receive buffer without end).
 */
const MAX_LINE_BYTES = 16 * 1024;
/** How long a new connection has to say its name. */
const NAME_TIMEOUT_MS = 5000;

const encoder = new TextEncoder();

let startedAt = performance.now();
function log(message: string): void {
  const ms = performance.now() - startedAt;
  console.log(`[${ms.toFixed(0).padStart(4)} ms] ${message}`);
}

// ----------------------------------------------------------------- the server

interface Member {
  readonly name: string;
  /** Lines for this member; its writer task sends them. */
  readonly outbox: MemorySendChannel<string>;
  /** Stops the member's connection (cancels its nursery). */
  readonly cancel: (reason: string) => void;
}

/** Who is connected, and the only way lines get to them: `sendNowait`, never a wait. */
class ChatRoom {
  readonly #members = new Map<string, Member>();

  /** Adds a member under a unique name, welcomes it and tells the others. */
  join(
    wanted: string,
    outbox: MemorySendChannel<string>,
    cancel: (reason: string) => void,
  ): Member {
    const base = /^[\w-]{1,20}$/.test(wanted) ? wanted : "guest";
    let name = base;
    for (let i = 2; this.#members.has(name); i++) name = `${base}${i}`;
    const others = [...this.#members.keys()];
    const member: Member = { name, outbox, cancel };
    this.#members.set(name, member);
    log(`server: ${name} joined`);
    this.sendTo(member, `* welcome, ${name}! here: ${others.join(", ") || "nobody yet"}`);
    this.broadcast(member, `* ${name} joined`);
    return member;
  }

  /** Removes a member (if still here) and tells the others why. */
  leave(member: Member, why: string): void {
    if (this.#members.get(member.name) !== member) return;
    this.#members.delete(member.name);
    log(`server: ${member.name} ${why}`);
    member.outbox.close(); // its writer ends once it has sent what is queued
    this.broadcast(null, `* ${member.name} ${why}`);
  }

  /** Queues `line` for every member but `from`; disconnects whoever has no room for it. */
  broadcast(from: Member | null, line: string): void {
    // A snapshot: sending may disconnect members (and tell everyone, recursively).
    for (const member of [...this.#members.values()]) {
      if (member !== from) this.sendTo(member, line);
    }
  }

  /** Queues `line` for `member`, or disconnects it if its outbox is full. */
  sendTo(member: Member, line: string): void {
    if (this.#members.get(member.name) !== member) return; // already gone
    try {
      member.outbox.sendNowait(line);
    } catch (error) {
      if (!(error instanceof WouldBlock)) throw error;
      const reason = `too slow: ${MAX_QUEUED_LINES} lines waiting`;
      this.leave(member, `was disconnected (${reason})`);
      member.cancel(reason);
    }
  }
}

/**
 * Sends what arrives in the outbox. Whatever has queued up goes out in one
 * `sendAll`: a member that reads at a normal pace keeps up with a busy room.
 */
async function writeLines(
  stream: SocketStream,
  inbox: MemoryReceiveChannel<string>,
): Promise<void> {
  for (;;) {
    const batch: string[] = [];
    try {
      batch.push(await inbox.receive());
      for (;;) batch.push(inbox.receiveNowait());
    } catch (error) {
      if (!(error instanceof WouldBlock || error instanceof EndOfChannel)) throw error;
      if (batch.length === 0) return; // EndOfChannel: the member left and all is sent
    }
    await stream.sendAll(encoder.encode(`${batch.join("\n")}\n`));
  }
}

/** One connection, from its name to its end; never throws for what a client does. */
async function handleConnection(room: ChatRoom, stream: SocketStream): Promise<void> {
  // Lines of UTF-8 text ("\n" or "\r\n"), each at most MAX_LINE_BYTES long.
  const lines = new BufferedReceiveStream(stream).lines({ maxLineBytes: MAX_LINE_BYTES });
  try {
    const first = await moveOnAfter(NAME_TIMEOUT_MS, () => lines.next());
    if (first === undefined || first.done === true) return; // no name in time, or gone
    const [outbox, inbox] = openMemoryChannel<string>(MAX_QUEUED_LINES);
    await openNursery(async (nursery) => {
      const member = room.join(first.value, outbox, (reason) => nursery.cancelScope.cancel(reason));
      try {
        nursery.startSoon(() => writeLines(stream, inbox), { name: `writer for ${member.name}` });
        for await (const line of lines) {
          if (line.startsWith("/ping ")) room.sendTo(member, `* pong ${line.slice(6)}`);
          else room.broadcast(member, `${member.name}: ${line}`);
        }
      } finally {
        room.leave(member, "left");
      }
      // The client closed its side: it is gone, so whatever is still queued for
      // it is dropped rather than waiting on a socket that may never drain.
      nursery.cancelScope.cancel("client left");
    });
  } catch (error) {
    // A peer resetting its connection or sending an endless line ends that
    // connection only: an error escaping a handler would stop the whole server.
    if (!isClientsDoing(error)) throw error;
    log(`server: a connection ended with ${describe(error)}`);
  }
}

/**
 * Whether `error` was caused by the client: its connection broke, or it sent
 * a line too long. (From inside a nursery errors come in an ExceptionGroup.)
 */
function isClientsDoing(error: unknown): boolean {
  const errors = error instanceof ExceptionGroup ? error.leafErrors() : [error];
  return errors.every((e) => e instanceof BrokenResourceError || e instanceof LimitOverrunError);
}

function describe(error: unknown): string {
  const first = error instanceof ExceptionGroup ? error.leafErrors()[0] : error;
  return first instanceof Error ? `${first.name}: ${first.message}` : String(first);
}

/** Serves the chat on 127.0.0.1 until cancelled; `taskStatus` gets the port. */
export async function serveChat(taskStatus: { started(port: number): void }): Promise<never> {
  const room = new ChatRoom();
  return serveTcp((stream) => handleConnection(room, stream), 0, {
    host: "127.0.0.1",
    taskStatus: { started: (listeners) => taskStatus.started(listeners[0]!.localAddress.port) },
  });
}

// ----------------------------------------------------------------- scripted clients

const FLOOD_BATCH = 32;
const FLOOD_LINE_BYTES = 1024;
/** Safety net: stop flooding after this long even if slowpoke is still connected. */
const FLOOD_LIMIT_MS = 5000;
const DISCONNECTED = "* slowpoke was disconnected";

function floodLine(n: number): string {
  const head = `flood ${n} `;
  return head + ".".repeat(FLOOD_LINE_BYTES - head.length);
}

/** A client whose reader task records every line it receives. */
class ChatClient {
  readonly name: string;
  readonly stream: SocketStream;
  /** Every line received, except flood lines, which are only counted per sender. */
  readonly transcript: string[] = [];
  readonly floodLinesFrom = new Map<string, number>();
  #pings = 0;
  #pongs = 0;
  #closed = false;
  #changed = new Event();

  private constructor(name: string, stream: SocketStream) {
    this.name = name;
    this.stream = stream;
  }

  /** Connects, joins under `name` and waits for the welcome; the reader runs in `nursery`. */
  static async join(nursery: Nursery, port: number, name: string): Promise<ChatClient> {
    const client = new ChatClient(name, await openTcpStream("127.0.0.1", port));
    nursery.startSoon(() => client.#read(), { name: `${name}'s reader` });
    await client.sendLines([name]);
    await client.waitFor(() => client.transcript.length > 0);
    return client;
  }

  async #read(): Promise<void> {
    const lines = new BufferedReceiveStream(this.stream).lines({ maxLineBytes: MAX_LINE_BYTES });
    try {
      for await (const line of lines) {
        const flood = /^([\w-]+): flood \d+ /.exec(line);
        if (flood !== null) {
          const from = flood[1]!;
          this.floodLinesFrom.set(from, (this.floodLinesFrom.get(from) ?? 0) + 1);
        } else if (line.startsWith("* pong ")) {
          this.#pongs = Number(line.slice(7));
        } else {
          this.transcript.push(line);
        }
        this.#notify();
      }
    } finally {
      this.#closed = true;
      this.#notify();
    }
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = new Event();
    changed.set();
  }

  /** Waits until `condition()` holds (re-checked after each line received). */
  async waitFor(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.#closed) throw new Error(`${this.name}: the server closed the connection`);
      await this.#changed.wait();
    }
  }

  sendLines(lines: string[]): Promise<void> {
    return this.stream.sendAll(encoder.encode(`${lines.join("\n")}\n`));
  }

  /** Says `text` and waits until the server has handed it to everyone. */
  async say(text: string): Promise<void> {
    await this.sendLines([text]);
    await this.sync();
  }

  /** Pings and waits for the pong: the server has handled every line sent before. */
  async sync(): Promise<void> {
    const id = ++this.#pings;
    await this.sendLines([`/ping ${id}`]);
    await this.waitFor(() => this.#pongs >= id);
  }

  /**
   * Leaves gracefully: sends end of file, then waits until the reader has seen
   * the server close the connection, and closes the stream. (Closing it at once
   * would make the reader's pending receive fail with ClosedResourceError.)
   */
  async leave(): Promise<void> {
    await this.stream.sendEof();
    await this.waitFor(() => this.#closed);
    await this.stream.aclose();
  }

  sawLine(prefix: string): boolean {
    return this.transcript.some((line) => line.startsWith(prefix));
  }

  /** Floods the room until slowpoke is disconnected; returns how many flood lines were sent. */
  async flood(): Promise<number> {
    const stopAt = performance.now() + FLOOD_LIMIT_MS;
    let sent = 0;
    while (!this.sawLine(DISCONNECTED) && performance.now() < stopAt) {
      const batch: string[] = [];
      for (let i = 0; i < FLOOD_BATCH; i++) batch.push(floodLine(sent++));
      await this.sendLines(batch);
      await this.sync(); // at most one batch in flight: the room is busy, not overrun
    }
    return sent;
  }
}

/** Runs the chat server and the four scripted clients in one `run()` (well under 2 s). */
export async function main(): Promise<void> {
  startedAt = performance.now();
  await run(async () => {
    await openNursery(async (nursery) => {
      const port = await nursery.start(serveChat, { name: "chat server" });
      log(
        `server: listening on 127.0.0.1:${port}; up to ${MAX_QUEUED_LINES} lines wait per member`,
      );

      // slowpoke reads its welcome, then never reads again.
      const slowpoke = await openTcpStream("127.0.0.1", port);
      await slowpoke.sendAll(encoder.encode("slowpoke\n"));
      const slowLines = new BufferedReceiveStream(slowpoke).lines({ maxLineBytes: MAX_LINE_BYTES });
      const welcome = await slowLines.next();
      log(`slowpoke got ${JSON.stringify(welcome.value)} and stops reading`);

      const alice = await ChatClient.join(nursery, port, "alice");
      const bob = await ChatClient.join(nursery, port, "bob");
      const carol = await ChatClient.join(nursery, port, "carol");
      const clients = [alice, bob, carol];

      // A short conversation, one line at a time (say() waits for its pong, so
      // everyone gets the lines in this order).
      await alice.say("hi everyone");
      await bob.say("hey alice!");
      await carol.say("hello! is slowpoke asleep?");
      await alice.say("looks like it. let's paste some logs");
      log("conversation done; alice, bob and carol now flood the room");

      // The flood: all three at once, until each is told slowpoke is gone.
      const floodStart = performance.now();
      const sent = new Map<string, number>();
      await openNursery(async (flood) => {
        for (const client of clients) {
          flood.startSoon(async () => {
            const n = await client.flood();
            sent.set(client.name, n);
            await client.say(`done: sent ${n} flood lines`);
          });
        }
      });
      const floodMs = performance.now() - floodStart;
      const total = [...sent.values()].reduce((a, b) => a + b, 0);
      log(
        `flood over after ${floodMs.toFixed(0)} ms: ${total} lines of ${FLOOD_LINE_BYTES} bytes sent`,
      );

      // Everyone's "done" line came after all their flood lines: wait for them.
      for (const client of clients) {
        await client.waitFor(() =>
          clients.every((c) => c === client || client.sawLine(`${c.name}: done:`)),
        );
      }

      for (const client of clients) {
        console.log(`--- what ${client.name} received (flood lines counted, not shown):`);
        for (const line of client.transcript) console.log(`    ${line}`);
        const counts = clients
          .filter((c) => c !== client)
          .map((c) => {
            const got = client.floodLinesFrom.get(c.name) ?? 0;
            const all = got === sent.get(c.name) ? " (all of them)" : " (LINES MISSING)";
            return `${got} of ${c.name}'s ${sent.get(c.name)}${all}`;
          });
        console.log(`    + flood lines: ${counts.join(", ")}`);
      }

      // slowpoke reads at last: what the kernel still held, then the server's close.
      let slowCount = 0;
      let slowFlood = 0;
      for await (const line of slowLines) {
        slowCount++;
        if (/^[\w-]+: flood /.test(line)) slowFlood++;
      }
      log(
        `slowpoke, reading at last: ${slowCount} lines (${slowFlood} flood lines) were in the socket buffers, then end of stream: disconnected`,
      );

      await slowpoke.aclose();
      for (const client of clients) await client.leave();
      nursery.cancelScope.cancel("chat example done");
    });
  });
  log("server stopped");
}

if (import.meta.main) await main();
