import { noHugeSleep } from "../src/rules/no-huge-sleep.ts";
import { ruleTester } from "./rule-tester.ts";

const core = 'import { sleep, sleepForever } from "@weft/core";\n';

function invalid(code: string, value: string, output: string) {
  return {
    code,
    errors: [
      {
        messageId: "hugeSleep" as const,
        data: { value },
        suggestions: [{ messageId: "useSleepForever" as const, output }],
      },
    ],
  };
}

ruleTester.run("no-huge-sleep", noHugeSleep, {
  valid: [
    `${core}await sleep(1000);`,
    `${core}await sleep(999_999_999);`,
    `${core}await sleepForever();`,
    // Not a constant.
    `${core}declare const ms: number;\nawait sleep(ms);`,
    // A user's own sleep is not weft's.
    "async function sleep(ms: number) {}\nawait sleep(Infinity);",
    // A user's own Infinity is a small number.
    `${core}const Infinity = 5;\nawait sleep(Infinity);`,
  ],
  invalid: [
    invalid(`${core}await sleep(1e9);`, "1e9", `${core}await sleepForever();`),
    invalid(
      `${core}await sleep(1_000_000_000_000);`,
      "1_000_000_000_000",
      `${core}await sleepForever();`,
    ),
    invalid(`${core}await sleep(Infinity);`, "Infinity", `${core}await sleepForever();`),
    invalid(
      `${core}await sleep(Number.MAX_SAFE_INTEGER);`,
      "Number.MAX_SAFE_INTEGER",
      `${core}await sleepForever();`,
    ),
    invalid(
      `${core}await sleep(Number.POSITIVE_INFINITY);`,
      "Number.POSITIVE_INFINITY",
      `${core}await sleepForever();`,
    ),
    // A constant, folded.
    invalid(
      `${core}const FOREVER = 2 ** 40;\nawait sleep(FOREVER);`,
      "FOREVER",
      `${core}const FOREVER = 2 ** 40;\nawait sleepForever();`,
    ),
    // Aliased import.
    invalid(
      'import { sleep as nap } from "@weft/core";\nawait nap(1e12);',
      "1e12",
      'import { sleep as nap } from "@weft/core";\nawait sleepForever();',
    ),
    // Namespace import: the suggestion keeps the namespace.
    invalid(
      'import * as weft from "@weft/core";\nawait weft.sleep(Infinity);',
      "Infinity",
      'import * as weft from "@weft/core";\nawait weft.sleepForever();',
    ),
    // Through a user's re-export.
    invalid(
      'import { doze } from "./reexported-weft.ts";\nawait doze(1e10);',
      "1e10",
      'import { doze } from "./reexported-weft.ts";\nawait sleepForever();',
    ),
  ],
});
