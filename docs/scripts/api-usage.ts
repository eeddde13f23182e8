/**
 * Which pages use which exports: the import declarations of the ```ts samples of docs/**\/*.md
 * (read with `allSamples()`, parsed with the TypeScript compiler). The API reference lists,
 * under each export, the pages whose samples import it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { allSamples, repositoryRoot } from "./markdown-samples.ts";

/** `docs/guides/tutorial.md` → `/guides/tutorial` (`docs/index.md` → `/`). */
export function pageLink(markdown: string): string {
  const page = markdown.replace(/^docs\//, "").replace(/\.md$/, "");
  if (page === "index") return "/";
  return `/${page.replace(/\/index$/, "/")}`;
}

const titles = new Map<string, string>();

/** A page's title: its frontmatter `title`, else its first `# ` heading, else its file name. */
export function pageTitle(link: string): string {
  const known = titles.get(link);
  if (known !== undefined) return known;
  const base = link === "/" ? "index" : link.endsWith("/") ? `${link}index` : link;
  const file = path.join(repositoryRoot, "docs", `${base}.md`);
  let title = path.posix.basename(base);
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    const heading =
      /^title:\s*(.+)$/m.exec(text.startsWith("---") ? text.split(/^---$/m)[1]! : "") ??
      /^#\s+(.+)$/m.exec(text);
    if (heading !== null) title = heading[1]!.replaceAll("`", "").trim();
  }
  titles.set(link, title);
  return title;
}

/**
 * Entry point (`@weft/core`) → exported name (`nursery`, `lowlevel`) → the pages (links such as
 * `/guides/tutorial`) whose samples import it. A namespace import (`import * as core`) counts
 * every name used as `core.name`; an imported namespace (`import { lowlevel }`) also counts
 * its members used, as `lowlevel.dumpTasks`.
 */
export function importsOfSamples(): Map<string, Map<string, Set<string>>> {
  const usage = new Map<string, Map<string, Set<string>>>();
  const add = (entry: string, name: string, page: string): void => {
    const names = usage.get(entry) ?? new Map<string, Set<string>>();
    usage.set(entry, names);
    const pages = names.get(name) ?? new Set<string>();
    names.set(name, pages);
    pages.add(page);
  };
  for (const sample of allSamples()) {
    if (!sample.markdown.startsWith("docs/")) continue;
    const page = pageLink(sample.markdown);
    const source = ts.createSourceFile("sample.ts", sample.code, ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) {
        continue;
      }
      const entry = statement.moduleSpecifier.text;
      if (!entry.startsWith("@weft/")) continue;
      const bindings = statement.importClause?.namedBindings;
      if (bindings === undefined) continue;
      // The names used as local.name: members of a namespace import, or of an imported
      // namespace (`import { lowlevel }`, then `lowlevel.dumpTasks()`: `lowlevel.dumpTasks`).
      const membersOf = (local: string, prefix: string): void => {
        const visit = (node: ts.Node): void => {
          if (
            ts.isPropertyAccessExpression(node) &&
            ts.isIdentifier(node.expression) &&
            node.expression.text === local
          ) {
            add(entry, `${prefix}${node.name.text}`, page);
          } else if (
            ts.isQualifiedName(node) &&
            ts.isIdentifier(node.left) &&
            node.left.text === local
          ) {
            add(entry, `${prefix}${node.right.text}`, page);
          }
          ts.forEachChild(node, visit);
        };
        visit(source);
      };
      if (ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) {
          const imported = (element.propertyName ?? element.name).text;
          add(entry, imported, page);
          membersOf(element.name.text, `${imported}.`);
        }
      } else {
        // import * as weft from "@weft/core": the names used as weft.name.
        membersOf(bindings.name.text, "");
      }
    }
  }
  return usage;
}
