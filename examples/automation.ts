// Ports seed 000's "Automating Tasks with Asyncio": an automation script that
// drives command-line tools. Three checks run at once as separate processes
// (so the stage takes as long as the slowest, not the sum), their output is
// captured and printed, and the one that fails is reported from its
// CalledProcessError (exit status and stderr) without stopping the others.
// Then a tool is fed through its stdin, and a deploy whose progress is read
// live is cut short by a deadline: it gets SIGTERM, rolls back, and is gone
// before the script goes on. The tools are `node -e` scripts standing in for
// real ones (a linter, a type checker, a test runner…), so this runs anywhere
// Node does.
import { CancelScope, currentTime, openNursery, run } from "@weft/core";
import { BufferedReceiveStream, CalledProcessError, type Process, runProcess } from "@weft/net";

const NODE = process.execPath;

/** A stand-in tool: prints `lines` (stderr lines start with "!"), takes `ms`, exits with `status`. */
function tool(ms: number, lines: string[], status = 0): string[] {
  return [
    "-e",
    `setTimeout(() => {
       for (const line of ${JSON.stringify(lines)}) {
         if (line.startsWith("!")) console.error(line.slice(1)); else console.log(line);
       }
       process.exitCode = ${status};
     }, ${ms});`,
  ];
}

interface Check {
  readonly name: string;
  readonly args: string[];
}

const CHECKS: readonly Check[] = [
  { name: "lint", args: tool(300, ["checked 42 files, no problems"]) },
  {
    name: "typecheck",
    args: tool(
      400,
      [
        "!src/report.ts(12,7): error TS2322: Type 'string' is not assignable to type 'number'.",
        "!Found 1 error.",
      ],
      2,
    ),
  },
  { name: "unit tests", args: tool(500, ["128 tests passed", "coverage 91%"]) },
];

/** Reads stdin, prints the number of lines and words. */
const WORD_COUNT = [
  "-e",
  `let text = "";
   process.stdin.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => {
     console.log(text.split("\\n").filter(Boolean).length + " lines, " + text.split(/\\s+/).filter(Boolean).length + " words");
   });`,
];

/** Connects, then uploads 20 files, one every 100 ms; on SIGTERM rolls back and exits with 1. */
const DEPLOY = [
  "-e",
  `process.on("SIGTERM", () => {
     clearInterval(timer);
     console.log("interrupted after " + n + " files: rolling back");
     process.exitCode = 1;
   });
   console.log("connected");
   let n = 0;
   const timer = setInterval(() => {
     console.log("uploaded file " + ++n + "/20");
     if (n === 20) { clearInterval(timer); console.log("deployed"); }
   }, 100);`,
];

let stageStart = 0;

function seconds(): string {
  return ((currentTime() - stageStart) / 1000).toFixed(2);
}

/** Runs one check; a failure is reported, not raised, so the other checks go on. */
async function runCheck(check: Check): Promise<boolean> {
  try {
    const { stdout } = await runProcess(NODE, check.args, { encoding: "utf8" });
    console.log(`  ✓ ${check.name} [${seconds()} s]: ${stdout.trim().replaceAll("\n", "; ")}`);
    return true;
  } catch (error) {
    if (!(error instanceof CalledProcessError)) throw error;
    console.log(`  ✗ ${check.name} [${seconds()} s]: exited with status ${error.exitCode}`);
    for (const line of String(error.stderr).trim().split("\n")) console.log(`      ${line}`);
    return false;
  }
}

async function checks(): Promise<void> {
  console.log("-- three checks, each its own process, run at once:");
  stageStart = currentTime();
  const results: boolean[] = [];
  await openNursery(async (nursery) => {
    for (const check of CHECKS)
      nursery.startSoon(async () => void results.push(await runCheck(check)));
  });
  const failed = results.filter((ok) => !ok).length;
  console.log(`  checks done in ${seconds()} s (one after another: about 1.2 s); ${failed} failed`);
}

async function wordCount(): Promise<void> {
  console.log("-- a tool fed through its stdin:");
  const notes = "weft runs processes\nlike function calls\nand cancels them like tasks\n";
  const { stdout } = await runProcess(NODE, WORD_COUNT, { input: notes, encoding: "utf8" });
  console.log(`  word count: ${stdout.trim()}`);
}

async function deploy(): Promise<void> {
  console.log("-- a deploy given 0.5 s once connected (it needs 2 s):");
  stageStart = currentTime();
  await openNursery(async (nursery) => {
    // runProcess supervises the deploy inside `timeout`; this task reads its
    // output as it comes, and still gets the rollback lines after the timeout.
    const timeout = new CancelScope();
    const deployment = await nursery.start<Process>((taskStatus) =>
      timeout.run(() =>
        runProcess(NODE, DEPLOY, { taskStatus, stdout: "pipe", check: false, gracePeriod: 2000 }),
      ),
    );
    const output = new BufferedReceiveStream(deployment.stdout!);
    for await (const line of output.lines()) {
      console.log(`  deploy [${seconds()} s] | ${line}`);
      // A deadline can be set on a scope that is already running.
      if (line === "connected") timeout.deadline = currentTime() + 500;
    }
    await output.aclose();
    await deployment.wait();
    const gone = !exists(deployment.pid);
    console.log(
      `  deploy ended [${seconds()} s] with status ${deployment.exitCode} after the timeout's SIGTERM; ` +
        `process ${deployment.pid} ${gone ? "is gone (exited and reaped)" : "still exists!"}`,
    );
  });
}

/** Whether a process with this pid exists (signal 0 only checks). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function main(): Promise<void> {
  await run(async () => {
    await checks();
    await wordCount();
    await deploy();
  });
}

if (import.meta.main) await main();
