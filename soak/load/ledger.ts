/**
 * The load generator's exact accounts, one ledger per kind of client: every
 * operation it starts ends in exactly one entry — a response (by status), an
 * abort the client chose, a disconnect (by why), something the server must
 * not do (unexpected: a wrong status or body, an error it should not cause),
 * or nothing at all within the operation's cap (lost). A run passes only if,
 * for every kind, nothing is unexpected, nothing is lost, and the entries add
 * up to the operations started.
 */

/** How one operation ended, as its client saw it. */
export type Outcome =
  /** An HTTP status, or "echo" for a TCP echo that came back whole. */
  | { readonly type: "response"; readonly status: number | "echo" }
  /** The client gave up on purpose (an abort mid-request, a reset mid-stream). */
  | { readonly type: "aborted" }
  /** The server closed or reset the connection before a response, as it may for this client. */
  | { readonly type: "disconnect"; readonly why: string };

/** Unexpected outcomes kept word for word, per kind (the rest are counted). */
const KEPT_FAILURES = 5;

export class Ledger {
  readonly kind: string;
  started = 0;
  inFlight = 0;
  readonly responses = new Map<number | "echo", number>();
  aborted = 0;
  readonly disconnects = new Map<string, number>();
  unexpected = 0;
  lost = 0;
  /** The first unexpected and lost operations, described. */
  readonly failures: string[] = [];

  constructor(kind: string) {
    this.kind = kind;
  }

  /**
   * Runs one operation and books its outcome. `capMs` is how long it may take
   * at most: past every server timeout it can meet, so an operation still
   * pending then is one the server neither answered nor closed (lost); its
   * signal is then aborted so that it lets go of its connection.
   */
  async account(
    capMs: number,
    operation: (signal: AbortSignal) => Promise<Outcome>,
    secondsSinceStart: () => number,
  ): Promise<void> {
    this.started++;
    this.inFlight++;
    const startedAt = secondsSinceStart();
    const cap = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"lost">((resolve) => {
      timer = setTimeout(() => resolve("lost"), capMs);
    });
    try {
      const result = await Promise.race([operation(cap.signal), expired]);
      if (result === "lost") {
        this.lost++;
        this.#fail(
          `no answer and no disconnect in ${capMs} ms (started at ${startedAt.toFixed(1)} s)`,
          secondsSinceStart,
        );
        cap.abort(new Error("lost"));
      } else {
        this.#book(result);
      }
    } catch (error) {
      this.unexpected++;
      this.#fail(error instanceof Error ? error.message : String(error), secondsSinceStart);
    } finally {
      clearTimeout(timer);
      this.inFlight--;
    }
  }

  #book(outcome: Outcome): void {
    if (outcome.type === "response") {
      this.responses.set(outcome.status, (this.responses.get(outcome.status) ?? 0) + 1);
    } else if (outcome.type === "aborted") {
      this.aborted++;
    } else {
      this.disconnects.set(outcome.why, (this.disconnects.get(outcome.why) ?? 0) + 1);
    }
  }

  #fail(description: string, secondsSinceStart: () => number): void {
    if (this.failures.length < KEPT_FAILURES) {
      this.failures.push(`${this.kind} at ${secondsSinceStart().toFixed(1)} s: ${description}`);
    }
  }

  get responseCount(): number {
    let n = 0;
    for (const count of this.responses.values()) n += count;
    return n;
  }

  get disconnectCount(): number {
    let n = 0;
    for (const count of this.disconnects.values()) n += count;
    return n;
  }

  /** Operations that ended in one of the entries. */
  get settled(): number {
    return this.responseCount + this.aborted + this.disconnectCount + this.unexpected + this.lost;
  }

  /** What is wrong with these accounts (none: an empty list). */
  problems(): string[] {
    const problems: string[] = [];
    if (this.inFlight !== 0) problems.push(`${this.kind}: ${this.inFlight} operations never ended`);
    if (this.settled !== this.started) {
      problems.push(`${this.kind}: ${this.started} started but ${this.settled} booked`);
    }
    if (this.lost > 0) problems.push(`${this.kind}: ${this.lost} lost`);
    if (this.unexpected > 0) problems.push(`${this.kind}: ${this.unexpected} unexpected`);
    return problems;
  }

  toJSON(): object {
    return {
      kind: this.kind,
      started: this.started,
      responses: Object.fromEntries(this.responses),
      aborted: this.aborted,
      disconnects: Object.fromEntries(this.disconnects),
      unexpected: this.unexpected,
      lost: this.lost,
      failures: this.failures,
    };
  }
}
