/**
 * The RuleTester every rule test uses: typescript-eslint's, on vitest, with
 * the TypeScript program of test/fixtures (where @weft/core resolves to this
 * repository's sources), so rules see weft's real types.
 */
import * as path from "node:path";
import { RuleTester } from "@typescript-eslint/rule-tester";
import { afterAll, describe, it } from "vitest";

RuleTester.afterAll = afterAll;
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

/** The directory of the fixtures' tsconfig.json. */
export const fixtures = path.join(import.meta.dirname, "fixtures");

export const ruleTester = new RuleTester({
  languageOptions: {
    parserOptions: {
      projectService: true,
      tsconfigRootDir: fixtures,
    },
  },
});
