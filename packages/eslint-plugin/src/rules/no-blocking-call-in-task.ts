/**
 * A blocking call inside an async function of a weft program: `fs.*Sync`,
 * `child_process.execSync` / `spawnSync` / `execFileSync`, `Atomics.wait`,
 * or a busy-wait loop on `Date.now()` / `performance.now()`. Each stops the
 * event loop, so every weft task (and every deadline) stalls until it returns.
 *
 * Heuristic: the file imports from @weft/core or @weft/net (any subpath), and
 * the call's innermost enclosing function is `async`. Node APIs are resolved
 * through the type checker (the symbol's declaration is in @types/node's
 * `fs` / `child_process` module), or by the import source when there are no
 * declarations to follow.
 */
import { AST_NODE_TYPES, ESLintUtils, type TSESTree } from "@typescript-eslint/utils";
import ts from "typescript";
import { childNodes, inAsyncFunction } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { importsWeftRuntime } from "../weft-symbols.ts";

type Module = "fs" | "child_process";

const PROCESS_CALLS = new Set(["execSync", "spawnSync", "execFileSync"]);

/** `fs`, `node:fs`, `child_process`, `node:child_process` → the module; else null. */
function moduleOfSource(source: string): Module | null {
  const bare = source.startsWith("node:") ? source.slice(5) : source;
  return bare === "fs" || bare === "child_process" ? bare : null;
}

/** Whether `name` of `module` blocks. */
function isBlockingName(module: Module, name: string): boolean {
  return module === "fs" ? /Sync$/.test(name) : PROCESS_CALLS.has(name);
}

/** Whether an expression is a call of `Date.now()` or `performance.now()`, or contains one (`performance.now() - t`). */
function readsClock(node: TSESTree.Node): boolean {
  switch (node.type) {
    case AST_NODE_TYPES.CallExpression:
      return (
        node.arguments.length === 0 &&
        node.callee.type === AST_NODE_TYPES.MemberExpression &&
        !node.callee.computed &&
        node.callee.object.type === AST_NODE_TYPES.Identifier &&
        (node.callee.object.name === "Date" || node.callee.object.name === "performance") &&
        node.callee.property.type === AST_NODE_TYPES.Identifier &&
        node.callee.property.name === "now"
      );
    case AST_NODE_TYPES.BinaryExpression:
      return (
        (node.left.type !== AST_NODE_TYPES.PrivateIdentifier && readsClock(node.left)) ||
        readsClock(node.right)
      );
    case AST_NODE_TYPES.TSAsExpression:
    case AST_NODE_TYPES.TSNonNullExpression:
      return readsClock(node.expression);
    default:
      return false;
  }
}

/** A loop test comparing the clock with something: `Date.now() < end`, `performance.now() - t < ms`. */
function isClockComparison(test: TSESTree.Expression | null): boolean {
  if (test === null) return false;
  if (test.type === AST_NODE_TYPES.LogicalExpression) {
    return isClockComparison(test.left) || isClockComparison(test.right);
  }
  return (
    test.type === AST_NODE_TYPES.BinaryExpression &&
    ["<", "<=", ">", ">="].includes(test.operator) &&
    ((test.left.type !== AST_NODE_TYPES.PrivateIdentifier && readsClock(test.left)) ||
      readsClock(test.right))
  );
}

/** Whether `node` contains an `await` (or a `for await`) outside nested functions. */
function awaits(node: TSESTree.Node): boolean {
  if (node.type === AST_NODE_TYPES.AwaitExpression) return true;
  if (node.type === AST_NODE_TYPES.ForOfStatement && node.await) return true;
  if (
    node.type === AST_NODE_TYPES.FunctionDeclaration ||
    node.type === AST_NODE_TYPES.FunctionExpression ||
    node.type === AST_NODE_TYPES.ArrowFunctionExpression
  ) {
    return false;
  }
  return childNodes(node).some(awaits);
}

/** The @types/node module (`fs`, `child_process`) a declaration is in, if any. */
function nodeModuleOfDeclaration(declaration: ts.Declaration): Module | null {
  const fileName = declaration.getSourceFile().fileName.replaceAll("\\", "/");
  if (!fileName.includes("/@types/node/")) return null;
  for (
    let current: ts.Node | undefined = declaration;
    current !== undefined;
    current = current.parent
  ) {
    if (ts.isModuleDeclaration(current) && ts.isStringLiteral(current.name)) {
      const module = moduleOfSource(current.name.text);
      if (module !== null) return module;
    }
  }
  // Newer @types/node: one file per module, without `declare module`.
  const match = /\/@types\/node\/(fs|child_process)\.d\.ts$/.exec(fileName);
  return match === null ? null : (match[1] as Module);
}

export const noBlockingCallInTask = createRule({
  name: "no-blocking-call-in-task",
  meta: {
    type: "problem",
    docs: {
      description:
        "Disallow blocking calls (`fs.*Sync`, `execSync`, `Atomics.wait`, clock busy-waits) in async functions of a weft program",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      blockingFs:
        "`{{name}}` blocks the event loop: every weft task stalls until it returns. Use @weft/net's files (`readFile`, `readTextFile`, `writeFile`, `appendFile`, `openFile`), or move the work to `runInWorker`.",
      blockingProcess:
        "`{{name}}` blocks the event loop until the child exits: every weft task stalls. Use @weft/net's `runProcess` (or `openProcess`), which is cancellable.",
      atomicsWait:
        "`Atomics.wait` blocks the event loop: every weft task stalls. Wait in a worker (`runInWorker`), or use `Atomics.waitAsync`.",
      busyWait:
        "This loop spins on the clock and blocks the event loop: every weft task stalls. `await sleep(…)` / `sleepUntil(…)` instead, or move the computation to `runInWorker`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const { sourceCode } = context;
    if (!importsWeftRuntime(sourceCode.ast)) return {};
    const services = ESLintUtils.getParserServices(context);
    const checker = services.program.getTypeChecker();

    /** The blocking Node API `node` (an identifier or member access) refers to, or null. */
    function blockingApi(node: TSESTree.Node): { module: Module; name: string } | null {
      const target = node.type === AST_NODE_TYPES.MemberExpression ? node.property : node;
      if (target.type !== AST_NODE_TYPES.Identifier) return null;
      let symbol = checker.getSymbolAtLocation(services.esTreeNodeToTSNodeMap.get(target));
      if (symbol !== undefined && (symbol.flags & ts.SymbolFlags.Alias) !== 0) {
        symbol = checker.getAliasedSymbol(symbol);
      }
      const declarations = symbol?.declarations ?? [];
      if (symbol !== undefined && declarations.length > 0) {
        for (const declaration of declarations) {
          const module = nodeModuleOfDeclaration(declaration);
          if (module !== null && isBlockingName(module, symbol.name)) {
            return { module, name: symbol.name };
          }
        }
        return null;
      }
      // No declarations (no types installed): match by import source.
      const root =
        node.type === AST_NODE_TYPES.MemberExpression ? node.object : (node as TSESTree.Identifier);
      if (root.type !== AST_NODE_TYPES.Identifier) return null;
      const variable = sourceCode
        .getScope(root)
        .references.find((reference) => reference.identifier === root)?.resolved;
      const definition = variable?.defs[0];
      if (definition?.type !== "ImportBinding") return null;
      const declaration = definition.parent;
      if (declaration.type !== AST_NODE_TYPES.ImportDeclaration) return null;
      const module = moduleOfSource(declaration.source.value);
      if (module === null) return null;
      let name = target.name;
      if (
        node.type !== AST_NODE_TYPES.MemberExpression &&
        definition.node.type === AST_NODE_TYPES.ImportSpecifier
      ) {
        const imported = definition.node.imported;
        name = imported.type === AST_NODE_TYPES.Identifier ? imported.name : imported.value;
      }
      return isBlockingName(module, name) ? { module, name } : null;
    }

    function isGlobalAtomicsWait(callee: TSESTree.Expression): boolean {
      if (
        callee.type !== AST_NODE_TYPES.MemberExpression ||
        callee.computed ||
        callee.object.type !== AST_NODE_TYPES.Identifier ||
        callee.object.name !== "Atomics" ||
        callee.property.type !== AST_NODE_TYPES.Identifier ||
        callee.property.name !== "wait"
      ) {
        return false;
      }
      const atomics = callee.object;
      const variable = sourceCode
        .getScope(atomics)
        .references.find((reference) => reference.identifier === atomics)?.resolved;
      // Unresolved, or resolved to the global: the real one.
      return variable === null || variable === undefined || variable.defs.length === 0;
    }

    function checkLoop(
      node: TSESTree.WhileStatement | TSESTree.DoWhileStatement | TSESTree.ForStatement,
    ): void {
      if (!inAsyncFunction(node) || !isClockComparison(node.test) || awaits(node)) return;
      context.report({ node, messageId: "busyWait" });
    }

    return {
      CallExpression(node) {
        if (!inAsyncFunction(node)) return;
        if (isGlobalAtomicsWait(node.callee)) {
          context.report({ node, messageId: "atomicsWait" });
          return;
        }
        const api = blockingApi(node.callee);
        if (api === null) return;
        context.report({
          node,
          messageId: api.module === "fs" ? "blockingFs" : "blockingProcess",
          data: { name: api.name },
        });
      },
      WhileStatement: checkLoop,
      DoWhileStatement: checkLoop,
      ForStatement: checkLoop,
    };
  },
});
