/**
 * A kind of client of the soak's load: how many run at once, how long one
 * operation may take before it counts as lost, and the operation itself.
 * Each kind is a file of soak/load/clients/.
 */
import type { Agent } from "undici";
import type { Outcome } from "./ledger.ts";
import type { Random } from "./random.ts";

/** The servers under load, and what the clients share. */
export interface Target {
  readonly httpPort: number;
  readonly tcpPort: number;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** undici pools: keep-alive, and one for the clients whose connections do not survive a request. */
  readonly keepAlive: Agent;
  readonly fresh: Agent;
  /** Counts a connection a raw-socket client opened. */
  connectionOpened(): void;
}

export interface ClientKind {
  readonly name: string;
  /** Operations under way at once (one loop each). */
  readonly concurrency: number;
  /**
   * Longest an operation may take: past every server timeout it can meet,
   * so that one still pending then was neither answered nor cut off (lost).
   */
  readonly capMs: number;
  /** Pause of a loop between two operations (ms; default none). */
  readonly pauseMs?: number;
  /**
   * One operation: its outcome, or an error when the server did what it must
   * not (a wrong status or body, a disconnect where an answer is due).
   * `signal` aborts when the cap passes.
   */
  run(target: Target, signal: AbortSignal, random: Random): Promise<Outcome>;
}
