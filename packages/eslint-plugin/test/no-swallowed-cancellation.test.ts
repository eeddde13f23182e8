import { noSwallowedCancellation } from "../src/rules/no-swallowed-cancellation.ts";
import { ruleTester } from "./rule-tester.ts";

const imports =
  'import { Cancelled, Event, isCancelled, isCancelled as cancelled, openNursery, sleep } from "@weft/core";\n';

ruleTester.run("no-swallowed-cancellation", noSwallowedCancellation, {
  valid: [
    // Stored to be handed on later: not swallowed here.
    'import { sleep } from "@weft/core"; let failure: unknown = null; async function f() { try { await sleep(1); } catch (error) { failure = error; } }',
    'import { sleep } from "@weft/core"; let outcome = {}; async function f() { try { await sleep(1); } catch (error) { outcome = { failed: true, value: error }; } }',
    // run() is not an operation of a task: no Cancelled escapes it.
    'import { run, sleep } from "@weft/core"; try { await run(() => sleep(1)); } catch (error) { console.log(error); }',
    // Checks for cancellation first.
    `${imports}try { await sleep(1); } catch (e) { if (isCancelled(e)) throw e; console.log(e); }`,
    // Through an alias.
    `${imports}try { await sleep(1); } catch (e) { if (cancelled(e)) throw e; }`,
    `${imports}try { await sleep(1); } catch (e) { if (e instanceof Cancelled) throw e; log(e); } declare function log(e: unknown): void;`,
    // Rethrows whatever it is not about.
    `${imports}try { await sleep(1); } catch (e) { if (!(e instanceof TypeError)) throw e; }`,
    // An unconditional throw (wrapping) lets it through.
    `${imports}try { await sleep(1); } catch (e) { console.log(e); throw new Error("wrapped", { cause: e }); }`,
    `${imports}try { await sleep(1); } catch { throw new Error("failed"); }`,
    // Only passes the error on: the helper may rethrow.
    `${imports}declare function report(e: unknown): void; try { await sleep(1); } catch (e) { report(e); }`,
    `${imports}declare function report(e: unknown): Promise<void>; try { await sleep(1); } catch (e) { await report(e); }`,
    // No weft operation awaited in the try block.
    "async function work() {} try { await work(); } catch {}",
    // A user's own sleep is not weft's.
    "async function sleep(ms: number) {} try { await sleep(1); } catch (e) { console.log(e); }",
    // A weft call that is not awaited: its rejection is not caught here.
    `${imports}try { void sleep(1); } catch {}`,
    // Nested functions are not the try block's operations.
    `${imports}try { const later = async () => { await sleep(1); }; void later; } catch {}`,
    // try/finally without catch.
    `${imports}try { await sleep(1); } finally { console.log("done"); }`,
    // .catch handlers that let cancellation through, or that we cannot see.
    `${imports}void sleep(1).catch((e) => { if (isCancelled(e)) throw e; });`,
    `${imports}declare function handle(e: unknown): void; void sleep(1).catch(handle);`,
    `${imports}declare function handle(e: unknown): void; void sleep(1).catch((e) => handle(e));`,
    `${imports}void sleep(1).catch((e) => { throw e; });`,
    // .catch on a promise that is not weft's.
    "declare const p: Promise<void>; void p.catch(() => {});",
  ],
  invalid: [
    // A check that guards no throw still swallows the cancellation.
    {
      code: `${imports}try { await sleep(1); } catch (e) { if (isCancelled(e)) return; console.log(e); }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      code: `${imports}try { await sleep(1); } catch (e) { if (!isCancelled(e)) console.log(e); }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    // Keeping a description is not handing the error on.
    {
      code: `${imports}let m = ""; try { await sleep(1); } catch (e) { m = String(e); }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      // CancelScope#run is an operation: its Cancelled can be swallowed.
      code: 'import { CancelScope, sleep } from "@weft/core"; async function f() { try { await new CancelScope().run(() => sleep(1)); } catch (error) { console.log(error); } }',
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      code: `${imports}try { await sleep(1); } catch (e) { console.log(e); }`,
      errors: [{ messageId: "swallowedTry", data: { operation: "sleep" } }],
    },
    {
      // catch without a binding.
      code: `${imports}try { await sleep(1); } catch {}`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      // A method of a weft class.
      code: `${imports}const event = new Event(); try { await event.wait(); } catch {}`,
      errors: [{ messageId: "swallowedTry", data: { operation: "wait" } }],
    },
    {
      // Awaited deep inside the block, and a nursery.
      code: `${imports}try { if (Math.random() > 0.5) { for (;;) { await openNursery(async () => {}); } } } catch (e) { console.log(e); }`,
      errors: [{ messageId: "swallowedTry", data: { operation: "openNursery" } }],
    },
    {
      // A conditional rethrow of something else is not a rethrow.
      code: `${imports}try { await sleep(1); } catch (e) { if (e instanceof TypeError) throw new Error("bad"); }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      // The error passed on, but followed by more: the handler goes on regardless.
      code: `${imports}declare function report(e: unknown): void; try { await sleep(1); } catch (e) { report(e); return; }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      // A user's own isCancelled is not weft's.
      code: `import { sleep } from "@weft/core"; function isCancelled(e: unknown) { return false; } try { await sleep(1); } catch (e) { if (isCancelled(e)) console.log(e); }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      // A throw inside a nested function does not rethrow.
      code: `${imports}try { await sleep(1); } catch (e) { setTimeout(() => { throw e; }); }`,
      errors: [{ messageId: "swallowedTry" }],
    },
    {
      // Aliased and cast.
      code: 'import { sleep as nap } from "@weft/core"; try { await (nap(1) as Promise<void>); } catch {}',
      errors: [{ messageId: "swallowedTry", data: { operation: "sleep" } }],
    },
    {
      code: `${imports}void sleep(1).catch(() => {});`,
      errors: [{ messageId: "swallowedPromise", data: { operation: "sleep" } }],
    },
    {
      code: `${imports}void sleep(1).catch((e) => console.log("ignored"));`,
      errors: [{ messageId: "swallowedPromise" }],
    },
    {
      code: `${imports}await sleep(1).catch(function (e) { console.log(e); });`,
      errors: [{ messageId: "swallowedPromise" }],
    },
  ],
});
