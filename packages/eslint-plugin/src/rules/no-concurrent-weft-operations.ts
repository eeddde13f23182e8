/**
 * Two or more weft operations started at once in one task, through the
 * promise combinators: `Promise.all([sleep(1), sleep(2)])`, or
 * `Promise.all(items.map((x) => channel.send(x)))`. A weft task runs one
 * operation at a time and refuses a second while one is pending; running
 * operations concurrently takes tasks: `gather`, `race`, `mapConcurrent`,
 * or a nursery.
 */
import { AST_NODE_TYPES, type TSESLint, type TSESTree } from "@typescript-eslint/utils";
import { createRule } from "../create-rule.ts";
import { callOf, weftPromiseCallee } from "../weft-promise-call.ts";
import type { WeftSymbol } from "../weft-symbols.ts";

const COMBINATORS = new Set(["all", "allSettled", "race", "any"]);

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

/** The weft operation `expression` starts (`op()` or `await op()`), or null. */
function weftOperation(
  context: Context,
  expression: TSESTree.Node | null | undefined,
): WeftSymbol | null {
  if (expression == null) return null;
  const inner =
    expression.type === AST_NODE_TYPES.AwaitExpression ? expression.argument : expression;
  const call = callOf(inner);
  return call === null ? null : weftPromiseCallee(context, call);
}

/** The weft operation a `.map` callback directly returns (`(x) => op(x)`, `(x) => { return op(x); }`), or null. */
function mappedWeftOperation(context: Context, argument: TSESTree.Node): WeftSymbol | null {
  const call = callOf(argument);
  if (
    call === null ||
    call.callee.type !== AST_NODE_TYPES.MemberExpression ||
    call.callee.computed ||
    call.callee.property.type !== AST_NODE_TYPES.Identifier ||
    call.callee.property.name !== "map"
  ) {
    return null;
  }
  const [callback] = call.arguments;
  if (
    callback?.type !== AST_NODE_TYPES.ArrowFunctionExpression &&
    callback?.type !== AST_NODE_TYPES.FunctionExpression
  ) {
    return null;
  }
  if (callback.body.type !== AST_NODE_TYPES.BlockStatement)
    return weftOperation(context, callback.body);
  const statements = callback.body.body;
  const [only] = statements;
  if (statements.length !== 1 || only?.type !== AST_NODE_TYPES.ReturnStatement) return null;
  return weftOperation(context, only.argument);
}

/** Whether `identifier` (`Promise`) is the global, not a user's variable of that name. */
function isGlobal(context: Context, identifier: TSESTree.Identifier): boolean {
  const scope = context.sourceCode.getScope(identifier);
  const reference = scope.references.find((ref) => ref.identifier === identifier);
  return reference?.resolved == null || reference.resolved.defs.length === 0;
}

export const noConcurrentWeftOperations = createRule({
  name: "no-concurrent-weft-operations",
  meta: {
    type: "problem",
    docs: {
      description:
        "Disallow running weft operations concurrently in one task with `Promise.all`/`allSettled`/`race`/`any`: use `gather`, `race`, `mapConcurrent` or a nursery",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      concurrent:
        "`Promise.{{method}}` starts {{count}} weft operations (`{{names}}`) at once in this task, and a weft task refuses a second operation while one is pending. Run each in its own task: `gather(() => …, () => …)`, weft's `race`, or a nursery.",
      concurrentMap:
        "`Promise.{{method}}` over `.map(…)` starts one weft `{{name}}` per item at once in this task, and a weft task refuses a second operation while one is pending. Use `mapConcurrent(items, fn, { limit })` or start a task per item in a nursery.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      CallExpression(node) {
        const callee = node.callee;
        if (
          callee.type !== AST_NODE_TYPES.MemberExpression ||
          callee.computed ||
          callee.object.type !== AST_NODE_TYPES.Identifier ||
          callee.object.name !== "Promise" ||
          callee.property.type !== AST_NODE_TYPES.Identifier ||
          !COMBINATORS.has(callee.property.name) ||
          !isGlobal(context, callee.object)
        ) {
          return;
        }
        const method = callee.property.name;
        const [argument] = node.arguments;
        if (argument === undefined) return;
        if (argument.type === AST_NODE_TYPES.ArrayExpression) {
          const operations = argument.elements
            .map((element) => weftOperation(context, element))
            .filter((operation) => operation !== null);
          if (operations.length < 2) return;
          context.report({
            node,
            messageId: "concurrent",
            data: {
              method,
              count: operations.length,
              names: [...new Set(operations.map((operation) => operation.name))].join("`, `"),
            },
          });
          return;
        }
        const mapped = mappedWeftOperation(context, argument);
        if (mapped !== null) {
          context.report({ node, messageId: "concurrentMap", data: { method, name: mapped.name } });
        }
      },
    };
  },
});
