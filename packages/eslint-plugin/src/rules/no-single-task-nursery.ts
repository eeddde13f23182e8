/**
 * A nursery that starts exactly one task and does nothing else:
 * `await openNursery(async (n) => { n.startSoon(fn); })`. The body returns at
 * once and the nursery waits for its one child: that is `await fn()` with
 * more machinery and a task boundary in the traceback. Suggestion, where the
 * call is awaited as a statement and `fn` is an identifier or an arrow
 * without parameters and an expression body: `await fn()`.
 */
import { AST_NODE_TYPES, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { createRule } from "../create-rule.ts";
import { weftCallee } from "../weft-symbols.ts";

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

/** The only thing a nursery body does: a `startSoon` statement (awaited or not), or null. */
function onlyExpression(body: TSESTree.ArrowFunctionExpression | TSESTree.FunctionExpression) {
  if (body.body.type !== AST_NODE_TYPES.BlockStatement) return body.body;
  const statements = body.body.body;
  const [only] = statements;
  return statements.length === 1 && only?.type === AST_NODE_TYPES.ExpressionStatement
    ? only.expression
    : null;
}

/** The `n.startSoon(...)` call `expression` is (or awaits), with `n` the nursery parameter; null otherwise. */
function startSoonOf(
  context: Context,
  expression: TSESTree.Expression,
  nursery: TSESTree.Identifier,
): TSESTree.CallExpression | null {
  const call =
    expression.type === AST_NODE_TYPES.AwaitExpression ? expression.argument : expression;
  if (
    call.type !== AST_NODE_TYPES.CallExpression ||
    call.callee.type !== AST_NODE_TYPES.MemberExpression ||
    call.callee.object.type !== AST_NODE_TYPES.Identifier ||
    call.callee.object.name !== nursery.name
  ) {
    return null;
  }
  const callee = weftCallee(context, call);
  return callee?.name === "startSoon" && callee.package === "@weft/core" ? call : null;
}

/** The text calling `fn` directly (`fn()`, or an arrow's body call), or null if there is no plain one. */
function directCall(context: Context, fn: TSESTree.CallExpressionArgument): string | null {
  if (fn.type === AST_NODE_TYPES.Identifier) return `${fn.name}()`;
  if (
    fn.type !== AST_NODE_TYPES.ArrowFunctionExpression ||
    fn.params.length !== 0 ||
    fn.body.type === AST_NODE_TYPES.BlockStatement
  ) {
    return null;
  }
  const body = fn.body.type === AST_NODE_TYPES.AwaitExpression ? fn.body.argument : fn.body;
  return body.type === AST_NODE_TYPES.CallExpression ? context.sourceCode.getText(body) : null;
}

export const noSingleTaskNursery = createRule({
  name: "no-single-task-nursery",
  meta: {
    type: "suggestion",
    docs: {
      description: "Disallow a nursery whose body only starts one task: call the function instead",
      recommended: true,
      requiresTypeChecking: true,
    },
    hasSuggestions: true,
    messages: {
      singleTask:
        "This nursery only starts one task and waits for it: just call the function (`await fn()`), without the nursery.",
      callDirectly: "Replace the nursery with `await {{call}}`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        const [body] = node.arguments;
        if (
          (body?.type !== AST_NODE_TYPES.ArrowFunctionExpression &&
            body?.type !== AST_NODE_TYPES.FunctionExpression) ||
          body.params.length !== 1 ||
          body.params[0]?.type !== AST_NODE_TYPES.Identifier
        ) {
          return;
        }
        const nursery = body.params[0];
        const expression = onlyExpression(body);
        if (expression === null) return;
        const startSoon = startSoonOf(context, expression, nursery);
        if (startSoon === null) return;
        // The child may use the nursery (to start more tasks): then it is not one task.
        const variable = context.sourceCode
          .getDeclaredVariables(body)
          .find((v) => v.name === nursery.name);
        if (variable === undefined || variable.references.length !== 1) return;
        const callee = weftCallee(context, node);
        if (callee?.name !== "openNursery" || callee.package !== "@weft/core") return;

        const [fn] = startSoon.arguments;
        const call = fn === undefined ? null : directCall(context, fn);
        // Suggested only where nothing else changes: no options (strictErrors, a task name), and the
        // nursery's result (undefined) is not used.
        const suggestable =
          call !== null &&
          node.arguments.length === 1 &&
          startSoon.arguments.length === 1 &&
          node.parent.type === AST_NODE_TYPES.AwaitExpression &&
          node.parent.parent.type === AST_NODE_TYPES.ExpressionStatement;
        context.report({
          node,
          messageId: "singleTask",
          suggest:
            suggestable && call !== null
              ? [
                  {
                    messageId: "callDirectly",
                    data: { call },
                    fix: (fixer) => fixer.replaceText(node, call),
                  },
                ]
              : [],
        });
      },
    };
  },
});
