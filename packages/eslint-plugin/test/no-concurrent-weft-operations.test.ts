import { noConcurrentWeftOperations } from "../src/rules/no-concurrent-weft-operations.ts";
import { ruleTester } from "./rule-tester.ts";

const core =
  'import { gather, Lock, mapConcurrent, openMemoryChannel, openNursery, sleep } from "@weft/core";\n';

ruleTester.run("no-concurrent-weft-operations", noConcurrentWeftOperations, {
  valid: [
    // The weft ways.
    `${core}await gather(() => sleep(1), () => sleep(2));`,
    `${core}await mapConcurrent([1, 2], (ms) => sleep(ms), { limit: 2 });`,
    `${core}await openNursery(async (n) => { n.startSoon(() => sleep(1)); n.startSoon(() => sleep(2)); });`,
    // One weft operation alongside other promises is one operation at a time.
    `${core}await Promise.all([sleep(1), fetch("https://example.com")]);`,
    `${core}await Promise.race([sleep(1)]);`,
    // Not weft: a user's own sleep, another library's promises.
    "async function sleep(ms: number) {}\nawait Promise.all([sleep(1), sleep(2)]);",
    'await Promise.all(["a", "b"].map((url) => fetch(url)));',
    // A .map whose callback does more than return the operation is not this rule's business.
    `${core}await Promise.all([1, 2].map((ms) => { const x = ms * 2; return sleep(x); }));`,
    // Not a promise: startSoon returns void.
    `${core}await openNursery(async (n) => { await Promise.all([n.startSoon(async () => {}), n.startSoon(async () => {})]); });`,
    // A user's own Promise.
    `${core}const Promise = { all: (xs: unknown[]) => xs };\nPromise.all([sleep(1), sleep(2)]);`,
    // Functions that start operations later are not operations.
    `${core}await Promise.all([() => sleep(1), () => sleep(2)]);`,
  ],
  invalid: [
    {
      code: `${core}await Promise.all([sleep(1), sleep(2)]);`,
      errors: [{ messageId: "concurrent", data: { method: "all", count: 2, names: "sleep" } }],
    },
    {
      code: `${core}const lock = new Lock();\nconst [send] = openMemoryChannel<number>(1);\nawait Promise.race([lock.acquire(), send.send(1), fetch("x")]);`,
      errors: [
        { messageId: "concurrent", data: { method: "race", count: 2, names: "acquire`, `send" } },
      ],
    },
    {
      // Aliased import, allSettled, awaited elements.
      code: 'import { sleep as nap } from "@weft/core";\nasync function f() { await Promise.allSettled([nap(1), nap(2), nap(3)]); }',
      errors: [
        { messageId: "concurrent", data: { method: "allSettled", count: 3, names: "sleep" } },
      ],
    },
    {
      // Through a user's re-export.
      code: 'import { doze } from "./reexported-weft.ts";\nawait Promise.any([doze(1), doze(2)]);',
      errors: [{ messageId: "concurrent", data: { method: "any", count: 2, names: "sleep" } }],
    },
    {
      code: `${core}await Promise.all([1, 2].map((ms) => sleep(ms)));`,
      errors: [{ messageId: "concurrentMap", data: { method: "all", name: "sleep" } }],
    },
    {
      code: `${core}const [send] = openMemoryChannel<number>(1);\nawait Promise.all([1, 2].map(async (x) => await send.send(x)));`,
      errors: [{ messageId: "concurrentMap", data: { method: "all", name: "send" } }],
    },
    {
      code: `${core}await Promise.allSettled([1, 2].map(function (ms) { return sleep(ms); }));`,
      errors: [{ messageId: "concurrentMap", data: { method: "allSettled", name: "sleep" } }],
    },
    {
      // Inside a task of a nursery: still one task.
      code: `${core}await openNursery(async (n) => { n.startSoon(async () => { await Promise.all([sleep(1), sleep(2)]); }); });`,
      errors: [{ messageId: "concurrent" }],
    },
  ],
});
