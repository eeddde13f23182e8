/**
 * `await foreign(...)` where `foreign` (not a weft export) accepts an
 * `AbortSignal` — as a parameter, or as the `signal` property of an options
 * parameter (global `fetch(url, init)`, `timers/promises`' `setTimeout`,
 * `events.once`…) — and none is passed. weft cancels the task, but the
 * foreign operation keeps running (and holding its socket, timer, file…)
 * until it finishes by itself.
 *
 * Heuristic: the file imports from @weft/core or @weft/net (any subpath); the
 * awaited expression is the call itself; the resolved signature (overload and
 * generics chosen by the type checker) is inspected. A call "passes a signal"
 * when an argument mentions an identifier containing `signal` (any case:
 * `currentSignal()`, `{ signal }`, `controller.signal`, `AbortSignal.timeout(…)`),
 * or is an expression (not an object literal) whose type has a `signal`
 * property (an options object built elsewhere), or an object literal spreading
 * such an object. An await inside `cancellable(...)` is not reported.
 */
import { AST_NODE_TYPES, ESLintUtils, type TSESTree } from "@typescript-eslint/utils";
import ts from "typescript";
import { childNodes, unwrapExpression } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { importsWeftRuntime, weftCallee } from "../weft-symbols.ts";

const SIGNAL = /signal/i;

/** Whether `node` mentions an identifier whose name contains "signal" (nested functions included). */
function mentionsSignal(node: TSESTree.Node): boolean {
  if (
    (node.type === AST_NODE_TYPES.Identifier || node.type === AST_NODE_TYPES.PrivateIdentifier) &&
    SIGNAL.test(node.name)
  ) {
    return true;
  }
  return childNodes(node).some(mentionsSignal);
}

export const requireSignalForForeignAwait = createRule({
  name: "require-signal-for-foreign-await",
  meta: {
    type: "problem",
    docs: {
      description:
        "Require an AbortSignal for awaited non-weft calls that accept one, so weft's cancellation aborts them",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      missingSignal:
        "`{{callee}}(…)` accepts an AbortSignal but gets none: when weft cancels this task, the operation keeps running. Wrap it in `cancellable((signal) => …)`: cancellation then aborts it and the await raises `Cancelled`. (Passing `currentSignal()` aborts it too, but the await then rejects with the API's own abort error, e.g. an `AbortError` that a timeout does not absorb.)",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const { sourceCode } = context;
    if (!importsWeftRuntime(sourceCode.ast)) return {};
    const services = ESLintUtils.getParserServices(context);
    const checker = services.program.getTypeChecker();

    /** The constituents of a type, unions flattened, null and undefined left out. */
    function constituents(type: ts.Type): ts.Type[] {
      const nonNullable = checker.getNonNullableType(type);
      return nonNullable.isUnion() ? nonNullable.types : [nonNullable];
    }

    function isAbortSignal(type: ts.Type): boolean {
      return constituents(type).some(
        (part) => (part.getSymbol() ?? part.aliasSymbol)?.getName() === "AbortSignal",
      );
    }

    /** Whether a parameter of this type takes a signal: an AbortSignal, or options with a `signal` that is one. */
    function takesSignal(type: ts.Type): boolean {
      if (isAbortSignal(type)) return true;
      return constituents(type).some((part) => {
        if ((part.flags & ts.TypeFlags.Object) === 0) return false;
        const property = checker.getPropertyOfType(part, "signal");
        return property !== undefined && isAbortSignal(checker.getTypeOfSymbol(property));
      });
    }

    /** Whether an expression's type has a `signal` property (an options object that may carry one). */
    function typeHasSignal(node: TSESTree.Node): boolean {
      const type = checker.getTypeAtLocation(services.esTreeNodeToTSNodeMap.get(node));
      if (isAbortSignal(type)) return true;
      return constituents(type).some(
        (part) => checker.getPropertyOfType(part, "signal") !== undefined,
      );
    }

    function passesSignal(argument: TSESTree.CallExpressionArgument): boolean {
      if (mentionsSignal(argument)) return true;
      const expression =
        argument.type === AST_NODE_TYPES.SpreadElement
          ? argument.argument
          : unwrapExpression(argument);
      if (expression.type === AST_NODE_TYPES.ObjectExpression) {
        return expression.properties.some(
          (property) =>
            property.type === AST_NODE_TYPES.SpreadElement && typeHasSignal(property.argument),
        );
      }
      if (expression.type === AST_NODE_TYPES.Literal) return false;
      return typeHasSignal(expression);
    }

    function insideCancellable(node: TSESTree.Node): boolean {
      for (let current = node.parent; current != null; current = current.parent) {
        if (current.type === AST_NODE_TYPES.CallExpression) {
          const callee = weftCallee(context, current);
          if (callee?.name === "cancellable" && callee.package === "@weft/core") return true;
        }
      }
      return false;
    }

    return {
      AwaitExpression(node) {
        const call = unwrapExpression(node.argument);
        if (call.type !== AST_NODE_TYPES.CallExpression) return;
        if (weftCallee(context, call) !== null) return;
        const tsCall = services.esTreeNodeToTSNodeMap.get(call);
        const signature = checker.getResolvedSignature(tsCall);
        if (signature === undefined) return;
        const acceptsSignal = signature.parameters.some((parameter) => {
          const declaration = parameter.valueDeclaration;
          if (
            declaration !== undefined &&
            ts.isParameter(declaration) &&
            declaration.dotDotDotToken
          ) {
            return false;
          }
          return takesSignal(checker.getTypeOfSymbolAtLocation(parameter, tsCall));
        });
        if (!acceptsSignal) return;
        if (call.arguments.some(passesSignal)) return;
        if (insideCancellable(node)) return;
        const calleeText = sourceCode.getText(call.callee);
        context.report({
          node: call,
          messageId: "missingSignal",
          data: { callee: calleeText.length > 40 ? `${calleeText.slice(0, 39)}…` : calleeText },
        });
      },
    };
  },
});
