/**
 * http-hello's load generator, run in its own process by support/http.ts (so
 * it never shares the server's event loop): autocannon as a library, closed
 * loop, keep-alive, no pipelining.
 *
 *   node http-client.ts '{"url":"http://127.0.0.1:PORT/","connections":50,"amount":N,"body":"hello world"}'
 *
 * Prints one line of JSON ({@link LoadReport}) on stdout. The elapsed time is
 * measured here, from the call to the last response: autocannon's own
 * `duration` is only settled at its next 1-second sampling tick.
 */
import type { LoadReport, LoadRequest } from "./http.ts";

interface AutocannonResult {
  readonly errors: number;
  readonly timeouts: number;
  readonly mismatches: number;
  readonly non2xx: number;
  readonly latency: { readonly p50: number; readonly p99: number };
}

interface Tracker {
  on(event: "response", listener: (client: unknown, statusCode: number) => void): void;
}

type Autocannon = (
  options: Record<string, unknown>,
  callback: (error: Error | null, result: AutocannonResult) => void,
) => Tracker;

// autocannon ships no types; a computed specifier makes the import `any`.
const specifier = "autocannon";
const { default: autocannon } = (await import(specifier)) as { default: Autocannon };

const request = JSON.parse(process.argv[2] ?? "") as LoadRequest;
let ok = 0;
let last = 0;
const t0 = performance.now();
const result = await new Promise<AutocannonResult>((resolve, reject) => {
  const tracker = autocannon(
    {
      url: request.url,
      connections: request.connections,
      amount: request.amount,
      pipelining: 1,
      expectBody: request.body,
      timeout: 10,
    },
    (error, done) => (error === null ? resolve(done) : reject(error)),
  );
  tracker.on("response", (_client, statusCode) => {
    last = performance.now();
    if (statusCode === 200) ok++;
  });
});
const report: LoadReport = {
  ok: ok - result.mismatches,
  errors: result.errors + result.timeouts + result.mismatches + result.non2xx,
  elapsedMs: last - t0,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
