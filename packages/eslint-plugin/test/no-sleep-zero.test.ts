import { noSleepZero } from "../src/rules/no-sleep-zero.ts";
import { ruleTester } from "./rule-tester.ts";

ruleTester.run("no-sleep-zero", noSleepZero, {
  valid: [
    'import { sleep } from "@weft/core"; await sleep(1);',
    'import { checkpoint } from "@weft/core"; await checkpoint();',
    // A user's own sleep is not weft's.
    "async function sleep(ms: number) {} await sleep(0);",
  ],
  invalid: [
    {
      code: 'import { sleep } from "@weft/core"; await sleep(0);',
      errors: [
        {
          messageId: "sleepZero",
          suggestions: [
            {
              messageId: "useCheckpoint",
              output: 'import { sleep } from "@weft/core"; await checkpoint();',
            },
          ],
        },
      ],
    },
    {
      // Aliased imports are followed.
      code: 'import { sleep as nap } from "@weft/core"; await nap(0);',
      errors: [
        {
          messageId: "sleepZero",
          suggestions: [
            {
              messageId: "useCheckpoint",
              output: 'import { sleep as nap } from "@weft/core"; await checkpoint();',
            },
          ],
        },
      ],
    },
  ],
});
