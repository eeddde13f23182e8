import { noUnboundedCleanup } from "../src/rules/no-unbounded-cleanup.ts";
import { ruleTester } from "./rule-tester.ts";

const imports =
  'import { CancelScope, Event, failAfter, failAt, moveOnAfter, moveOnAt, openMemoryChannel, openNursery, sleep } from "@weft/core";\n';

ruleTester.run("no-unbounded-cleanup", noUnboundedCleanup, {
  valid: [
    // Cleanup inside a shielded timeout's body is shielded and bounded by it.
    `${imports}async function f() { await moveOnAfter(1000, async () => { try { await sleep(1); } finally { await sleep(10); } }, { shield: true }); }`,
    // A catch that handles the error and goes on (a retry's backoff) is not cleanup.
    `${imports}async function f() { for (;;) { try { await sleep(1); return; } catch (e) { await sleep(100); } } }`,
    // A forceful close never waits.
    'import { acloseForcefully } from "@weft/core/streams"; import { openTcpStream } from "@weft/net"; async function f() { const s = await openTcpStream("h", 1); try { await s.sendAll(new Uint8Array(1)); } finally { await acloseForcefully(s); } }',
    // Bounded by a timeout (shielded or not, the rule accepts any of weft's four).
    `${imports}async function f() { try { await sleep(1); } finally { await moveOnAfter(1000, async () => { await sleep(10); }, { shield: true }); } }`,
    `${imports}async function f() { try { await sleep(1); } finally { await failAfter(1000, async () => { await sleep(10); }); } }`,
    `${imports}async function f() { try { await sleep(1); } finally { await moveOnAt(5, async () => { await sleep(10); }); await failAt(5, async () => { await sleep(10); }); } }`,
    // A shielded CancelScope, directly or through a const.
    `${imports}async function f() { try { await sleep(1); } finally { await new CancelScope({ shield: true }).run(async () => { await sleep(10); }); } }`,
    `${imports}async function f() { const shield = new CancelScope({ shield: true }); try { await sleep(1); } finally { await shield.run(async () => { await sleep(10); }); } }`,
    // A CancelScope with a deadline is a timeout.
    `${imports}async function f() { try { await sleep(1); } finally { await new CancelScope({ relativeDeadline: 100 }).run(async () => { await sleep(10); }); } }`,
    // aclose of a weft resource is designed to work in a cancelled scope.
    `${imports}async function f() { const [send] = openMemoryChannel<number>(0); try { await send.send(1); } finally { await send.aclose(); } }`,
    // Not weft's.
    "async function sleep(ms: number) {} async function f() { try { await sleep(1); } finally { await sleep(2); } }",
    // Weft awaits in the try block are not cleanup.
    `${imports}async function f() { try { await sleep(1); } catch (e) { throw e; } finally { console.log("done"); } }`,
    // A function defined in a finally is not the finally's code.
    `${imports}async function f() { try { await sleep(1); } finally { const later = async () => { await sleep(2); }; void later; } }`,
    // A weft call that is not awaited does not wait.
    `${imports}async function f() { try { await sleep(1); } finally { void sleep(2); } }`,
  ],
  invalid: [
    {
      code: `${imports}async function f() { try { await sleep(1); } finally { await sleep(100); } }`,
      errors: [{ messageId: "unbounded", data: { operation: "sleep", clause: "finally" } }],
    },
    {
      code: `${imports}async function f() { try { await sleep(1); } catch (e) { await sleep(100); throw e; } }`,
      errors: [{ messageId: "unbounded", data: { operation: "sleep", clause: "catch" } }],
    },
    {
      // A weft method, deep inside the finally (even inside a nested try).
      code: `${imports}async function f(event: Event) { try { await sleep(1); } finally { if (event) { try { await event.wait(); } catch {} } } }`,
      errors: [{ messageId: "unbounded", data: { operation: "wait", clause: "finally" } }],
    },
    {
      // An unshielded CancelScope without a deadline bounds nothing.
      code: `${imports}async function f() { try { await sleep(1); } finally { await new CancelScope().run(async () => { await sleep(10); }); } }`,
      errors: [{ messageId: "unbounded", data: { operation: "run", clause: "finally" } }],
    },
    {
      code: `${imports}async function f() { const scope = new CancelScope({ shield: false }); try { await sleep(1); } finally { await scope.run(async () => { await sleep(10); }); } }`,
      errors: [{ messageId: "unbounded", data: { operation: "run", clause: "finally" } }],
    },
    {
      // A nursery in a finally: the nursery itself is reported, not its body.
      code: `${imports}async function f() { try { await sleep(1); } finally { await openNursery(async () => { await sleep(10); }); } }`,
      errors: [{ messageId: "unbounded", data: { operation: "openNursery", clause: "finally" } }],
    },
    {
      // A finally inside a timeout's body is still cut short by that timeout.
      code: `${imports}async function f() { await moveOnAfter(10, async () => { try { await sleep(1); } finally { await sleep(5); } }); }`,
      errors: [{ messageId: "unbounded", data: { operation: "sleep", clause: "finally" } }],
    },
    {
      // Sending is not closing.
      code: `${imports}async function f() { const [send] = openMemoryChannel<number>(0); try { await sleep(1); } finally { await send.send(2); } }`,
      errors: [{ messageId: "unbounded", data: { operation: "send", clause: "finally" } }],
    },
    {
      // Aliased, at top level.
      code: 'import { sleep as nap } from "@weft/core"; try { await nap(1); } finally { await nap(2); }',
      errors: [{ messageId: "unbounded", data: { operation: "sleep", clause: "finally" } }],
    },
  ],
});
