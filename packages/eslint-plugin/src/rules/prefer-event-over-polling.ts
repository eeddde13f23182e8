/**
 * A loop that polls a flag with weft's `sleep`:
 * `while (!ready) await sleep(10)`, or `for (;;) { if (done) break; await sleep(10); }`.
 * It wakes up for nothing, and reacts up to a whole sleep late. An `Event`,
 * set by whoever changes the flag, wakes the waiter at once and costs nothing
 * while it waits.
 *
 * Heuristic (false positives kept low; docs/guides/lint-rules.md#prefer-event-over-polling):
 * a `while`, `do … while` or `for` loop (a `for` without init or update) whose
 * awaits (test and body, nested functions left out) are all `await sleep(…)`
 * of @weft/core, at least one; whose body holds nothing but those awaits,
 * `if (<flag>) break;` / `if (<flag>) return …;` and empty statements; and
 * whose condition is a flag test, or is absent / `true` with at least one
 * `if (<flag>) break/return` in the body. A flag test reads variables and
 * properties only (no calls, no assignments): `x`, `this.state.ready`,
 * `!x`, `x === "open"`, `a && !b`.
 */
import { AST_NODE_TYPES, type TSESTree } from "@typescript-eslint/utils";
import { childNodes, unwrapExpression } from "../ast.ts";
import { createRule } from "../create-rule.ts";
import { weftCallee } from "../weft-symbols.ts";

type Loop = TSESTree.WhileStatement | TSESTree.DoWhileStatement | TSESTree.ForStatement;

const COMPARISONS = new Set(["==", "===", "!=", "!==", "<", "<=", ">", ">="]);

/** A read of a variable or property: `x`, `this.x`, `a.b?.c`, `a[0]`, `a["k"]`. */
function isPlainReference(node: TSESTree.Expression): boolean {
  const expression = unwrapExpression(node);
  if (expression.type === AST_NODE_TYPES.Identifier) return expression.name !== "undefined";
  if (expression.type !== AST_NODE_TYPES.MemberExpression) return false;
  if (
    expression.computed &&
    expression.property.type !== AST_NODE_TYPES.Literal &&
    expression.property.type !== AST_NODE_TYPES.Identifier
  ) {
    return false;
  }
  return (
    expression.object.type === AST_NODE_TYPES.ThisExpression || isPlainReference(expression.object)
  );
}

/** A constant a flag is compared with: a literal, `undefined`, `-1`, a template without expressions. */
function isConstant(node: TSESTree.Expression): boolean {
  const expression = unwrapExpression(node);
  return (
    expression.type === AST_NODE_TYPES.Literal ||
    (expression.type === AST_NODE_TYPES.Identifier && expression.name === "undefined") ||
    (expression.type === AST_NODE_TYPES.TemplateLiteral && expression.expressions.length === 0) ||
    (expression.type === AST_NODE_TYPES.UnaryExpression &&
      expression.operator === "-" &&
      expression.argument.type === AST_NODE_TYPES.Literal)
  );
}

/** A test of plain variables and properties (no calls, no assignments). */
function isFlagTest(node: TSESTree.Expression): boolean {
  const expression = unwrapExpression(node);
  switch (expression.type) {
    case AST_NODE_TYPES.UnaryExpression:
      return expression.operator === "!" && isFlagTest(expression.argument);
    case AST_NODE_TYPES.LogicalExpression:
      return isFlagTest(expression.left) && isFlagTest(expression.right);
    case AST_NODE_TYPES.BinaryExpression: {
      if (!COMPARISONS.has(expression.operator)) return false;
      const { left, right } = expression;
      if (left.type === AST_NODE_TYPES.PrivateIdentifier) return false;
      const operand = (side: TSESTree.Expression) => isPlainReference(side) || isConstant(side);
      return operand(left) && operand(right) && (isPlainReference(left) || isPlainReference(right));
    }
    default:
      return isPlainReference(expression);
  }
}

function isFunction(node: TSESTree.Node): boolean {
  return (
    node.type === AST_NODE_TYPES.FunctionDeclaration ||
    node.type === AST_NODE_TYPES.FunctionExpression ||
    node.type === AST_NODE_TYPES.ArrowFunctionExpression
  );
}

/** The awaits under `node`, nested functions left out; null if a `for await` is there. */
function awaitsIn(
  node: TSESTree.Node,
  found: TSESTree.AwaitExpression[] = [],
): TSESTree.AwaitExpression[] | null {
  if (isFunction(node)) return found;
  if (node.type === AST_NODE_TYPES.ForOfStatement && node.await) return null;
  if (node.type === AST_NODE_TYPES.AwaitExpression) found.push(node);
  for (const child of childNodes(node)) if (awaitsIn(child, found) === null) return null;
  return found;
}

/** `if (<flag>) break;` / `if (<flag>) return …;` (possibly in braces): the flag, or null. */
function exitTest(statement: TSESTree.Statement): TSESTree.Expression | null {
  if (statement.type !== AST_NODE_TYPES.IfStatement || statement.alternate !== null) return null;
  let consequent: TSESTree.Statement = statement.consequent;
  if (consequent.type === AST_NODE_TYPES.BlockStatement) {
    if (consequent.body.length !== 1 || consequent.body[0] === undefined) return null;
    consequent = consequent.body[0];
  }
  const exits =
    (consequent.type === AST_NODE_TYPES.BreakStatement && consequent.label === null) ||
    consequent.type === AST_NODE_TYPES.ReturnStatement;
  return exits && isFlagTest(statement.test) ? statement.test : null;
}

export const preferEventOverPolling = createRule({
  name: "prefer-event-over-polling",
  meta: {
    type: "suggestion",
    docs: {
      description:
        "Prefer an `Event` to a loop that polls a flag with `sleep`: set the event where the flag changes",
      recommended: true,
      requiresTypeChecking: true,
    },
    messages: {
      polling:
        "This loop polls `{{flag}}` with `sleep`: it wakes up for nothing and notices the change up to a whole sleep late. Use an `Event` (from @weft/core): `await event.wait()` here, and `event.set()` where `{{flag}}` changes.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const { sourceCode } = context;

    function isWeftSleep(node: TSESTree.AwaitExpression): boolean {
      const argument = unwrapExpression(node.argument);
      if (argument.type !== AST_NODE_TYPES.CallExpression) return false;
      const callee = weftCallee(context, argument);
      return callee?.name === "sleep" && callee.package === "@weft/core";
    }

    function checkLoop(node: Loop): void {
      if (
        node.type === AST_NODE_TYPES.ForStatement &&
        (node.init !== null || node.update !== null)
      ) {
        return;
      }
      const awaits = awaitsIn(node);
      if (awaits === null || awaits.length === 0 || !awaits.every(isWeftSleep)) return;

      const statements =
        node.body.type === AST_NODE_TYPES.BlockStatement ? node.body.body : [node.body];
      const exits: TSESTree.Expression[] = [];
      for (const statement of statements) {
        if (statement.type === AST_NODE_TYPES.EmptyStatement) continue;
        if (
          statement.type === AST_NODE_TYPES.ExpressionStatement &&
          statement.expression.type === AST_NODE_TYPES.AwaitExpression
        ) {
          continue; // a sleep: every await is one
        }
        const exit = exitTest(statement);
        if (exit === null) return;
        exits.push(exit);
      }

      const test = node.test;
      const forever =
        test === null || (test.type === AST_NODE_TYPES.Literal && test.value === true);
      let flag: TSESTree.Expression;
      if (!forever) {
        if (!isFlagTest(test)) return;
        flag = test;
      } else {
        const [first] = exits;
        if (first === undefined) return;
        flag = first;
      }
      context.report({ node, messageId: "polling", data: { flag: sourceCode.getText(flag) } });
    }

    return {
      WhileStatement: checkLoop,
      DoWhileStatement: checkLoop,
      ForStatement: checkLoop,
    };
  },
});
