/**
 * Whether a call is a weft operation that returns a promise: its callee is a
 * weft export (weft-symbols.ts decides) and its TypeScript type is a
 * thenable. `nursery.startSoon(...)` (void) is not one; `sleep(1)`,
 * `lock.acquire()` and `channel.send(x)` are.
 */
import type { TSESLint, TSESTree } from "@typescript-eslint/utils";
import { ESLintUtils } from "@typescript-eslint/utils";
import ts from "typescript";
import { type WeftSymbol, weftCallee } from "./weft-symbols.ts";

/** Whether `type` has a callable `then` (in a union, every member but `undefined`/`null`, as in `s?.send(1)`). */
export function isThenable(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (type.isUnion()) {
    const nullish = ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void;
    const members = type.types.filter((t) => (t.flags & nullish) === 0);
    return members.length > 0 && members.every((t) => isThenable(checker, t));
  }
  const then = checker.getPropertyOfType(checker.getApparentType(type), "then");
  if (then === undefined) return false;
  const declaration = then.valueDeclaration ?? then.declarations?.[0];
  if (declaration === undefined) return false;
  return checker.getTypeOfSymbolAtLocation(then, declaration).getCallSignatures().length > 0;
}

/** The weft export `call` calls, if it returns a promise; null otherwise. */
export function weftPromiseCallee(
  context: Readonly<TSESLint.RuleContext<string, readonly unknown[]>>,
  call: TSESTree.CallExpression,
): WeftSymbol | null {
  const callee = weftCallee(context, call);
  if (callee === null) return null;
  const services = ESLintUtils.getParserServices(context);
  const checker = services.program.getTypeChecker();
  return isThenable(checker, services.getTypeAtLocation(call)) ? callee : null;
}

/** `call` itself, or the call inside `a?.b()` (a ChainExpression); null for anything else. */
export function callOf(node: TSESTree.Node): TSESTree.CallExpression | null {
  if (node.type === "ChainExpression")
    return node.expression.type === "CallExpression" ? node.expression : null;
  return node.type === "CallExpression" ? node : null;
}
