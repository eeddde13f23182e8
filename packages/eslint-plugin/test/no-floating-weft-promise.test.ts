import { noFloatingWeftPromise } from "../src/rules/no-floating-weft-promise.ts";
import { ruleTester } from "./rule-tester.ts";

const core = 'import { Lock, openMemoryChannel, openNursery, sleep } from "@weft/core";\n';

ruleTester.run("no-floating-weft-promise", noFloatingWeftPromise, {
  valid: [
    `${core}await sleep(10);`,
    `${core}async function f() { await sleep(10); }`,
    `${core}function f() { return sleep(10); }`,
    `${core}void sleep(10);`,
    `${core}const p = sleep(10);`,
    `${core}let p; p = sleep(10);`,
    `${core}sleep(10).then(() => {}, () => {});`,
    `${core}const lock = new Lock(); async function f() { await lock.acquire(); lock.release(); }`,
    // Not a promise: the types decide.
    `${core}const lock = new Lock(); lock.acquireNowait();`,
    `${core}await openNursery(async (n) => { n.startSoon(async () => {}); });`,
    // A user's own sleep is not weft's.
    "async function sleep(ms: number) {} sleep(10);",
    // A user's own object with a same-named method.
    "const lock = { acquire: async () => {} }; lock.acquire();",
    // Another library's promise is not this rule's business.
    "fetch('https://example.com');",
    `${core}const [send] = openMemoryChannel<number>(1); async function f() { await send.send(1); }`,
  ],
  invalid: [
    {
      code: `${core}sleep(10);`,
      // Top-level code is not in an async function: no suggestion.
      errors: [{ messageId: "floating", data: { name: "sleep" }, suggestions: [] }],
    },
    {
      code: `${core}async function f() { sleep(10); }`,
      errors: [
        {
          messageId: "floating",
          suggestions: [
            { messageId: "addAwait", output: `${core}async function f() { await sleep(10); }` },
          ],
        },
      ],
    },
    {
      // Aliased import.
      code: 'import { sleep as nap } from "@weft/core";\nconst f = async () => { nap(1); };',
      errors: [
        {
          messageId: "floating",
          data: { name: "sleep" },
          suggestions: [
            {
              messageId: "addAwait",
              output:
                'import { sleep as nap } from "@weft/core";\nconst f = async () => { await nap(1); };',
            },
          ],
        },
      ],
    },
    {
      // Through a user's re-export, under another name.
      code: 'import { doze, Mutex } from "./reexported-weft.ts";\nasync function f(m: Mutex) { doze(1); m.acquire(); }',
      errors: [
        {
          messageId: "floating",
          data: { name: "sleep" },
          suggestions: [
            {
              messageId: "addAwait",
              output:
                'import { doze, Mutex } from "./reexported-weft.ts";\nasync function f(m: Mutex) { await doze(1); m.acquire(); }',
            },
          ],
        },
        {
          messageId: "floating",
          data: { name: "acquire" },
          suggestions: [
            {
              messageId: "addAwait",
              output:
                'import { doze, Mutex } from "./reexported-weft.ts";\nasync function f(m: Mutex) { doze(1); await m.acquire(); }',
            },
          ],
        },
      ],
    },
    {
      // A channel's send, with optional chaining.
      code: `${core}const [send] = openMemoryChannel<number>(1);\nasync function f(s?: typeof send) { s?.send(1); }`,
      errors: [
        {
          messageId: "floating",
          data: { name: "send" },
          suggestions: [
            {
              messageId: "addAwait",
              output: `${core}const [send] = openMemoryChannel<number>(1);\nasync function f(s?: typeof send) { await s?.send(1); }`,
            },
          ],
        },
      ],
    },
    {
      // The nearest function decides: a plain callback inside an async function gets no suggestion.
      code: `${core}async function f() { [1].forEach((ms) => { sleep(ms); }); }`,
      errors: [{ messageId: "floating", suggestions: [] }],
    },
    {
      // Inside a task body.
      code: `${core}await openNursery(async (n) => { n.startSoon(async () => { sleep(5); }); });`,
      errors: [
        {
          messageId: "floating",
          suggestions: [
            {
              messageId: "addAwait",
              output: `${core}await openNursery(async (n) => { n.startSoon(async () => { await sleep(5); }); });`,
            },
          ],
        },
      ],
    },
  ],
});
