/**
 * A timeout (`moveOnAfter`/`failAfter`/`moveOnAt`/`failAt`) or a
 * `CancelScope#run` whose body never reaches a checkpoint: cancellation is
 * delivered at checkpoints, so a body with no `await` runs to its end and the
 * deadline can never fire. Reported: a body with no `await`, `for await` or
 * `yield*` of its own (nested functions do not count) that does not return a
 * promise either (`() => sleep(10)`, `() => { return fetchThing(); }`: the
 * scope awaits the promise, so those have a checkpoint).
 */
import type { TSESTree } from "@typescript-eslint/utils";
import { AST_NODE_TYPES, ESLintUtils } from "@typescript-eslint/utils";
import ts from "typescript";
import { childNodes } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { type FunctionNode, isFunction, scopeBodyOf } from "../scope-bodies.ts";
import { isThenable } from "../weft-promise-call.ts";

export const noCheckpointFreeScope = createRule({
  name: "no-checkpoint-free-scope",
  meta: {
    type: "problem",
    docs: {
      description:
        "Disallow a weft timeout or `CancelScope#run` whose body never awaits: its deadline can never fire",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      checkpointFree:
        "The body of `{{scope}}` never awaits, so it has no checkpoint: cancellation is delivered only at checkpoints, and this deadline can never fire. Await the work (or `checkpoint()` in a long loop), or drop the scope.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const services = ESLintUtils.getParserServices(context);
    const checker = services.program.getTypeChecker();

    /** Whether an expression's value may be a promise (`any`/`unknown` and unions with a thenable count). */
    function mayBeThenable(expression: TSESTree.Node): boolean {
      const type = services.getTypeAtLocation(expression);
      const members = type.isUnion() ? type.types : [type];
      return members.some(
        (member) =>
          (member.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0 ||
          isThenable(checker, member),
      );
    }

    /** Whether `node` (not looking into nested functions) awaits, or returns a promise. */
    function hasCheckpoint(node: TSESTree.Node): boolean {
      switch (node.type) {
        case AST_NODE_TYPES.AwaitExpression:
          return true;
        case AST_NODE_TYPES.ForOfStatement:
          if (node.await) return true;
          break;
        case AST_NODE_TYPES.YieldExpression:
          if (node.delegate) return true;
          break;
        case AST_NODE_TYPES.ReturnStatement:
          // The scope awaits the promise the body returns.
          if (node.argument !== null && mayBeThenable(node.argument)) return true;
          break;
        default:
          if (isFunction(node)) return false;
          // A class's methods and field initialisers are not the body's code either.
          if (
            node.type === AST_NODE_TYPES.ClassBody ||
            node.type === AST_NODE_TYPES.TSInterfaceBody
          ) {
            return false;
          }
      }
      return childNodes(node).some(hasCheckpoint);
    }

    function check(fn: FunctionNode): void {
      const scope = scopeBodyOf(context, fn);
      if (scope === null || scope.kind === "nursery") return;
      const body = fn.body;
      if (body === null || body === undefined) return;
      if (body.type === AST_NODE_TYPES.BlockStatement) {
        if (body.body.some(hasCheckpoint)) return;
      } else if (hasCheckpoint(body) || mayBeThenable(body)) {
        // `() => sleep(10)`: the expression's promise is awaited by the scope.
        return;
      }
      context.report({
        node: fn,
        messageId: "checkpointFree",
        data: { scope: scope.kind === "timeout" ? scope.name : "CancelScope#run" },
      });
    }

    return {
      ArrowFunctionExpression: check,
      FunctionExpression: check,
    };
  },
});
