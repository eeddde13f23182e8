import { preferEventOverPolling } from "../src/rules/prefer-event-over-polling.ts";
import { ruleTester } from "./rule-tester.ts";

const weft = 'import { checkpoint, sleep, sleepUntil } from "@weft/core";\n';
const state = "declare const state: { ready: boolean; status: string; done?: boolean };\n";

ruleTester.run("prefer-event-over-polling", preferEventOverPolling, {
  valid: [
    // A user's own sleep.
    "declare let ready: boolean; async function sleep(ms: number) {} async function f() { while (!ready) await sleep(10); }",
    // The condition is a call (a clock, a probe): not a flag someone sets.
    `${weft}async function f(end: number) { while (Date.now() < end) await sleep(10); }`,
    `${weft}declare function isReady(): boolean; async function f() { while (!isReady()) await sleep(10); }`,
    // The loop does work besides sleeping: a periodic job with a stop flag.
    `${weft}${state}declare function tick(): void; async function f() { while (!state.done) { tick(); await sleep(1000); } }`,
    `${weft}declare let remaining: number; async function f() { while (remaining > 0) { remaining--; await sleep(1000); } }`,
    // Another await in the loop: it waits on something real.
    `${weft}${state}declare function poll(): Promise<void>; async function f() { while (!state.ready) { await poll(); await sleep(10); } }`,
    `${weft}${state}async function f() { while (!state.ready) { await checkpoint(); await sleep(10); } }`,
    // No sleep at all.
    `${weft}${state}async function f() { while (!state.ready) { await checkpoint(); } }`,
    // A counter loop with a flag: a bounded retry.
    `${weft}${state}async function f() { for (let i = 0; i < 10 && !state.ready; i++) await sleep(10); }`,
    // Forever loops without a flag exit.
    `${weft}async function f() { for (;;) { await sleep(1000); } }`,
    `${weft}declare function done(): boolean; async function f() { while (true) { if (done()) break; await sleep(10); } }`,
    // An exit that does more than break.
    `${weft}${state}async function f() { while (true) { if (state.ready) { console.log("ready"); break; } await sleep(10); } }`,
    // Assignments and updates are not flag reads.
    `${weft}declare let n: number; async function f() { while (n++ < 5) await sleep(10); }`,
    // sleepUntil is not sleep (a deadline wait, not a poll).
    `${weft}${state}async function f(t: number) { while (!state.ready) await sleepUntil(t); }`,
    // The sleep is in a nested function, not awaited by the loop.
    `${weft}${state}async function f() { while (!state.ready) { setTimeout(async () => { await sleep(1); }); } }`,
  ],
  invalid: [
    {
      code: `${weft}declare let ready: boolean; async function f() { while (!ready) await sleep(10); }`,
      errors: [{ messageId: "polling", data: { flag: "!ready" } }],
    },
    {
      code: `${weft}${state}async function f() { while (state.status !== "open") { await sleep(50); } }`,
      errors: [{ messageId: "polling", data: { flag: 'state.status !== "open"' } }],
    },
    {
      // The flag in an `if (...) break`, in a forever loop; an aliased sleep.
      code: 'import { sleep as nap } from "@weft/core";\ndeclare const state: { ready: boolean };\nconst f = async () => { while (true) { if (state.ready) break; await nap(5); } };',
      errors: [{ messageId: "polling", data: { flag: "state.ready" } }],
    },
    {
      code: `${weft}class Waiter { done = false; async wait() { for (;;) { await sleep(5); if (this.done) { return; } } } }`,
      errors: [{ messageId: "polling", data: { flag: "this.done" } }],
    },
    {
      code: `${weft}${state}async function f() { do { await sleep(10); } while (!state.ready && state.status === "starting"); }`,
      errors: [
        { messageId: "polling", data: { flag: '!state.ready && state.status === "starting"' } },
      ],
    },
    {
      // Optional chaining and a non-null assertion are still plain reads.
      code: `${weft}declare const conn: { state?: { open: boolean } } | undefined; async function f() { while (!conn?.state!.open) await sleep(10); }`,
      errors: [{ messageId: "polling", data: { flag: "!conn?.state!.open" } }],
    },
  ],
});
