/**
 * A soak run's report, as soak/run.ts writes it (JSON beside the chart) and
 * soak/chart.ts reads it back.
 */
import type { TrendVerdict } from "./analysis/trend.ts";
import type { Sample, ServerTotals } from "./protocol.ts";

/** A server sample, stamped with the parent's clock (seconds since the load began). */
export interface StampedSample extends Sample {
  /** Seconds since the load began (negative: before it, the idle baseline). */
  readonly at: number;
}

export interface LedgerReport {
  readonly kind: string;
  readonly started: number;
  readonly responses: Readonly<Record<string, number>>;
  readonly aborted: number;
  readonly disconnects: Readonly<Record<string, number>>;
  readonly unexpected: number;
  readonly lost: number;
  readonly failures: readonly string[];
}

export interface SoakReport {
  readonly date: string;
  readonly node: string;
  readonly seed: number;
  /** Seconds of load asked for, and seconds the load ran (with its drain). */
  readonly duration: number;
  readonly loadSeconds: number;
  /** The trend test's warm-up (seconds since the load began). */
  readonly warmup: number;
  readonly samples: readonly StampedSample[];
  readonly verdicts: Readonly<Record<string, TrendVerdict>>;
  readonly ledgers: readonly LedgerReport[];
  readonly server: ServerTotals | null;
  /** Connections the clients opened. */
  readonly clientConnections: number;
  /** Why the run failed (empty: it passed). */
  readonly problems: readonly string[];
  readonly summary: string;
}
