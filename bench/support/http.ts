/**
 * What the http-hello implementations share: the body every server returns and
 * the load generator, run in ANOTHER process (support/http-client.ts, autocannon)
 * so that the client never takes the server's event loop.
 *
 * A run is a fixed number of keep-alive GETs (`size.n`) over `size.m`
 * connections, closed loop. Its time is the client's, from the start of the
 * load to the last response, so the per-request value is 1e9 / requests per
 * second (throughput, not latency); the latency percentiles come as extras.
 */
import { spawn } from "node:child_process";
import type { RunResult, Size } from "../scenario.ts";
import { HOST } from "./tcp.ts";

export { HOST };

/** The response body of every server (checked by the client, byte for byte). */
export const BODY = "hello world";

/** What support/http-client.ts is asked to do (argv[2], JSON). */
export interface LoadRequest {
  readonly url: string;
  readonly connections: number;
  readonly amount: number;
  readonly body: string;
}

/** What support/http-client.ts prints. */
export interface LoadReport {
  /** Responses with status 200 and the expected body. */
  readonly ok: number;
  /** Errors, timeouts, other statuses and wrong bodies. */
  readonly errors: number;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Runs the load against `port` on the loopback address in a child process and
 * returns the run's result: `check` counts the correct responses, `measured`
 * is the client's elapsed time (ms), the latencies are extras.
 */
export function driveLoad(port: number, { n, m }: Size): Promise<RunResult> {
  const request: LoadRequest = {
    url: `http://${HOST}:${port}/`,
    connections: m,
    amount: n,
    body: BODY,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [new URL("./http-client.ts", import.meta.url).pathname, JSON.stringify(request)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`the load generator exited (${signal ?? `code ${code}`})`));
        return;
      }
      try {
        const report = JSON.parse(output) as LoadReport;
        if (report.errors > 0) {
          throw new Error(`the load generator saw ${report.errors} errors or wrong responses`);
        }
        resolve({
          check: report.ok,
          measured: report.elapsedMs,
          extras: { "p50 ms": report.p50Ms, "p99 ms": report.p99Ms },
        });
      } catch (error) {
        reject(error);
      }
    });
  });
}
