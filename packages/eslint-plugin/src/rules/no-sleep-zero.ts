/**
 * `sleep(0)` where `checkpoint()` is meant: both let other tasks run, but
 * `sleep(0)` says "wait for a time", goes through the deadline machinery,
 * and reads as a mistake. A suggestion (not an autofix) replaces the call
 * with `checkpoint()`, which may still need importing.
 */
import { AST_NODE_TYPES } from "@typescript-eslint/utils";
import { createRule } from "../create-rule.ts";
import { weftCallee } from "../weft-symbols.ts";

export const noSleepZero = createRule({
  name: "no-sleep-zero",
  meta: {
    type: "suggestion",
    docs: {
      description: "Disallow `sleep(0)` from weft: use `checkpoint()` to let other tasks run",
      recommended: true,
      requiresTypeChecking: true,
    },
    hasSuggestions: true,
    messages: {
      sleepZero: "`sleep(0)` only yields to other tasks: call `checkpoint()`, which says so.",
      useCheckpoint: "Replace with `checkpoint()`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        const [argument] = node.arguments;
        if (
          node.arguments.length !== 1 ||
          argument?.type !== AST_NODE_TYPES.Literal ||
          argument.value !== 0
        ) {
          return;
        }
        const callee = weftCallee(context, node);
        if (callee?.name !== "sleep" || callee.package !== "@weft/core") return;
        context.report({
          node,
          messageId: "sleepZero",
          // A suggestion, not a fix: `checkpoint` may need importing.
          suggest: [
            {
              messageId: "useCheckpoint",
              fix: (fixer) => fixer.replaceText(node, "checkpoint()"),
            },
          ],
        });
      },
    };
  },
});
