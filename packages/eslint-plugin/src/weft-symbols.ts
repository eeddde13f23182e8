/**
 * Which weft export a call refers to, from the TypeScript program's symbols:
 * `sleep` imported from @weft/core under any alias or through a re-export is
 * weft's, a user's own function named `sleep` is not. Every rule decides
 * "is this weft?" here, and nowhere else.
 */
import type { TSESLint, TSESTree } from "@typescript-eslint/utils";
import { ESLintUtils } from "@typescript-eslint/utils";
import ts from "typescript";

/** The weft packages whose exports the rules know. */
export type WeftPackage = "@weft/core" | "@weft/net" | "@weft/testing";

/** A weft export a node refers to. */
export interface WeftSymbol {
  /** The export's name where it is declared (`sleep`, `openNursery`, `startSoon`…). */
  readonly name: string;
  readonly package: WeftPackage;
}

/** The package a declaration's file belongs to: an installed @weft package, or this repository's sources. */
function packageOf(fileName: string): WeftPackage | null {
  const normalised = fileName.replaceAll("\\", "/");
  const match =
    /\/node_modules\/@weft\/(core|net|testing)\//.exec(normalised) ??
    /\/packages\/(core|net|testing)\/(?:src|dist)\//.exec(normalised);
  return match === null ? null : (`@weft/${match[1]}` as WeftPackage);
}

/** The weft export `node` (an identifier or a member access) refers to, or null. */
export function weftSymbolOf(
  context: Readonly<TSESLint.RuleContext<string, readonly unknown[]>>,
  node: TSESTree.Node,
): WeftSymbol | null {
  const services = ESLintUtils.getParserServices(context);
  const checker = services.program.getTypeChecker();
  const target = node.type === "MemberExpression" ? node.property : node;
  const tsNode = services.esTreeNodeToTSNodeMap.get(target);
  let symbol = checker.getSymbolAtLocation(tsNode);
  if (symbol === undefined) return null;
  if ((symbol.flags & ts.SymbolFlags.Alias) !== 0) symbol = checker.getAliasedSymbol(symbol);
  for (const declaration of symbol.declarations ?? []) {
    const pkg = packageOf(declaration.getSourceFile().fileName);
    if (pkg !== null) return { name: symbol.name, package: pkg };
  }
  return null;
}

/** The weft export a call calls (`sleep(1)`, `nursery.startSoon(fn)`), or null. */
export function weftCallee(
  context: Readonly<TSESLint.RuleContext<string, readonly unknown[]>>,
  call: TSESTree.CallExpression,
): WeftSymbol | null {
  return weftSymbolOf(context, call.callee);
}

/**
 * Whether the file imports @weft/core or @weft/net (or one of their entry
 * points): rules about code running in weft tasks skip every other file.
 */
export function importsWeftRuntime(program: TSESTree.Program): boolean {
  return program.body.some(
    (statement) =>
      statement.type === "ImportDeclaration" &&
      /^@weft\/(core|net)(\/|$)/.test(statement.source.value),
  );
}
