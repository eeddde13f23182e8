/** The one-line summary of a soak run, and the failure reasons of its accounts. */
import type { Ledger } from "./load/ledger.ts";
import type { ServerTotals } from "./protocol.ts";
import type { StampedSample } from "./report.ts";

const count = (n: number): string => n.toLocaleString("en-US");
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

export interface SummaryInput {
  readonly seconds: number;
  readonly samples: readonly StampedSample[];
  readonly ledgers: readonly Ledger[];
  readonly server: ServerTotals | null;
  readonly clientConnections: number;
  readonly passed: boolean;
}

/** Peak and final of a sample field ("peak / final"). */
function peakFinal(samples: readonly StampedSample[], value: (s: StampedSample) => number): string {
  if (samples.length === 0) return "?";
  const peak = Math.max(...samples.map(value));
  return `${formatNumber(peak)} / ${formatNumber(value(samples.at(-1)!))}`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? count(value) : value.toFixed(1);
}

export function summaryLine(input: SummaryInput): string {
  const { samples, ledgers, server } = input;
  const served =
    server === null ? "?" : count(Object.values(server.requestsByRoute).reduce((a, b) => a + b, 0));
  const responses = ledgers.reduce((n, l) => n + l.responseCount, 0);
  const aborts = ledgers.reduce((n, l) => n + l.aborted, 0);
  const disconnects = new Map<string, number>();
  for (const ledger of ledgers) {
    for (const [why, n] of ledger.disconnects) {
      // "slow reader cut off", "chunked: reset before an answer" → by the part after the variant.
      const kind = why.includes(": ") ? why.slice(why.indexOf(": ") + 2) : why;
      disconnects.set(kind, (disconnects.get(kind) ?? 0) + n);
    }
  }
  const disconnectText =
    [...disconnects].map(([why, n]) => `${why} ${count(n)}`).join(", ") || "none";
  const serverConnections =
    server === null ? "?" : count(server.httpConnections + server.tcpConnections);
  return [
    `soak ${input.passed ? "PASSED" : "FAILED"}: ${Math.round(input.seconds)} s`,
    `${served} requests served (${count(responses)} client operations answered and checked)`,
    `${serverConnections} connections accepted (${count(input.clientConnections)} opened)`,
    `${count(aborts)} client aborts`,
    `disconnects: ${disconnectText}`,
    `heap peak/final ${peakFinal(samples, (s) => Number(mb(s.heapUsedBytes)))} MB`,
    `RSS ${peakFinal(samples, (s) => Number(mb(s.rssBytes)))} MB`,
    `fds ${peakFinal(samples, (s) => s.fds)}`,
    `tasks ${peakFinal(samples, (s) => s.tasks)}`,
    `ELD p99 ${server === null ? "?" : server.eldP99Ms.toFixed(1)} ms`,
  ].join(" · ");
}
