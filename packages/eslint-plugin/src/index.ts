/**
 * @weft/eslint-plugin: lint rules for weft's concurrency mistakes (ESLint 9+
 * flat config, type-aware through typescript-eslint).
 *
 * ```js
 * // eslint.config.js
 * import weft from "@weft/eslint-plugin";
 * export default [weft.configs.recommended];
 * ```
 *
 * @packageDocumentation
 */

import tsParser from "@typescript-eslint/parser";
import type { TSESLint } from "@typescript-eslint/utils";
import { rules } from "./rules/index.ts";

const plugin = {
  /** The plugin's name and version, as ESLint reports them. */
  meta: {
    /** `"@weft/eslint-plugin"`. */
    name: "@weft/eslint-plugin",
    /** The plugin's version. */
    version: "0.1.0",
  },
  /** Every rule, by name (`weft/<name>` in a config). */
  rules,
};

/** Every rule the plugin recommends, at "error". */
const recommendedRules: TSESLint.FlatConfig.Rules = Object.fromEntries(
  Object.entries(rules)
    .filter(([, rule]) => rule.meta.docs?.recommended === true)
    .map(([name]) => [`weft/${name}`, "error"]),
);

/**
 * The recommended config: the plugin, typescript-eslint's parser with the
 * project service (the rules need types), and the recommended rules, for
 * TypeScript files.
 */
const recommended: TSESLint.FlatConfig.Config = {
  name: "weft/recommended",
  files: ["**/*.ts", "**/*.tsx", "**/*.mts", "**/*.cts"],
  plugins: { weft: plugin as unknown as TSESLint.FlatConfig.Plugin },
  languageOptions: {
    parser: tsParser,
    parserOptions: { projectService: true },
  },
  rules: recommendedRules,
};

/**
 * The plugin (ESLint flat config): its rules, and `configs.recommended`, which turns on the
 * recommended ones at "error" for TypeScript files.
 */
export default {
  ...plugin,
  /** `recommended`: the plugin, the typescript-eslint parser and the recommended rules. */
  configs: { recommended },
};
export { rules };
