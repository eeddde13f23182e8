/**
 * The rule factory of this plugin: every rule's `docs.url` is docs/rules/<name>.md, a short page
 * that points to the rule's section of docs/guides/lint-rules.md (the full description).
 */
import { ESLintUtils } from "@typescript-eslint/utils";

/** Extra documentation metadata of a weft rule. */
export interface WeftRuleDocs {
  /** Whether the `recommended` config turns the rule on. */
  readonly recommended: boolean;
  /** Whether the rule needs type information (the TypeScript program). */
  readonly requiresTypeChecking: boolean;
}

export const createRule = ESLintUtils.RuleCreator<WeftRuleDocs>(
  (name) =>
    `https://github.com/weft-js/weft/blob/main/packages/eslint-plugin/docs/rules/${name}.md`,
);
