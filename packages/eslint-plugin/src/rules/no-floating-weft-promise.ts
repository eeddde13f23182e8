/**
 * A weft operation whose promise nobody awaits: `sleep(10);`,
 * `lock.acquire();`, `channel.send(x);` as statements. The operation starts,
 * the task runs on without waiting for it, and its error (a cancellation
 * included) is lost; weft also refuses the task's next operation while this
 * one is pending. Suggestion inside an async function: add `await`.
 */
import { inAsyncFunction } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { callOf, weftPromiseCallee } from "../weft-promise-call.ts";

export const noFloatingWeftPromise = createRule({
  name: "no-floating-weft-promise",
  meta: {
    type: "problem",
    docs: {
      description:
        "Require the promise of a weft operation (`sleep`, `lock.acquire()`, `channel.send()`…) to be awaited, returned or handled",
      recommended: true,
      requiresTypeChecking: true,
    },
    hasSuggestions: true,
    messages: {
      floating:
        "The promise of weft's `{{name}}` is neither awaited nor returned: the task does not wait for the operation, its errors (cancellation included) are lost, and weft refuses the task's next operation while it is pending. Add `await`.",
      addAwait: "Add `await`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      ExpressionStatement(statement) {
        const call = callOf(statement.expression);
        if (call === null) return;
        const callee = weftPromiseCallee(context, call);
        if (callee === null) return;
        context.report({
          node: statement.expression,
          messageId: "floating",
          data: { name: callee.name },
          suggest: inAsyncFunction(statement)
            ? [
                {
                  messageId: "addAwait",
                  fix: (fixer) => fixer.insertTextBefore(statement.expression, "await "),
                },
              ]
            : [],
        });
      },
    };
  },
});
