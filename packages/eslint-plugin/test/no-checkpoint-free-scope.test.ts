import { noCheckpointFreeScope } from "../src/rules/no-checkpoint-free-scope.ts";
import { ruleTester } from "./rule-tester.ts";

const imports =
  'import { CancelScope, checkpoint, failAfter, failAt, moveOnAfter, moveOnAt, openNursery, sleep } from "@weft/core";\n';

ruleTester.run("no-checkpoint-free-scope", noCheckpointFreeScope, {
  valid: [
    // A body that awaits has checkpoints.
    `${imports}async function f() { await moveOnAfter(100, async () => { await sleep(10); }); }`,
    `${imports}async function f() { await failAfter(100, async () => { for (let i = 0; i < 3; i++) { work(); await checkpoint(); } }); } function work() {}`,
    // An await anywhere in the body's own code, however deep.
    `${imports}async function f(x: boolean) { await failAt(5, async () => { if (x) { try { await sleep(1); } finally {} } }); }`,
    // for await is a checkpoint.
    `${imports}async function f(xs: AsyncIterable<number>) { await moveOnAt(5, async () => { for await (const x of xs) { void x; } }); }`,
    // An expression body that is a promise: the scope awaits it.
    `${imports}async function f() { await moveOnAfter(100, () => sleep(10)); }`,
    `${imports}async function fetchThing(): Promise<number> { return 1; } async function f() { await failAfter(100, () => fetchThing()); }`,
    // An async arrow whose expression body is a promise (adopted by the async function's promise).
    `${imports}async function f() { await moveOnAfter(100, async () => sleep(10)); }`,
    `${imports}async function f() { await moveOnAfter(100, async () => await sleep(10)); }`,
    // A block body that returns a promise.
    `${imports}async function f() { await failAfter(100, () => { const ms = 10; return sleep(ms); }); }`,
    // CancelScope#run with an await.
    `${imports}async function f() { await new CancelScope({ relativeDeadline: 100 }).run(async () => { await sleep(10); }); }`,
    `${imports}async function f() { const scope = new CancelScope(); await scope.run(async (s) => { await sleep(10); s.cancel(); }); }`,
    // Aliased import, with an await.
    'import { moveOnAfter as within, sleep } from "@weft/core"; async function f() { await within(100, async () => { await sleep(1); }); }',
    // A nursery body is not checked (it waits for its tasks).
    `${imports}async function f() { await openNursery(async (n) => { n.startSoon(async () => { await sleep(1); }); }); }`,
    // Not weft's.
    "async function moveOnAfter(ms: number, fn: () => Promise<void>) { await fn(); } async function f() { await moveOnAfter(100, async () => { compute(); }); } function compute() {}",
    // A function passed elsewhere, not as the body.
    `${imports}async function f() { const body = async () => { compute(); }; await moveOnAfter(100, body); } function compute() {}`,
  ],
  invalid: [
    {
      code: `${imports}async function f() { await moveOnAfter(100, async () => { compute(); }); } function compute() {}`,
      errors: [{ messageId: "checkpointFree", data: { scope: "moveOnAfter" } }],
    },
    {
      // Every timeout, and a function expression.
      code: `${imports}async function f() { await failAfter(1, async function () { let n = 0; while (n < 1e9) n++; }); await moveOnAt(1, async () => {}); await failAt(1, async () => { return 1; }); }`,
      errors: [
        { messageId: "checkpointFree", data: { scope: "failAfter" } },
        { messageId: "checkpointFree", data: { scope: "moveOnAt" } },
        { messageId: "checkpointFree", data: { scope: "failAt" } },
      ],
    },
    {
      // Awaits in nested functions are not the body's.
      code: `${imports}async function f() { await moveOnAfter(100, async () => { const later = async () => { await sleep(1); }; void later; [1].forEach(async () => { await sleep(1); }); class C { async m() { await sleep(1); } } void C; }); }`,
      errors: [{ messageId: "checkpointFree" }],
    },
    {
      // An async arrow whose expression body is not a promise.
      code: `${imports}async function f() { await moveOnAfter(100, async () => compute()); } function compute(): number { return 1; }`,
      errors: [{ messageId: "checkpointFree" }],
    },
    {
      // A sync callback returning a non-promise (a type error too, but it compiles as JS).
      code: `${imports}async function f() { await failAfter(100, () => compute()); } function compute(): number { return 1; }`,
      errors: [{ messageId: "checkpointFree" }],
    },
    {
      // Aliased import.
      code: 'import { failAfter as deadline } from "@weft/core"; async function f() { await deadline(100, async () => { console.log("no await"); }); }',
      errors: [{ messageId: "checkpointFree", data: { scope: "failAfter" } }],
    },
    {
      // CancelScope#run, directly and through a const.
      code: `${imports}async function f() { await new CancelScope({ relativeDeadline: 5 }).run(async () => { compute(); }); const scope = new CancelScope(); await scope.run(async () => {}); } function compute() {}`,
      errors: [
        { messageId: "checkpointFree", data: { scope: "CancelScope#run" } },
        { messageId: "checkpointFree", data: { scope: "CancelScope#run" } },
      ],
    },
  ],
});
