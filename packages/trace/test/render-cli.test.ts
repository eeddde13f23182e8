/** The weft-trace command, run as a child process from its sources. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { sampleTrace } from "./trace-fixtures.ts";

const cli = fileURLToPath(new URL("../src/cli/weft-trace.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "weft-trace-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function weftTrace(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--conditions=weft-source", cli, ...args],
      { cwd: dir, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const tracePath = join(dir, "run.trace.json");
writeFileSync(tracePath, JSON.stringify(sampleTrace()));

describe("weft-trace", () => {
  test("writes an HTML page for -o x.html", async () => {
    const out = join(dir, "timeline.html");
    const run = await weftTrace(tracePath, "-o", out);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain(`wrote ${out}`);
    const html = readFileSync(out, "utf8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<svg");
    expect(html).toContain("run.trace.json");
    expect(html).toContain("fetch users #2");
  });

  test("writes an SVG for -o x.svg, and takes a title", async () => {
    const out = join(dir, "timeline.svg");
    const run = await weftTrace(tracePath, "--output", out, "--title", "my run");
    expect(run.code).toBe(0);
    const svg = readFileSync(out, "utf8");
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain(">my run</text>");
    expect(svg).toContain("waiting for Semaphore.acquire");
  });

  test("defaults the output to the trace's name with .html", async () => {
    const run = await weftTrace("run.trace.json");
    expect(run.code).toBe(0);
    expect(readFileSync(join(dir, "run.trace.html"), "utf8")).toContain("<svg");
  });

  test("--help prints the usage", async () => {
    const run = await weftTrace("--help");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: weft-trace <trace\.json>/);
  });

  test("a missing file: exit 1, naming the file", async () => {
    const run = await weftTrace("nope.json", "-o", "x.html");
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("weft-trace: cannot read nope.json: no such file\n");
  });

  test("a file that is not JSON, or not a trace: exit 1, naming the file and what is wrong", async () => {
    writeFileSync(join(dir, "bad.json"), "{ not json");
    const notJson = await weftTrace("bad.json", "-o", "x.html");
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^weft-trace: bad\.json is not a weft trace file: not JSON \(/);

    writeFileSync(join(dir, "other.json"), JSON.stringify({ hello: "world" }));
    const other = await weftTrace("other.json", "-o", "x.html");
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(
      'weft-trace: other.json is not a weft trace file: no "traceEvents" array: not a trace file\n',
    );

    writeFileSync(
      join(dir, "broken.json"),
      JSON.stringify({ traceEvents: [{ ph: "X", name: "running", pid: 1, tid: 1, ts: 0 }] }),
    );
    const broken = await weftTrace("broken.json", "-o", "x.svg");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('traceEvents[0] (an "X" slice) has no non-negative "dur"');
  });

  test("wrong usage: exit 2 with a hint", async () => {
    const none = await weftTrace();
    expect(none.code).toBe(2);
    expect(none.stderr).toBe("weft-trace: no trace file given\nTry weft-trace --help.\n");
    const png = await weftTrace(tracePath, "-o", "x.png");
    expect(png.code).toBe(2);
    expect(png.stderr).toContain('cannot tell the output format of "x.png": name it .html or .svg');
    const unknown = await weftTrace(tracePath, "--colour");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--colour");
  });
});
