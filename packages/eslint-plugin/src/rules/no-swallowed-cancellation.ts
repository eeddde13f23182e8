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
/**
 * Whether `node` hands the error on as it is: the binding itself, or an
 * object or array literal holding it (`{ failed: true, value: error }`) —
 * not `String(e)` or `e.message`, which keep only a description.
 */
function holdsDirectly(node: TSESTree.Node, binding: string | null): boolean {
  if (isBinding(node, binding)) return true;
  if (node.type === AST_NODE_TYPES.ObjectExpression) {
    return node.properties.some(
      (property) => property.type === AST_NODE_TYPES.Property && isBinding(property.value, binding),
    );
  }
  if (node.type === AST_NODE_TYPES.ArrayExpression) {
    return node.elements.some((element) => element !== null && isBinding(element, binding));
  }
  return false;
}

/** Whether an `if` statement throws in one of its branches. */
function throwsIn(statement: TSESTree.IfStatement): boolean {
  let found = false;
  for (const branch of [statement.consequent, statement.alternate]) {
    if (branch == null) continue;
    if (branch.type === AST_NODE_TYPES.ThrowStatement) found = true;
    walk(branch, (node) => {
      if (node.type === AST_NODE_TYPES.ThrowStatement) found = true;
    });
  }
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
        holdsDirectly(node.right, binding)
      ) {
        // Stored to be handed on later (`failure = error`, `outcome = { error }`):
        // not swallowed here — whoever reads it decides.
        through = true;
      } else if (node.type === AST_NODE_TYPES.IfStatement && throwsIn(node)) {
        // A check for cancellation counts only where it guards a throw:
        // `if (isCancelled(e)) return;` still swallows it.
        walk(node.test, (inner) => {
          if (inner.type === AST_NODE_TYPES.CallExpression) {
            const callee = weftCallee(context, inner);
            if (callee?.name === "isCancelled" && callee.package === "@weft/core") through = true;
          } else if (
            inner.type === AST_NODE_TYPES.BinaryExpression &&
            inner.operator === "instanceof"
          ) {
            const symbol = weftSymbolOf(context, inner.right);
            if (symbol?.name === "Cancelled" && symbol.package === "@weft/core") through = true;
          }
        });
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
