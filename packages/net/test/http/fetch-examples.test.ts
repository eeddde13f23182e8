/**
 * The fetch and scanning examples (examples/concurrent-fetcher.ts,
 * port-scanner.ts) run end to end: each `main()` is called and what it prints
 * is checked (local servers on 127.0.0.1 only). Console output is captured,
 * not shown.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { main as concurrentFetcher } from "../../../../examples/concurrent-fetcher.ts";
import { main as portScanner } from "../../../../examples/port-scanner.ts";

/** Runs `fn` with console.log captured; returns the printed lines. */
async function printed(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  });
  await fn();
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("fetch and scanning examples", () => {
  test("concurrent-fetcher: the limit holds, one URL times out, one fails", async () => {
    const output = (await printed(concurrentFetcher)).join("\n");
    expect(output).toMatch(/\/items\/7\s+timed out/);
    expect(output).toMatch(/\/items\/13\s+failed\s+HTTP 500/);
    expect(output).toContain("18 ok, 1 failed, 1 timed out");
    const most = /the server saw at most (\d+) requests at once/.exec(output);
    expect(most).not.toBeNull();
    expect(Number(most![1])).toBeLessThanOrEqual(5);
    // The timeout really aborted the request: the server saw the client leave.
    expect(output).toContain("requests abandoned by the client: /items/7.");
  });

  test("port-scanner: exactly our listeners are found open", async () => {
    const lines = await printed(portScanner);
    const listening = lines.find((line) => line.startsWith("listening on"));
    expect(listening).toBeDefined();
    const ours = listening!
      .replace(/^listening on [\d.]+ ports /, "")
      .split(", ")
      .map(Number);
    expect(ours.length).toBeGreaterThanOrEqual(1);
    const open = lines
      .map((line) => /^\s+(\d+) open/.exec(line))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]));
    expect(open).toEqual(ours);
    expect(lines.join("\n")).toMatch(/at most ([1-9]|10) attempts were in flight at once/);
  });
});
