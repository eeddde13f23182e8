/** Small questions about syntax trees that several rules ask. */
import { AST_NODE_TYPES, type TSESTree } from "@typescript-eslint/utils";

/** `expression` without the wrappers that do not change its value: `as`, `!`, `satisfies`, `?.` chains. */
export function unwrapExpression(expression: TSESTree.Expression): TSESTree.Expression {
  let node = expression;
  while (
    node.type === AST_NODE_TYPES.TSAsExpression ||
    node.type === AST_NODE_TYPES.TSNonNullExpression ||
    node.type === AST_NODE_TYPES.TSSatisfiesExpression ||
    node.type === AST_NODE_TYPES.ChainExpression
  ) {
    node = node.expression;
  }
  return node;
}

/** The call `expression` is, once unwrapped (`f() as T`, `f()!`, `a?.f()`), or null. */
export function calledExpression(expression: TSESTree.Expression): TSESTree.CallExpression | null {
  const node = unwrapExpression(expression);
  return node.type === AST_NODE_TYPES.CallExpression ? node : null;
}

/** The innermost function around `node`, or null at the top level. */
export function enclosingFunction(node: TSESTree.Node): TSESTree.FunctionLike | null {
  for (let current = node.parent; current != null; current = current.parent) {
    if (
      current.type === AST_NODE_TYPES.FunctionDeclaration ||
      current.type === AST_NODE_TYPES.FunctionExpression ||
      current.type === AST_NODE_TYPES.ArrowFunctionExpression
    ) {
      return current;
    }
  }
  return null;
}

/** Whether the innermost function around `node` is `async`. */
export function inAsyncFunction(node: TSESTree.Node): boolean {
  return enclosingFunction(node)?.async === true;
}

/** The child nodes of `node` (every key but `parent`): the step of a tree walk. */
export function childNodes(node: TSESTree.Node): TSESTree.Node[] {
  const result: TSESTree.Node[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === "parent") continue;
    for (const child of Array.isArray(value) ? value : [value]) {
      if (child !== null && typeof child === "object" && typeof child.type === "string") {
        result.push(child as TSESTree.Node);
      }
    }
  }
  return result;
}
