/**
 * Process faults: a weft HTTP server in a child process (serveHttp inside
 * run(), real signal handling: fixtures/fault-server.ts) under load from real
 * HTTP clients (node:http, keep-alive), while the test sends it SIGTERM,
 * SIGINT twice, or SIGKILL.
 *
 * Every request's outcome is classified from the bytes its socket received:
 * answered (a complete response: status, then exactly Content-Length bytes,
 * checked), cleanly refused (the connection failed or closed before a single
 * byte of a response), or half-answered (anything else). Nothing waits on
 * real time: the test acts on the child's readiness messages (JSON lines on
 * its stdout) and on its clients' progress; only the server's own grace
 * period is a real-time timer.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const FIXTURE = fileURLToPath(new URL("../fixtures/fault-server.ts", import.meta.url));

/** A message the child printed (one JSON object per stdout line). */
type Message = Record<string, unknown>;

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** The child server: its messages, a way to wait for one, how it ended. */
interface ChildServer {
  readonly process: ChildProcess;
  readonly port: number;
  readonly messages: Message[];
  /** Resolves once `count` messages satisfy `match` (rejects if the child ends first). */
  waitFor(match: (message: Message) => boolean, count?: number): Promise<void>;
  readonly ended: Promise<Ended>;
}

/** Starts fault-server.ts and waits for its `ready` message; it is killed when the test ends. */
async function startServer(
  onTestFinished: (fn: () => void) => void,
  options: { gracePeriod: number; journal?: string; otherSigintListener?: boolean },
): Promise<ChildServer> {
  const journal = options.journal ?? temporaryJournal(onTestFinished);
  const args = ["--conditions=weft-source", FIXTURE, journal, String(options.gracePeriod)];
  if (options.otherSigintListener === true) args.push("--other-sigint-listener");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  let pending = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    let end = pending.indexOf("\n");
    while (end >= 0) {
      messages.push(JSON.parse(pending.slice(0, end)) as Message);
      pending = pending.slice(end + 1);
      end = pending.indexOf("\n");
    }
    for (const check of [...waiters]) check();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const ended = new Promise<Ended>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
  const waitFor = (match: (message: Message) => boolean, count = 1) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (messages.filter(match).length < count) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
      void ended.then(({ code, signal }) => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        reject(
          new Error(
            `the server ended (${code ?? signal}) before the awaited message; ` +
              `stdout: ${JSON.stringify(messages)}; stderr: ${stderr}`,
          ),
        );
      });
    });
  await waitFor((message) => "ready" in message);
  const ready = messages.find((message) => "ready" in message)!;
  return {
    process: child,
    port: ready.ready as number,
    messages,
    waitFor,
    ended,
  };
}

/** How one request ended, seen from the client. */
type Outcome =
  | {
      readonly kind: "answered";
      readonly status: number;
      readonly headers: http.IncomingHttpHeaders;
      readonly body: Buffer;
    }
  /** The connection failed or closed before one byte of a response arrived. */
  | { readonly kind: "refused"; readonly error: string }
  /** Some bytes of a response arrived, but not all of it. */
  | { readonly kind: "half"; readonly detail: string };

/**
 * Sends one request with `agent` and classifies its outcome by the bytes its
 * socket received while it was the request's.
 */
function send(
  port: number,
  agent: http.Agent,
  method: string,
  target: string,
  body?: string,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let received = 0;
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const count = (chunk: Buffer) => {
      received += chunk.length;
    };
    const request = http.request(
      { host: "127.0.0.1", port, method, path: target, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const data = Buffer.concat(chunks);
          const length = Number(response.headers["content-length"]);
          if (!response.complete || (Number.isFinite(length) && data.length !== length)) {
            settle({ kind: "half", detail: `${data.length} of ${length} bytes of the body` });
          } else {
            settle({
              kind: "answered",
              status: response.statusCode!,
              headers: response.headers,
              body: data,
            });
          }
        });
        response.on("error", () => {}); // 'close' below says what happened
        response.on("close", () => {
          if (!response.complete) {
            const got = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
            settle({
              kind: "half",
              detail: `connection closed after ${got} of ${response.headers["content-length"]} bytes of the body`,
            });
          }
        });
      },
    );
    request.on("socket", (socket) => {
      socket.on("data", count);
      request.once("close", () => socket.off("data", count));
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      settle(
        received === 0
          ? { kind: "refused", error: error.code ?? error.message }
          : { kind: "half", detail: `${error.message} after ${received} bytes` },
      );
    });
    request.end(body);
  });
}

/** A path for a journal in a temporary directory, removed when the test ends. */
function temporaryJournal(onTestFinished: (fn: () => void) => void): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "weft-faults-"));
  onTestFinished(() => fs.rmSync(directory, { recursive: true, force: true }));
  return path.join(directory, "journal.log");
}

/** A keep-alive client pool (closed when the test ends). */
function agentFor(onTestFinished: (fn: () => void) => void, maxSockets: number): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  onTestFinished(() => agent.destroy());
  return agent;
}

/** Whether `outcome` is a complete 200 whose body is `size` bytes: `id:` then dots. */
function isAnswer(outcome: Outcome, id: string, size: number): boolean {
  if (outcome.kind !== "answered" || outcome.status !== 200 || outcome.body.length !== size) {
    return false;
  }
  const prefix = Buffer.from(`${id}:`).subarray(0, size);
  return (
    outcome.body.subarray(0, prefix.length).equals(prefix) &&
    outcome.body.subarray(prefix.length).every((byte) => byte === 0x2e)
  );
}

/** A promise and the function that resolves it once `target` was reached by `add`. */
function counter(target: number): { add(): void; reached: Promise<void> } {
  let count = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    add() {
      if (++count === target) resolve();
    },
    reached: promise,
  };
}

/** Outcomes in a short form for failure messages. */
function describeOutcomes(outcomes: readonly { target: string; outcome: Outcome }[]): string {
  return outcomes
    .map(({ target, outcome }) =>
      outcome.kind === "answered"
        ? `${target}: ${outcome.status} (${outcome.body.length} bytes)`
        : outcome.kind === "refused"
          ? `${target}: refused (${outcome.error})`
          : `${target}: HALF-ANSWERED (${outcome.detail})`,
    )
    .join("\n");
}

/**
 * `writers` loops, each appending its records (`record-<writer>-<i>`) one
 * after another until a request is not answered; `enough` resolves once
 * `target` appends were acknowledged.
 */
function appendLoad(port: number, agent: http.Agent, writers: number, target: number) {
  const acknowledged: string[] = [];
  const sent: string[] = [];
  const enough = counter(target);
  const done = Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let i = 0; ; i++) {
        const record = `record-${writer}-${i}`;
        sent.push(record);
        const outcome = await send(port, agent, "POST", "/append", record);
        if (outcome.kind !== "answered") return outcome;
        expect([outcome.status, outcome.body.toString()]).toEqual([200, `ok ${record}`]);
        acknowledged.push(record);
        enough.add();
      }
    }),
  );
  return { acknowledged, sent, enough: enough.reached, done };
}

/**
 * Checks the journal against what was sent and acknowledged: every
 * acknowledged record is there; nothing else but sent records, none twice,
 * each writer's in order. Returns its complete lines and whether its last
 * line was torn (a record whose write was cut short).
 */
function checkJournal(
  journal: string,
  load: { acknowledged: readonly string[]; sent: readonly string[] },
  writers: number,
): { records: string[]; torn: boolean } {
  const text = fs.readFileSync(journal, "utf8");
  const lines = text.split("\n");
  // The last line is empty, or a record whose write the kill cut short.
  const records = lines.slice(0, -1);
  const inJournal = new Set(records);
  expect(load.acknowledged.filter((record) => !inJournal.has(record))).toEqual([]);
  const sentSet = new Set(load.sent);
  expect(records.filter((record) => !sentSet.has(record))).toEqual([]);
  expect(inJournal.size).toBe(records.length);
  for (let writer = 0; writer < writers; writer++) {
    const mine = records
      .filter((record) => record.startsWith(`record-${writer}-`))
      .map((record) => Number(record.split("-")[2]));
    expect(mine).toEqual(mine.map((_, i) => i));
  }
  return { records, torn: lines.at(-1) !== "" };
}

/** Sizes of the /work answers: one write, several writes, more than the socket takes at once. */
const WORK_SIZES = [16, 20_000, 400_000];
/** Size of each /held answer: far more than loopback's socket buffers take at once. */
const HELD_SIZE = 4 * 1024 * 1024;

// Each test starts a Node process and loads it: seconds on a busy 2-core machine, more than
// the default 20 s when the whole suite runs alongside. Still bounded.
describe.concurrent("serveHttp in a child process, under load, killed by signals", {
  timeout: 60_000,
}, () => {
  test("SIGTERM mid-load: the requests in flight are answered in full, later ones refused before any byte, exit code 143", async ({
    onTestFinished,
  }) => {
    const server = await startServer(onTestFinished, { gracePeriod: 15_000 });
    const agent = agentFor(onTestFinished, 16);
    const results: { target: string; outcome: Outcome }[] = [];
    const HELD = 4;
    const LOOPS = 6;
    const loadDone = counter(30);

    // Requests that answer only once the shutdown has begun: in flight when
    // the signal arrives, for certain.
    const held = Array.from({ length: HELD }, (_, i) => {
      const target = `/held?id=h${i}&size=${HELD_SIZE}`;
      return send(server.port, agent, "GET", target).then((outcome) => {
        results.push({ target, outcome });
        return { id: `h${i}`, outcome };
      });
    });
    // Load: each loop sends requests one after another until one is refused.
    const loops = Array.from({ length: LOOPS }, async (_, loop) => {
      for (let i = 0; ; i++) {
        const size = WORK_SIZES[i % WORK_SIZES.length]!;
        const id = `w${loop}-${i}`;
        const target = `/work?id=${id}&size=${size}`;
        const outcome = await send(server.port, agent, "GET", target);
        results.push({ target, outcome });
        if (outcome.kind !== "answered") return;
        expect(isAnswer(outcome, id, size), target).toBe(true);
        loadDone.add();
      }
    });

    await server.waitFor((message) => message.arrived === "held", HELD);
    await loadDone.reached;
    server.process.kill("SIGTERM");
    const heldOutcomes = await Promise.all(held);
    await Promise.all(loops);
    const { code, signal, stderr } = await server.ended;

    const half = results.filter(({ outcome }) => outcome.kind === "half");
    expect(half, describeOutcomes(half)).toEqual([]);
    for (const { id, outcome } of heldOutcomes) {
      // Complete, although the shutdown closes the connection once it is sent.
      // (Whether it says `Connection: close` depends on whether the server
      // task had begun its shutdown when the handler returned: both tasks
      // were cancelled by the signal at once.)
      expect(isAnswer(outcome, id, HELD_SIZE), describeOutcomes(results)).toBe(true);
    }
    for (const { target, outcome } of results) {
      if (outcome.kind === "answered") expect([target, outcome.status]).toEqual([target, 200]);
    }
    expect(server.messages.filter((message) => "log" in message)).toEqual([]);
    expect(server.messages.at(-1)).toEqual({ interrupted: "SIGTERM" });
    expect(stderr).toBe("");
    expect([code, signal]).toEqual([143, null]);
  });

  test("SIGTERM with requests that outlast the grace period: they get 503, exit code 143", async ({
    onTestFinished,
  }) => {
    const server = await startServer(onTestFinished, { gracePeriod: 200 });
    const agent = agentFor(onTestFinished, 8);
    const STUCK = 3;
    const stuck = Array.from({ length: STUCK }, (_, i) =>
      send(server.port, agent, "GET", `/stuck?id=s${i}`),
    );
    await server.waitFor((message) => message.arrived === "stuck", STUCK);
    server.process.kill("SIGTERM");
    const outcomes = await Promise.all(stuck);
    const { code, signal, stderr } = await server.ended;
    for (const outcome of outcomes) {
      expect(outcome.kind === "answered" && [outcome.status, outcome.headers.connection]).toEqual([
        503,
        "close",
      ]);
    }
    expect(server.messages.filter((message) => "log" in message)).toEqual(
      Array.from({ length: STUCK }, (_, i) => ({
        log: "shutdown",
        status: 503,
        url: `/stuck?id=s${i}`,
      })),
    );
    expect(server.messages.at(-1)).toEqual({ interrupted: "SIGTERM" });
    expect(stderr).toBe("");
    expect([code, signal]).toEqual([143, null]);
  });

  test("SIGINT twice: the first begins the graceful shutdown, the second kills the process by SIGINT at once", async ({
    onTestFinished,
  }) => {
    // A grace period far longer than the test: only the second SIGINT ends it.
    const server = await startServer(onTestFinished, { gracePeriod: 600_000 });
    const agent = agentFor(onTestFinished, 8);
    const STUCK = 2;
    const stuck = Array.from({ length: STUCK }, (_, i) =>
      send(server.port, agent, "GET", `/stuck?id=s${i}`),
    );
    await server.waitFor((message) => message.arrived === "stuck", STUCK);
    server.process.kill("SIGINT");
    await server.waitFor((message) => message.shutdown === true);
    server.process.kill("SIGINT");
    const { code, signal, stderr } = await server.ended;
    // docs/guides/signals.md: weft stops listening and sends the signal again, so the
    // process dies of it (a shell shows 128 + 2 = 130).
    expect([code, signal]).toEqual([null, "SIGINT"]);
    expect(stderr).toMatch(
      /^weft: second SIGINT while shutting down, exiting now without waiting for cleanup \(still running: .*"GET \/stuck" in sleep.*\)\n$/,
    );
    expect(server.messages.some((message) => "interrupted" in message)).toBe(false);
    // The stuck requests never got a byte: the process died under them.
    for (const outcome of await Promise.all(stuck)) expect(outcome.kind).toBe("refused");
  });

  test("SIGINT twice with another SIGINT listener in the process: exit code 130", async ({
    onTestFinished,
  }) => {
    const server = await startServer(onTestFinished, {
      gracePeriod: 600_000,
      otherSigintListener: true,
    });
    const agent = agentFor(onTestFinished, 8);
    const stuck = send(server.port, agent, "GET", "/stuck?id=s0");
    await server.waitFor((message) => message.arrived === "stuck");
    server.process.kill("SIGINT");
    await server.waitFor((message) => message.shutdown === true);
    server.process.kill("SIGINT");
    const { code, signal, stderr } = await server.ended;
    expect([code, signal]).toEqual([130, null]);
    expect(stderr).toContain("weft: second SIGINT while shutting down");
    expect((await stuck).kind).toBe("refused");
  });

  test("SIGTERM mid-load of appends: every acknowledged append is in the journal, none torn, exit code 143", async ({
    onTestFinished,
  }) => {
    const journal = temporaryJournal(onTestFinished);
    const server = await startServer(onTestFinished, { gracePeriod: 15_000, journal });
    const WRITERS = 8;
    const load = appendLoad(server.port, agentFor(onTestFinished, 16), WRITERS, 100);
    await load.enough;
    server.process.kill("SIGTERM");
    const last = await load.done;
    const { code, signal, stderr } = await server.ended;
    expect(last.filter((outcome) => outcome.kind === "half")).toEqual([]);
    const { records, torn } = checkJournal(journal, load, WRITERS);
    // A graceful exit: every write that began was finished, and answered.
    expect(torn).toBe(false);
    expect(records.length).toBe(load.acknowledged.length);
    expect(server.messages.filter((message) => "log" in message)).toEqual([]);
    expect(stderr).toBe("");
    expect([code, signal]).toEqual([143, null]);
  });

  test("SIGKILL mid-load: every acknowledged append is in the journal", async ({
    onTestFinished,
  }) => {
    const journal = temporaryJournal(onTestFinished);
    const server = await startServer(onTestFinished, { gracePeriod: 15_000, journal });
    const WRITERS = 8;
    const load = appendLoad(server.port, agentFor(onTestFinished, 16), WRITERS, 150);
    await load.enough;
    server.process.kill("SIGKILL");
    await load.done;
    const { signal } = await server.ended;
    expect(signal).toBe("SIGKILL");
    checkJournal(journal, load, WRITERS);
  });
});
