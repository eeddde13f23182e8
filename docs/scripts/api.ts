/**
 * Generates the API reference (docs/api/, gitignored) from the packages' TSDoc with TypeDoc,
 * typedoc-plugin-markdown and typedoc-vitepress-theme, and the sidebar the VitePress config
 * imports (docs/api/typedoc-sidebar.json).
 *
 * - Entry points: every entry of every package's `exports` map, through its "weft-source"
 *   condition (the TypeScript sources), each module named by its import specifier
 *   (`@weft/core`, `@weft/core/streams`, `@weft/testing/vitest`…).
 * - Validation: an export that is not documented, a `{@link}` that does not resolve, a type
 *   referenced but not exported: TypeDoc warns, and a warning fails the generation.
 * - "Used in": each export's section lists the pages whose ```ts samples import it (read with
 *   `allSamples()` and the TypeScript compiler).
 *
 * Usage (Node 24 strips the types): node --conditions=weft-source docs/scripts/api.ts
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  Application,
  Comment,
  Converter,
  DeclarationReflection,
  type ProjectReflection,
  ReflectionKind,
} from "typedoc";
import { MarkdownPageEvent } from "typedoc-plugin-markdown";
import { entryPoints } from "../../packages/core/test/support/public-surface.ts";
import { repairAnchors } from "./api-anchors.ts";
import { importsOfSamples, pageTitle } from "./api-usage.ts";
import { repositoryRoot } from "./markdown-samples.ts";

const DOCS = path.join(repositoryRoot, "docs");

/** What @weft/core re-exports from ts-results-es (which has no TSDoc), as its reference says. */
const EXTERNAL_SUMMARIES = new Map([
  [
    "Result",
    "From ts-results-es (re-exported): an `Ok<T>` or an `Err<E>`, as `capture()` returns it.",
  ],
  ["Ok", "From ts-results-es (re-exported): a successful `Result`, `Ok(value)`."],
  ["Err", "From ts-results-es (re-exported): a failed `Result`, `Err(error)`."],
]);
const OUT = path.join(DOCS, "api");

/**
 * Generates docs/api/; throws when TypeDoc reports an error or a warning. Returns how many links'
 * anchors were repaired.
 */
export async function generateApi(): Promise<number> {
  const entries = entryPoints();
  const moduleNames = new Map([...entries].map(([specifier, file]) => [file, specifier]));
  const app = await Application.bootstrapWithPlugins({
    entryPoints: [...entries.values()],
    entryPointStrategy: "resolve",
    tsconfig: path.join(DOCS, "scripts", "tsconfig.api.json"),
    plugin: ["typedoc-plugin-markdown", "typedoc-vitepress-theme"],
    out: OUT,
    // typedoc-vitepress-theme: the site's root, for the sidebar's links.
    docsRoot: DOCS,
    sidebar: { autoConfiguration: true, format: "vitepress", pretty: true, collapsed: true },
    readme: "none",
    entryFileName: "index",
    outputFileStrategy: "modules",
    hidePageHeader: true,
    hideBreadcrumbs: true,
    useCodeBlocks: true,
    // Angle brackets and braces in comments (Node's own, inherited: `<string|buffer>`) are text,
    // not HTML or Vue interpolation.
    sanitizeComments: true,
    expandObjects: false,
    parametersFormat: "table",
    excludePrivate: true,
    excludeProtected: false,
    excludeInternal: true,
    // Err, Ok and Result are re-exported from ts-results-es: they are documented too.
    excludeExternals: false,
    sort: ["kind", "instance-first", "alphabetical-ignoring-documents"],
    githubPages: false,
    disableSources: true,
    // Every package's exports must be documented (TypeDoc's default is the root package only).
    packagesRequiringDocumentation: [...new Set([...entries.keys()].map(packageOf))],
    validation: { notExported: true, invalidLink: true, notDocumented: true, rewrittenLink: true },
    treatWarningsAsErrors: true,
    logLevel: "Warn",
  } as Parameters<typeof Application.bootstrapWithPlugins>[0]);

  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile();
    if (file === undefined) return;
    if (reflection.kindOf(ReflectionKind.Module)) {
      // Each module is named by its import specifier, not by its file's path.
      const name = moduleNames.get(path.resolve(file.fileName));
      if (name !== undefined) reflection.name = name;
      return;
    }
    // Re-exports from a dependency that has no TSDoc (ts-results-es): a summary of our own.
    const summary = EXTERNAL_SUMMARIES.get(reflection.name);
    if (summary === undefined || reflection.comment !== undefined) return;
    if (!file.fileName.includes("/node_modules/ts-results-es/")) return;
    reflection.comment = new Comment([{ kind: "text", text: summary }]);
  });

  // "Used in": the pages whose samples import an export, under the export's section.
  const usage = importsOfSamples();
  app.renderer.on(MarkdownPageEvent.END, (page) => {
    if (page.contents === undefined || !(page.model instanceof DeclarationReflection)) return;
    if (page.model.kindOf(ReflectionKind.Module)) {
      page.contents = appendUsage(page.contents, usage.get(page.model.name));
    } else if (page.model.kindOf(ReflectionKind.Namespace) && page.model.parent !== undefined) {
      // A namespace's page (`lowlevel`): the pages that import it, under its title, and its
      // members' sections.
      const imported = usage.get(page.model.parent.name);
      const prefix = `${page.model.name}.`;
      const members = new Map(
        [...(imported ?? [])]
          .filter(([name]) => name.startsWith(prefix))
          .map(([name, pages]) => [name.slice(prefix.length), pages] as const),
      );
      const lines = appendUsage(page.contents, members).split("\n");
      const pages = imported?.get(page.model.name);
      const title = lines.findIndex((line) => line.startsWith("# "));
      if (pages !== undefined && title !== -1) lines.splice(title + 1, 0, "", usedIn(pages));
      page.contents = lines.join("\n");
    }
  });

  const project = await app.convert();
  if (project === undefined) throw new Error("TypeDoc could not convert the sources");
  app.validate(project);
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    throw new Error("TypeDoc reported warnings or errors (see above): fix the TSDoc");
  }
  fs.rmSync(OUT, { recursive: true, force: true });
  await app.generateOutputs(project);
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    throw new Error("TypeDoc reported warnings or errors while rendering (see above)");
  }
  writeIndex(project);
  const anchors = repairAnchors(OUT);
  if (anchors.unresolved.length > 0) {
    throw new Error(`links to missing anchors in docs/api:\n${anchors.unresolved.join("\n")}`);
  }
  return anchors.repaired;
}

/** `@weft/core/streams` → `@weft/core`. */
function packageOf(specifier: string): string {
  return specifier.split("/").slice(0, 2).join("/");
}

/**
 * Adds "Used in: [Page](/guides/page) …" to the section of every export of a module page that
 * the samples import: after the export's signature and description, before its details
 * (parameters, members) or the `***` rule that closes the section.
 */
function appendUsage(contents: string, imported: Map<string, Set<string>> | undefined): string {
  if (imported === undefined) return contents;
  const out: string[] = [];
  let pending: string | undefined;
  const flush = (): void => {
    if (pending === undefined) return;
    let end = out.length;
    while (end > 0 && out[end - 1]!.trim() === "") end--;
    if (end > 0 && out[end - 1] === "***") {
      end--;
      while (end > 0 && out[end - 1]!.trim() === "") end--;
    }
    out.splice(end, 0, "", pending, "");
    pending = undefined;
  };
  let fence = false;
  for (const line of contents.split("\n")) {
    if (/^\s*```/.test(line)) fence = !fence;
    const heading = fence ? null : /^(#{1,6})\s+(.+?)\s*$/.exec(line);
    if (heading !== null) {
      flush();
      const name = heading[2]!.replaceAll("\\", "").replace(/\(\)$/, "");
      const pages = heading[1] === "###" ? imported.get(name) : undefined;
      if (pages !== undefined && pages.size > 0) pending = usedIn(pages);
    }
    out.push(line);
  }
  flush();
  return out.join("\n");
}

/** `**Used in:** [Page](/guides/page) · …` */
function usedIn(pages: ReadonlySet<string>): string {
  return `**Used in:** ${[...pages]
    .sort()
    .map((page) => `[${pageTitle(page)}](${page})`)
    .join(" · ")}`;
}

/** docs/api/index.md: the packages' entry points, one line each. */
function writeIndex(project: ProjectReflection): void {
  const modules = project.getChildrenByKind(ReflectionKind.Module);
  const lines = [
    "# API reference",
    "",
    "Generated from the packages' TSDoc. Each entry point is named by its import specifier.",
    "",
    "| Entry point | |",
    "| --- | --- |",
    ...modules.map((module) => {
      // A module with namespaces gets a folder (`@weft/core/index.md`), the others a page.
      const folder = fs.existsSync(path.join(OUT, module.name, "index.md"));
      const link = folder ? `./${module.name}/` : `./${module.name}`;
      const summary = module.comment?.summary.map((part) => part.text).join("") ?? "";
      const firstSentence = summary.split(/(?<=\.)\s/)[0]!.replaceAll("\n", " ");
      return `| [\`${module.name}\`](${link}) | ${firstSentence.replaceAll("|", "\\|")} |`;
    }),
    "",
  ];
  // typedoc-plugin-markdown's own index (readme: none) stays unless we replace it.
  fs.writeFileSync(path.join(OUT, "index.md"), lines.join("\n"));
}

if (import.meta.main) {
  const started = performance.now();
  const repaired = await generateApi();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`API reference generated in docs/api/ (${seconds} s; ${repaired} anchors repaired)`);
}
