/**
 * A `yield` inside the body of a weft nursery, timeout or cancel scope: the
 * scope stays open while the generator is suspended, so it wraps the
 * consumer's code — a timeout cancels the consumer's unrelated work, and
 * scopes no longer exit in the order they were entered. `generatorChannel`
 * runs the generator in a task of its own instead.
 */
import type { TSESTree } from "@typescript-eslint/utils";
import { createRule } from "../create-rule.ts";
import { isFunction, scopeBodyOf } from "../scope-bodies.ts";

export const noYieldInCancelScope = createRule({
  name: "no-yield-in-cancel-scope",
  meta: {
    type: "problem",
    docs: {
      description:
        "Disallow `yield` inside the body of a weft nursery, timeout or cancel scope: use `generatorChannel`",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      yieldInScope:
        "`yield` inside the body of `{{scope}}` suspends the generator with the scope still open, around the consumer's code. Run the generator with `generatorChannel(source, body)`, which gives it a task of its own.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      YieldExpression(node) {
        let fn: TSESTree.Node | null | undefined = node.parent;
        while (fn != null && !isFunction(fn)) fn = fn.parent;
        if (fn == null || !isFunction(fn)) return;
        const scope = scopeBodyOf(context, fn);
        if (scope === null) return;
        context.report({
          node,
          messageId: "yieldInScope",
          data: {
            scope:
              scope.kind === "nursery"
                ? "openNursery"
                : scope.kind === "timeout"
                  ? scope.name
                  : "CancelScope.run",
          },
        });
      },
    };
  },
});
