/**
 * `rules` in src/rules/index.ts documents each rule (for the API reference) with the rule's own
 * one-line description: the two must say the same thing, or one of them has drifted.
 */
import * as fs from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { rules } from "../src/index.ts";

const file = new URL("../src/rules/index.ts", import.meta.url);
const source = ts.createSourceFile(
  file.pathname,
  fs.readFileSync(file, "utf8"),
  ts.ScriptTarget.Latest,
  true,
);

/** Each property of the `rules` object literal and the text of its TSDoc comment. */
function documentedRules(): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && ts.isStringLiteral(node.name)) {
      const doc = ts
        .getJSDocCommentsAndTags(node)
        .map((comment) => ts.getTextOfJSDocComment(comment.comment) ?? "")
        .join(" ");
      found.set(node.name.text, doc.replaceAll(/\s+/g, " ").trim());
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("the rules' TSDoc in src/rules/index.ts", () => {
  const documented = documentedRules();

  it("documents every rule", () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(rules).sort());
  });

  it.each(Object.entries(rules))("%s: its TSDoc is the rule's description", (name, rule) => {
    // The TSDoc is a sentence: the description with a full stop.
    expect(documented.get(name)).toBe(`${rule.meta.docs?.description}.`);
  });
});
