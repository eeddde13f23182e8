/**
 * Which weft scope a function literal is the body of: `openNursery(body)`,
 * `moveOnAfter(ms, body)` and the other timeouts, or `scope.run(body)` of a
 * `CancelScope` (with what its options say, when they can be read).
 */
import type { TSESLint, TSESTree } from "@typescript-eslint/utils";
import { AST_NODE_TYPES, ESLintUtils } from "@typescript-eslint/utils";
import { weftCallee, weftSymbolOf } from "./weft-symbols.ts";

/** The weft timeouts: their body runs under a deadline. */
export const TIMEOUTS: ReadonlySet<string> = new Set([
  "moveOnAfter",
  "moveOnAt",
  "failAfter",
  "failAt",
]);

/** The body of which weft scope a function is. */
export type ScopeBody =
  | { readonly kind: "nursery" }
  | { readonly kind: "timeout"; readonly name: string }
  | {
      readonly kind: "cancelScope";
      /** `shield: true` in the scope's options. */
      readonly shielded: boolean;
      /** A `deadline` or `relativeDeadline` in the scope's options. */
      readonly bounded: boolean;
    };

type Context = Readonly<TSESLint.RuleContext<string, readonly unknown[]>>;

export type FunctionNode =
  | TSESTree.ArrowFunctionExpression
  | TSESTree.FunctionExpression
  | TSESTree.FunctionDeclaration;

export function isFunction(node: TSESTree.Node): node is FunctionNode {
  return (
    node.type === AST_NODE_TYPES.ArrowFunctionExpression ||
    node.type === AST_NODE_TYPES.FunctionExpression ||
    node.type === AST_NODE_TYPES.FunctionDeclaration
  );
}

/** The `new CancelScope(options)` an expression is (directly, or through a `const`), or null. */
function cancelScopeConstruction(
  context: Context,
  expression: TSESTree.Node,
): TSESTree.NewExpression | null {
  let node: TSESTree.Node = expression;
  if (node.type === AST_NODE_TYPES.Identifier) {
    let scope: TSESLint.Scope.Scope | null = context.sourceCode.getScope(node);
    const name = node.name;
    let variable: TSESLint.Scope.Variable | undefined;
    while (scope !== null && variable === undefined) {
      variable = scope.set.get(name);
      scope = scope.upper;
    }
    const definition = variable?.defs[0];
    if (
      variable === undefined ||
      variable.defs.length !== 1 ||
      definition?.type !== "Variable" ||
      definition.parent.kind !== "const" ||
      definition.node.init === null
    ) {
      return null;
    }
    node = definition.node.init;
  }
  if (node.type !== AST_NODE_TYPES.NewExpression) return null;
  const symbol = weftSymbolOf(context, node.callee);
  return symbol?.name === "CancelScope" && symbol.package === "@weft/core" ? node : null;
}

/** Whether an options object literal has `key: true` (for `shield`) or the key at all (for deadlines). */
function optionsHave(
  options: TSESTree.Node | undefined,
  key: string,
  mustBeTrue: boolean,
): boolean {
  if (options?.type !== AST_NODE_TYPES.ObjectExpression) return false;
  return options.properties.some(
    (property) =>
      property.type === AST_NODE_TYPES.Property &&
      !property.computed &&
      ((property.key.type === AST_NODE_TYPES.Identifier && property.key.name === key) ||
        (property.key.type === AST_NODE_TYPES.Literal && property.key.value === key)) &&
      (!mustBeTrue ||
        (property.value.type === AST_NODE_TYPES.Literal && property.value.value === true)),
  );
}

/** What scope a call that takes a body is, or null if it is not a weft scope. */
export function scopeOfCall(context: Context, call: TSESTree.CallExpression): ScopeBody | null {
  const callee = weftCallee(context, call);
  if (callee === null || callee.package !== "@weft/core") return null;
  if (callee.name === "openNursery") return { kind: "nursery" };
  if (TIMEOUTS.has(callee.name)) return { kind: "timeout", name: callee.name };
  if (callee.name === "run" && call.callee.type === AST_NODE_TYPES.MemberExpression) {
    const services = ESLintUtils.getParserServices(context);
    const type = services.getTypeAtLocation(call.callee.object);
    if (type.getSymbol()?.getName() !== "CancelScope") return null;
    const construction = cancelScopeConstruction(context, call.callee.object);
    const options = construction?.arguments[0];
    return {
      kind: "cancelScope",
      shielded: optionsHave(options, "shield", true),
      bounded:
        optionsHave(options, "deadline", false) || optionsHave(options, "relativeDeadline", false),
    };
  }
  return null;
}

/** The weft scope `fn` is the body of (passed directly as an argument), or null. */
export function scopeBodyOf(context: Context, fn: FunctionNode): ScopeBody | null {
  const parent = fn.parent;
  if (parent?.type !== AST_NODE_TYPES.CallExpression) return null;
  if (!parent.arguments.includes(fn as TSESTree.CallExpressionArgument)) return null;
  return scopeOfCall(context, parent);
}
