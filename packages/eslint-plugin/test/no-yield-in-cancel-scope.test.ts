import { noYieldInCancelScope } from "../src/rules/no-yield-in-cancel-scope.ts";
import { ruleTester } from "./rule-tester.ts";

// A `yield` cannot cross a function boundary, so the bodies below are
// generator functions passed where weft expects an async function: the code
// does not type-check, but it parses, and it is what the rule is about.
const imports =
  'import { CancelScope, failAfter, failAt, generatorChannel, moveOnAfter, moveOnAt, openNursery, sleep } from "@weft/core";\n';

ruleTester.run("no-yield-in-cancel-scope", noYieldInCancelScope, {
  valid: [
    // Yielding outside any scope.
    `${imports}async function* ticks() { for (let i = 0; ; i++) { await sleep(10); yield i; } }`,
    // A scope that closes before the yield.
    `${imports}async function* ticks() { const value = await moveOnAfter(10, async () => 1); yield value; }`,
    // The right shape: the generator runs in its own task.
    `${imports}async function* ticks() { yield 1; } await generatorChannel(() => ticks(), async (values) => { for await (const v of values) console.log(v); });`,
    // A generator defined inside a scope body runs wherever it is iterated.
    `${imports}await openNursery(async () => { async function* inner() { yield 1; } for await (const v of inner()) console.log(v); });`,
    // Not weft's moveOnAfter.
    "declare function moveOnAfter(ms: number, body: () => AsyncGenerator<number>): void; moveOnAfter(10, async function* () { yield 1; });",
    // A generator passed to something else.
    `${imports}declare function consume(g: () => AsyncGenerator<number>): void; consume(async function* () { yield 1; });`,
  ],
  invalid: [
    {
      // The tempting shape: a generator that wraps its work in a timeout.
      code: `${imports}async function* f() { await moveOnAfter(1000, async function* () { yield 1; }); }`,
      errors: [{ messageId: "yieldInScope", data: { scope: "moveOnAfter" } }],
    },
    {
      code: `${imports}void openNursery(async function* (nursery) { nursery.startSoon(async () => {}); yield 1; yield* [2, 3]; });`,
      errors: [
        { messageId: "yieldInScope", data: { scope: "openNursery" } },
        { messageId: "yieldInScope", data: { scope: "openNursery" } },
      ],
    },
    {
      code: `${imports}void failAfter(10, async function* () { if (Math.random()) { for (;;) yield 1; } });`,
      errors: [{ messageId: "yieldInScope", data: { scope: "failAfter" } }],
    },
    {
      code: `${imports}void moveOnAt(10, async function* () { yield 1; }); void failAt(10, async function* () { yield 2; });`,
      errors: [
        { messageId: "yieldInScope", data: { scope: "moveOnAt" } },
        { messageId: "yieldInScope", data: { scope: "failAt" } },
      ],
    },
    {
      code: `${imports}const scope = new CancelScope(); void scope.run(async function* () { yield 1; });`,
      errors: [{ messageId: "yieldInScope", data: { scope: "CancelScope.run" } }],
    },
    {
      // Aliased.
      code: 'import { openNursery as nursery } from "@weft/core"; void nursery(async function* () { yield 1; });',
      errors: [{ messageId: "yieldInScope", data: { scope: "openNursery" } }],
    },
  ],
});
