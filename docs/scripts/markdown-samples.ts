/**
 * The code samples of weft's markdown: every ```ts block of README.md, docs/**\/*.md (except
 * the generated API reference) and packages/*\/README.md, with the markers that say how it is
 * checked. Used by the samples' tests (type-check, lint, run) and by the API reference's
 * "used in" links.
 *
 * The conventions (docs/contributing.md explains them to writers):
 * - A ```ts block (its fence may carry a VitePress title: ```ts [weft], line highlights
 *   ```ts{2} or :line-numbers, and may use tildes: ~~~ts) is a complete ES module. It is
 *   type-checked and linted; nothing else is needed. ```typescript, ```tsx, ```mts and ```cts
 *   are refused (an error), not left unchecked.
 * - `<!-- sample: fragment -->` above the fence (only blank lines and other HTML comments in
 *   between) marks a block that is not a module (a signature, an excerpt): it is shown only.
 * - A ```text block with `<!-- sample: output -->` above its fence is the exact stdout of the
 *   nearest ```ts block above it in the same file: that sample is run and its output compared.
 * - A sample that prints (console.*, process.stdout) must have an output block, or say why it
 *   is not run with `<!-- sample: no-run: reason -->` (a server that runs until interrupted).
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The repository's root. */
export const repositoryRoot = path.resolve(import.meta.dirname, "../..");

/** Folders of docs/ that are not hand-written markdown (generated, dependencies, tooling). */
const IGNORED_FOLDERS = new Set(["api", "node_modules", ".vitepress", "test", "scripts"]);

/** One ```ts block. */
export interface MarkdownSample {
  /** The markdown file, relative to the repository root (posix separators). */
  readonly markdown: string;
  /** The 1-based line of the opening fence. */
  readonly line: number;
  /** The block's code, with the fence's indentation removed, ending with a newline. */
  readonly code: string;
  /** `fragment`: shown only; `no-run`: checked but not run (with `noRunReason`); else checked. */
  readonly kind: "module" | "fragment" | "no-run";
  readonly noRunReason?: string;
  /** The stdout the page shows for this sample, if it has an output block. */
  readonly output?: string;
  /** The 1-based line of the output block's fence. */
  readonly outputLine?: number;
}

/** `markdown:line`, the way failures name a sample. */
export function sampleLocation(sample: MarkdownSample): string {
  return `${sample.markdown}:${sample.line}`;
}

/** A file-name-safe id, unique per sample. */
export function sampleId(sample: MarkdownSample): string {
  return `${sample.markdown.replaceAll(/[^A-Za-z0-9]+/g, "_")}_${sample.line}`;
}

/** The hand-written markdown files whose samples are checked, relative to the root, sorted. */
export function markdownFiles(root: string = repositoryRoot): string[] {
  const found = ["README.md"];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!IGNORED_FOLDERS.has(entry.name) || dir !== "docs") walk(relative);
      } else if (entry.name.endsWith(".md")) found.push(relative);
    }
  };
  walk("docs");
  for (const pkg of fs.readdirSync(path.join(root, "packages"))) {
    if (fs.existsSync(path.join(root, "packages", pkg, "README.md"))) {
      found.push(`packages/${pkg}/README.md`);
    }
  }
  return found.sort();
}

/**
 * An opening fence: its indentation, its backticks or tildes (3 or more, CommonMark), its
 * language and what follows (a VitePress title `[weft]`, `{1,3}`, `:line-numbers`).
 */
const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([^\s`{[:]*)(.*)$/;
/**
 * Fence languages that are TypeScript but not spelled `ts`: refused rather than left unchecked.
 */
const OTHER_TYPESCRIPT = new Set(["typescript", "tsx", "mts", "cts"]);

/** Whether `line` closes a fence opened with `fence` (same character, at least as long). */
function closes(line: string, fence: string): boolean {
  const trimmed = line.trim();
  return trimmed.length >= fence.length && trimmed === fence[0]!.repeat(trimmed.length);
}
const MARKER = /^<!--\s*sample:\s*(fragment|output|no-run)(?::\s*(.*?))?\s*-->$/;

/** The markers (`<!-- sample: ... -->`) on the lines of `markdown` above line `index`. */
function markersAbove(
  markdown: string,
  lines: readonly string[],
  index: number,
): Map<string, string> {
  const markers = new Map<string, string>();
  for (let i = index - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    if (!/^<!--.*-->$/.test(line)) break;
    const marker = MARKER.exec(line);
    if (marker !== null) markers.set(marker[1]!, marker[2] ?? "");
    else if (/^<!--\s*sample\b/.test(line)) {
      throw new Error(
        `${markdown}: line ${i + 1}: unknown marker ${line} (fragment, output, no-run: reason)`,
      );
    }
  }
  return markers;
}

/** The samples of one markdown file (relative to `root`). */
export function samplesOf(markdown: string, root: string = repositoryRoot): MarkdownSample[] {
  const lines = fs.readFileSync(path.join(root, markdown), "utf8").split("\n");
  const samples: MarkdownSample[] = [];
  /** The index in `samples` of the last ```ts block, which an output block belongs to. */
  let last: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!;
    const fence = open[2]!;
    const lang = open[3]!.toLowerCase();
    const start = i;
    if (fence.startsWith("`") && open[4]!.includes("`")) continue; // inline code, not a fence
    if (OTHER_TYPESCRIPT.has(lang)) {
      throw new Error(
        `${markdown}:${start + 1}: a \`\`\`${open[3]} block is not checked: write \`\`\`ts`,
      );
    }
    const body: string[] = [];
    for (i++; i < lines.length && !closes(lines[i]!, fence); i++) {
      body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!);
    }
    const markers = markersAbove(markdown, lines, start);
    if (markers.size > 0 && lang !== "ts" && !(lang === "text" && markers.has("output"))) {
      throw new Error(
        `${markdown}:${start + 1}: a sample marker above a \`\`\`${lang} block, which is not checked`,
      );
    }
    if (markers.has("output")) {
      if (lang !== "text") {
        throw new Error(`${markdown}:${start + 1}: an output block must be a \`\`\`text block`);
      }
      if (last === undefined) {
        throw new Error(`${markdown}:${start + 1}: an output block with no \`\`\`ts block above`);
      }
      if (samples[last]!.output !== undefined) {
        throw new Error(`${markdown}:${start + 1}: a second output block for one sample`);
      }
      samples[last] = { ...samples[last]!, output: `${body.join("\n")}\n`, outputLine: start + 1 };
      continue;
    }
    if (lang !== "ts") continue;
    const kind = markers.has("fragment") ? "fragment" : markers.has("no-run") ? "no-run" : "module";
    const sample: MarkdownSample = {
      markdown,
      line: start + 1,
      code: `${body.join("\n")}\n`,
      kind,
      ...(kind === "no-run" ? { noRunReason: markers.get("no-run") } : {}),
    };
    last = samples.length;
    samples.push(sample);
  }
  return samples;
}

/** Every sample of every checked markdown file. */
export function allSamples(root: string = repositoryRoot): MarkdownSample[] {
  return markdownFiles(root).flatMap((markdown) => samplesOf(markdown, root));
}
