/**
 * `sleep(n)` with a constant `n` of a billion milliseconds or more (about
 * 11.6 days), `Infinity` or `Number.MAX_SAFE_INTEGER`: a way of saying
 * "forever" that hides it behind a number. Suggestion: `sleepForever()`.
 */
import { AST_NODE_TYPES, ASTUtils } from "@typescript-eslint/utils";
import { createRule } from "../create-rule.ts";
import { weftCallee } from "../weft-symbols.ts";

/** From this many milliseconds on (≈ 11.6 days), a sleep means "forever". */
export const HUGE_SLEEP_MS = 1e9;

export const noHugeSleep = createRule({
  name: "no-huge-sleep",
  meta: {
    type: "suggestion",
    docs: {
      description:
        "Disallow `sleep(n)` from weft with `n` ≥ 1e9 ms, `Infinity` or `Number.MAX_SAFE_INTEGER`: use `sleepForever()`",
      recommended: true,
      requiresTypeChecking: true,
    },
    hasSuggestions: true,
    messages: {
      hugeSleep:
        '`sleep({{value}})` means "forever": call `sleepForever()`, which says so (and whose type, `Promise<never>`, tells TypeScript that nothing after it runs).',
      useSleepForever: "Replace with `sleepForever()`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        const [argument] = node.arguments;
        if (node.arguments.length !== 1 || argument === undefined) return;
        if (argument.type === AST_NODE_TYPES.SpreadElement) return;
        const constant = ASTUtils.getStaticValue(argument, context.sourceCode.getScope(argument));
        if (
          constant === null ||
          typeof constant.value !== "number" ||
          !(constant.value >= HUGE_SLEEP_MS)
        )
          return;
        const callee = weftCallee(context, node);
        if (callee?.name !== "sleep" || callee.package !== "@weft/core") return;
        const replacement =
          node.callee.type === AST_NODE_TYPES.MemberExpression && !node.callee.computed
            ? `${context.sourceCode.getText(node.callee.object)}.sleepForever()`
            : "sleepForever()";
        context.report({
          node,
          messageId: "hugeSleep",
          data: { value: context.sourceCode.getText(argument) },
          // A suggestion, not a fix: `sleepForever` may need importing, and code after it becomes unreachable.
          suggest: [
            { messageId: "useSleepForever", fix: (fixer) => fixer.replaceText(node, replacement) },
          ],
        });
      },
    };
  },
});
