/**
 * A `catch` around awaited weft operations that neither rethrows nor checks
 * for cancellation swallows `Cancelled`: the cancelled task carries on as if
 * nothing happened, and its cancel scope never sees the error it waits for.
 */
import type { TSESLint, TSESTree } from "@typescript-eslint/utils";
import { AST_NODE_TYPES } from "@typescript-eslint/utils";
import { calledExpression } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { isFunction } from "../scope-bodies.ts";
import { weftCallee, weftSymbolOf } from "../weft-symbols.ts";

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

/** Calls every node under `root`, not entering nested functions (nor `root`'s own body if it is one). */
function walk(root: TSESTree.Node, visit: (node: TSESTree.Node) => void): void {
  const stack: TSESTree.Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as TSESTree.Node;
    visit(node);
    for (const [key, value] of Object.entries(node)) {
      if (key === "parent") continue;
      const children: unknown[] = Array.isArray(value) ? value : [value];
      for (const child of children) {
        if (
          child !== null &&
          typeof child === "object" &&
          typeof (child as { type?: unknown }).type === "string" &&
          !isFunction(child as TSESTree.Node)
        ) {
          stack.push(child as TSESTree.Node);
        }
      }
    }
  }
}

/** The first awaited weft call in `block` (nested functions are not the block's operations). */
function firstAwaitedWeftCall(
  context: Context,
  block: TSESTree.Node,
): TSESTree.CallExpression | null {
  let found: TSESTree.CallExpression | null = null;
  walk(block, (node) => {
    if (found !== null || node.type !== AST_NODE_TYPES.AwaitExpression) return;
    const call = calledExpression(node.argument);
    if (call === null) return;
    const callee = weftCallee(context, call);
    // `run(main)` itself is not an operation of a task: no Cancelled escapes a run.
    const isRun =
      callee?.name === "run" &&
      callee.package === "@weft/core" &&
      call.callee.type === AST_NODE_TYPES.Identifier;
    if (callee !== null && !isRun) found = call;
  });
  return found;
}

/** `console.log(e)` and the like: logging never rethrows. */
function isConsoleCall(call: TSESTree.CallExpression): boolean {
  const callee = call.callee;
  return (
    callee.type === AST_NODE_TYPES.MemberExpression &&
    callee.object.type === AST_NODE_TYPES.Identifier &&
    callee.object.name === "console"
  );
}

function isBinding(node: TSESTree.Node, binding: string | null): boolean {
  return binding !== null && node.type === AST_NODE_TYPES.Identifier && node.name === binding;
}

/**
 * Whether a handler's body lets cancellation through: an unconditional
 * top-level `throw`; a `throw` of the caught binding anywhere; a check with
 * weft's `isCancelled(e)` or `e instanceof Cancelled`; or a body that is only
 * a call passing the error on (the helper may rethrow), unless it is a
 * `console` method.
 */
/** Whether `binding` appears anywhere in `node` (nested functions included). */
function mentions(node: TSESTree.Node, binding: string | null): boolean {
  if (binding === null) return false;
  let found = false;
  const visit = (current: unknown): void => {
    if (found || current === null || typeof current !== "object") return;
    const n = current as TSESTree.Node;
    if (n.type === AST_NODE_TYPES.Identifier && n.name === binding) {
      found = true;
      return;
    }
    for (const [key, value] of Object.entries(n)) {
      if (key === "parent") continue;
      if (Array.isArray(value)) for (const item of value) visit(item);
      else if (value !== null && typeof value === "object" && "type" in value) visit(value);
    }
  };
  visit(node);
  return found;
}

function letsCancellationThrough(
  context: Context,
  statements: readonly TSESTree.Node[],
  binding: string | null,
): boolean {
  if (statements.some((statement) => statement.type === AST_NODE_TYPES.ThrowStatement)) return true;
  if (statements.length === 1 && binding !== null) {
    const [only] = statements;
    let expression: TSESTree.Node | null | undefined =
      only?.type === AST_NODE_TYPES.ExpressionStatement
        ? only.expression
        : only?.type === AST_NODE_TYPES.ReturnStatement
          ? only.argument
          : only;
    if (expression?.type === AST_NODE_TYPES.AwaitExpression) expression = expression.argument;
    if (
      expression?.type === AST_NODE_TYPES.CallExpression &&
      !isConsoleCall(expression) &&
      expression.arguments.some((argument) => isBinding(argument, binding))
    ) {
      return true;
    }
  }
  let through = false;
  for (const statement of statements) {
    walk(statement, (node) => {
      if (through) return;
      if (node.type === AST_NODE_TYPES.ThrowStatement && isBinding(node.argument, binding)) {
        through = true;
      } else if (
        node.type === AST_NODE_TYPES.AssignmentExpression &&
        mentions(node.right, binding)
      ) {
        // Stored to be handed on later (`failure = error`, `outcome = { error }`):
        // not swallowed here — whoever reads it decides.
        through = true;
      } else if (node.type === AST_NODE_TYPES.CallExpression) {
        const callee = weftCallee(context, node);
        if (callee?.name === "isCancelled" && callee.package === "@weft/core") through = true;
      } else if (node.type === AST_NODE_TYPES.BinaryExpression && node.operator === "instanceof") {
        const symbol = weftSymbolOf(context, node.right);
        if (symbol?.name === "Cancelled" && symbol.package === "@weft/core") through = true;
      }
    });
  }
  return through;
}

export const noSwallowedCancellation = createRule({
  name: "no-swallowed-cancellation",
  meta: {
    type: "problem",
    docs: {
      description:
        "Disallow catching errors of awaited weft operations without rethrowing or checking for cancellation",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      swallowedTry:
        "This `catch` can catch the `Cancelled` of `{{operation}}` and swallow it: rethrow it, e.g. `if (isCancelled(error)) throw error;`.",
      swallowedPromise:
        "This `.catch` handler can swallow the `Cancelled` of `{{operation}}`: rethrow it, e.g. `if (isCancelled(error)) throw error;`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const nameOf = (call: TSESTree.CallExpression): string =>
      weftCallee(context, call)?.name ?? "the operation";
    return {
      TryStatement(node) {
        const handler = node.handler;
        if (handler === null) return;
        const operation = firstAwaitedWeftCall(context, node.block);
        if (operation === null) return;
        const binding =
          handler.param?.type === AST_NODE_TYPES.Identifier ? handler.param.name : null;
        if (handler.param !== null && binding === null) return; // a destructuring pattern: not ours to judge
        if (letsCancellationThrough(context, handler.body.body, binding)) return;
        context.report({
          node: handler,
          messageId: "swallowedTry",
          data: { operation: nameOf(operation) },
        });
      },
      CallExpression(node) {
        const callee = node.callee;
        if (
          callee.type !== AST_NODE_TYPES.MemberExpression ||
          callee.computed ||
          callee.property.type !== AST_NODE_TYPES.Identifier ||
          callee.property.name !== "catch"
        ) {
          return;
        }
        const promise = calledExpression(callee.object);
        if (promise === null || weftCallee(context, promise) === null) return;
        const [handler] = node.arguments;
        if (
          handler === undefined ||
          (handler.type !== AST_NODE_TYPES.ArrowFunctionExpression &&
            handler.type !== AST_NODE_TYPES.FunctionExpression)
        ) {
          return; // a named handler may rethrow
        }
        const [param] = handler.params;
        const binding = param?.type === AST_NODE_TYPES.Identifier ? param.name : null;
        if (param !== undefined && binding === null) return;
        const statements: readonly TSESTree.Node[] =
          handler.body.type === AST_NODE_TYPES.BlockStatement ? handler.body.body : [handler.body];
        if (letsCancellationThrough(context, statements, binding)) return;
        context.report({
          node: handler,
          messageId: "swallowedPromise",
          data: { operation: nameOf(promise) },
        });
      },
    };
  },
});
