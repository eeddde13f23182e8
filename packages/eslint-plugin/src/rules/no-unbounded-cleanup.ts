/**
 * An awaited weft operation in a `finally` block or a `catch` clause, outside
 * a shield or a timeout: the cleanup either hangs (nothing bounds it) or is
 * cut short at once by the cancellation that got it there (the enclosing
 * scope is still cancelled, and every checkpoint in it throws `Cancelled`).
 */
import type { TSESTree } from "@typescript-eslint/utils";
import { AST_NODE_TYPES } from "@typescript-eslint/utils";
import { calledExpression } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { isFunction, scopeBodyOf, scopeOfCall } from "../scope-bodies.ts";
import { weftCallee } from "../weft-symbols.ts";

/** Whether a call passes `{ shield: true }` among its arguments (a timeout's options). */
function passesShield(call: TSESTree.Node | undefined): boolean {
  return (
    call?.type === AST_NODE_TYPES.CallExpression &&
    call.arguments.some(
      (argument) =>
        argument.type === AST_NODE_TYPES.ObjectExpression &&
        argument.properties.some(
          (property) =>
            property.type === AST_NODE_TYPES.Property &&
            property.key.type === AST_NODE_TYPES.Identifier &&
            property.key.name === "shield" &&
            property.value.type === AST_NODE_TYPES.Literal &&
            property.value.value === true,
        ),
    )
  );
}

/**
 * Whether the `try`/`catch` at `node` is itself inside the body of a
 * shielded timeout or shielded CancelScope: its cleanup then runs shielded
 * and bounded. (Inside an unshielded one it is not: that scope's own
 * cancellation is what runs the `finally`, and cuts its awaits short.)
 */
function insideBoundedBody(
  context: Parameters<typeof scopeBodyOf>[0],
  node: TSESTree.Node,
): boolean {
  for (let current = node.parent; current != null; current = current.parent) {
    if (isFunction(current)) {
      const scope = scopeBodyOf(context, current);
      return (
        (scope?.kind === "timeout" && passesShield(current.parent)) ||
        (scope?.kind === "cancelScope" && scope.shielded)
      );
    }
  }
  return false;
}

export const noUnboundedCleanup = createRule({
  name: "no-unbounded-cleanup",
  meta: {
    type: "problem",
    docs: {
      description:
        "Disallow awaiting weft operations in `finally` or `catch` outside a shielded scope or a timeout",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      unbounded:
        "`{{operation}}` awaited in a `{{clause}}` is unbounded cleanup: if a cancellation got here it throws at once, and otherwise nothing bounds it. Wrap it in `moveOnAfter(ms, …, { shield: true })` (or `new CancelScope({ shield: true, relativeDeadline: ms }).run(…)`).",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    return {
      AwaitExpression(node) {
        const call = calledExpression(node.argument);
        if (call === null) return;
        const callee = weftCallee(context, call);
        if (callee === null) return;
        // `run(main)` is a whole run, outside any task: nothing cancels it from here.
        if (
          callee.name === "run" &&
          callee.package === "@weft/core" &&
          call.callee.type === AST_NODE_TYPES.Identifier
        ) {
          return;
        }
        // Closing a weft resource is designed to work in a cancelled scope
        // (SEMANTICS.md, "I/O resources"), and a forceful close never waits.
        if (callee.name === "aclose" || callee.name === "acloseForcefully") return;
        // The bound itself: a timeout, or a shielded or deadlined CancelScope.
        const scope = scopeOfCall(context, call);
        if (
          scope?.kind === "timeout" ||
          (scope?.kind === "cancelScope" && (scope.shielded || scope.bounded))
        ) {
          return;
        }
        let child: TSESTree.Node = node;
        for (
          let parent: TSESTree.Node | null | undefined = node.parent;
          parent != null;
          parent = parent.parent
        ) {
          if (isFunction(parent)) {
            // A nested function is not this cleanup's code: a callback of a
            // timeout or of a shielded scope is bounded (and the call taking it
            // is exempt above); any other call taking it is reported itself.
            return;
          }
          if (parent.type === AST_NODE_TYPES.CatchClause && child === parent.body) {
            // A catch that handles the error and goes on (a retry's backoff,
            // an accept loop's pause) is the program's work, not cleanup: only
            // a catch that rethrows — cleanup on the way out — is checked.
            if (
              !parent.body.body.some(
                (statement) => statement.type === AST_NODE_TYPES.ThrowStatement,
              )
            ) {
              return;
            }
            if (!insideBoundedBody(context, parent)) {
              context.report({
                node,
                messageId: "unbounded",
                data: { operation: callee.name, clause: "catch" },
              });
            }
            return;
          }
          if (parent.type === AST_NODE_TYPES.TryStatement && child === parent.finalizer) {
            if (!insideBoundedBody(context, parent)) {
              context.report({
                node,
                messageId: "unbounded",
                data: { operation: callee.name, clause: "finally" },
              });
            }
            return;
          }
          child = parent;
        }
      },
    };
  },
});
