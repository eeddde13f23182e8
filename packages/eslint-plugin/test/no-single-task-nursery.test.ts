import { noSingleTaskNursery } from "../src/rules/no-single-task-nursery.ts";
import { ruleTester } from "./rule-tester.ts";

const core =
  'import { openNursery, sleep } from "@weft/core";\ndeclare function work(): Promise<void>;\n';

ruleTester.run("no-single-task-nursery", noSingleTaskNursery, {
  valid: [
    `${core}await openNursery(async (n) => { n.startSoon(work); n.startSoon(work); });`,
    `${core}await openNursery(async (n) => { n.startSoon(work); await sleep(1); });`,
    // A nested function that is not a task: two statements.
    `${core}await openNursery(async (n) => { const helper = () => work(); n.startSoon(helper); });`,
    // The child uses the nursery: it may start more tasks.
    `${core}await openNursery(async (n) => { n.startSoon(async () => { n.startSoon(work); await work(); }); });`,
    `${core}declare function child(n: unknown): Promise<void>;\nawait openNursery(async (n) => { n.startSoon(() => child(n)); });`,
    // Not the nursery's startSoon.
    `${core}declare const other: { startSoon(fn: () => Promise<void>): void };\nawait openNursery(async (n) => { other.startSoon(work); });`,
    // A user's own openNursery.
    "declare function work(): Promise<void>;\nasync function openNursery(body: (n: { startSoon(fn: () => Promise<void>): void }) => Promise<void>) {}\nawait openNursery(async (n) => { n.startSoon(work); });",
    // Nothing started, or the body is not a function literal.
    `${core}await openNursery(async (n) => {});`,
    `${core}declare const body: (n: any) => Promise<void>;\nawait openNursery(body);`,
  ],
  invalid: [
    {
      code: `${core}await openNursery(async (n) => { n.startSoon(work); });`,
      errors: [
        {
          messageId: "singleTask",
          suggestions: [
            { messageId: "callDirectly", data: { call: "work()" }, output: `${core}await work();` },
          ],
        },
      ],
    },
    {
      // An arrow without parameters; the start awaited (an await of nothing).
      code: `${core}await openNursery(async (nursery) => { await nursery.startSoon(() => sleep(10)); });`,
      errors: [
        {
          messageId: "singleTask",
          suggestions: [
            {
              messageId: "callDirectly",
              data: { call: "sleep(10)" },
              output: `${core}await sleep(10);`,
            },
          ],
        },
      ],
    },
    {
      // An async arrow awaiting its call; the nursery body with an expression body.
      code: `${core}await openNursery(async (n) => n.startSoon(async () => await work()));`,
      errors: [
        {
          messageId: "singleTask",
          suggestions: [
            { messageId: "callDirectly", data: { call: "work()" }, output: `${core}await work();` },
          ],
        },
      ],
    },
    {
      // Aliased import, a function expression: no suggestion for a block-bodied child.
      code: 'import { openNursery as within } from "@weft/core";\nawait within(async function (n) { n.startSoon(async () => { await Promise.resolve(); }); });',
      errors: [{ messageId: "singleTask", suggestions: [] }],
    },
    {
      // Through a user's re-export.
      code: 'import { withNursery } from "./reexported-weft.ts";\ndeclare function work(): Promise<void>;\nasync function main() { await withNursery(async (n) => { n.startSoon(work); }); }',
      errors: [
        {
          messageId: "singleTask",
          suggestions: [
            {
              messageId: "callDirectly",
              output:
                'import { withNursery } from "./reexported-weft.ts";\ndeclare function work(): Promise<void>;\nasync function main() { await work(); }',
            },
          ],
        },
      ],
    },
    {
      // The nursery's result is used, or options are given: reported, no suggestion.
      code: `${core}const result = await openNursery(async (n) => { n.startSoon(work); });`,
      errors: [{ messageId: "singleTask", suggestions: [] }],
    },
    {
      code: `${core}await openNursery(async (n) => { n.startSoon(work, { name: "worker" }); });`,
      errors: [{ messageId: "singleTask", suggestions: [] }],
    },
    {
      code: `${core}await openNursery(async (n) => { n.startSoon(work); }, { strictErrors: true });`,
      errors: [{ messageId: "singleTask", suggestions: [] }],
    },
    {
      // The task's own nested nursery, inside an outer one that is fine.
      code: `${core}await openNursery(async (outer) => {\n  outer.startSoon(work);\n  outer.startSoon(async () => { await openNursery(async (inner) => { inner.startSoon(work); }); });\n});`,
      errors: [
        {
          messageId: "singleTask",
          suggestions: [
            {
              messageId: "callDirectly",
              output: `${core}await openNursery(async (outer) => {\n  outer.startSoon(work);\n  outer.startSoon(async () => { await work(); });\n});`,
            },
          ],
        },
      ],
    },
  ],
});
