/**
 * `run({ dumpTasksOn })`: the signal prints the live task tree to stderr —
 * every task, what it waits on and for how long, its cancel scopes and
 * deadlines — and the run goes on undisturbed.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Event, moveOnAfter, openNursery, run, sleep, sleepForever } from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { startProgram } from "../support/child-program.ts";
import { expectRejects } from "../support/helpers.ts";

/** Runs `fn` with process.stderr.write captured; returns what was written. */
async function capturingStderr(fn: () => Promise<void>): Promise<string> {
  let written = "";
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return written;
}

describe("dumpTasksOn", () => {
  test("the signal prints every task, what it waits on and for how long, and its deadlines; the run goes on", async () => {
    const done: string[] = [];
    const printed = await capturingStderr(() =>
      run(
        async () => {
          const ready = new Event();
          await openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                await ready.wait();
                done.push("waiter");
              },
              { name: "waiter" },
            );
            nursery.startSoon(
              () =>
                moveOnAfter(1_000, async () => {
                  await sleepForever();
                }),
              { name: "sleeper" },
            );
            await sleep(250);
            process.emit("SIGUSR2", "SIGUSR2"); // as `kill -USR2 <pid>` would
            ready.set();
          });
        },
        { clock: new MockClock({ autojumpThreshold: 0 }), dumpTasksOn: "SIGUSR2" },
      ),
    );
    expect(printed).toContain("weft: SIGUSR2 — the run's tasks at 250 ms (run's clock):");
    expect(printed).toContain('- task "waiter": blocked in Event.wait for 250 ms');
    expect(printed).toMatch(
      /- task "sleeper": blocked in sleepForever for 250 ms\n\s+cancel scope: deadline at 1000 ms \(in 750 ms\)/,
    );
    expect(printed).toMatch(/- task "main": running/);
    expect(done).toEqual(["waiter"]); // undisturbed
    // docs/guides/seeing-your-tasks.md shows this very output.
    const guide = readFileSync(
      new URL("../../../../docs/guides/seeing-your-tasks.md", import.meta.url),
      "utf8",
    );
    expect(guide).toContain(printed.trim());
    // The listener is gone with the run: Node's default for the signal is back.
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });

  test("a real SIGUSR2 sent to a process that seems stuck prints its tree", async ({
    onTestFinished,
  }) => {
    const script = fileURLToPath(new URL("../fixtures/stuck-run.ts", import.meta.url));
    const program = startProgram(["--conditions=weft-source", script], onTestFinished);
    await program.printed("stuck");
    program.send("SIGUSR2");
    await program.printed("dumped");
    program.send("SIGTERM");
    const { stderr } = await program.ended;
    expect(stderr).toContain("weft: SIGUSR2 — the run's tasks");
    expect(stderr).toMatch(/- task "stuck worker": blocked in sleep for \d+/);
  });

  test("dumpTasksOn must name a catchable signal", async () => {
    await expectRejects(
      () => run(async () => {}, { dumpTasksOn: "SIGNOPE" as NodeJS.Signals }),
      RangeError,
      /options\.dumpTasksOn/,
    );
    await expectRejects(
      () => run(async () => {}, { dumpTasksOn: "SIGKILL" }),
      RangeError,
      /options\.dumpTasksOn/,
    );
  });
});
