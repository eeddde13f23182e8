/**
 * Repairs the anchors of the generated API reference's links. typedoc-vitepress-theme guesses
 * the id VitePress gives a heading, and sometimes guesses wrong: `#retransmission_timeout` for
 * the heading `RETRANSMISSION_TIMEOUT` (VitePress: `retransmission-timeout`), or a `-1` suffix
 * where the page has one heading of that name. Each link whose anchor is not an id of its target
 * page is pointed at the id the heading really gets, when one matches; the site's browser test
 * (docs/test/site.browser.test.ts) checks every anchor of the built site.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** VitePress's default heading slug (@mdit-vue/shared's `slugify`, which VitePress bundles). */
export function slugify(text: string): string {
  const printable = [...text.normalize("NFKD")].filter((c) => c.charCodeAt(0) >= 0x20).join("");
  return printable
    .replaceAll(/[\u0300-\u036F]/g, "")
    .replaceAll(/[\s~`!@#$%^&*()\-_+=[\]{}|\\;:"'“”‘’<>,.?/]+/g, "-")
    .replaceAll(/-{2,}/g, "-")
    .replaceAll(/^-+|-+$/g, "")
    .replace(/^(\d)/, "_$1")
    .toLowerCase();
}

/** The ids of a markdown page: its headings' slugs (repeats get -1, -2…) and `<a id>` tags. */
export function idsOf(markdown: string): Set<string> {
  const ids = new Set<string>();
  const counts = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const fenceMatch = /^\s*(`{3,})/.exec(line);
    if (fenceMatch !== null) {
      fence = fence === undefined ? fenceMatch[1] : undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const heading = /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (heading !== null) {
      const text = heading[1]!
        .replaceAll(/\\(.)/g, "$1")
        .replaceAll(/\[([^\]]*)\]\([^)]*\)/g, "$1")
        .replaceAll("`", "");
      const slug = slugify(text);
      const seen = counts.get(slug) ?? 0;
      counts.set(slug, seen + 1);
      ids.add(seen === 0 ? slug : `${slug}-${seen}`);
    }
    for (const anchor of line.matchAll(/<a id="([^"]+)"/g)) ids.add(anchor[1]!);
  }
  return ids;
}

/** Rewrites, in every .md of `folder`, the links whose anchor is not an id of their target. */
export function repairAnchors(folder: string): { repaired: number; unresolved: string[] } {
  const pages = new Map<string, string>();
  const walk = (directory: string): void => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".md")) pages.set(full, fs.readFileSync(full, "utf8"));
    }
  };
  walk(folder);
  const ids = new Map([...pages].map(([file, text]) => [file, idsOf(text)]));
  let repaired = 0;
  const unresolved: string[] = [];
  for (const [file, text] of pages) {
    const rewritten = text.replaceAll(
      /\]\(([^)#\s]*)#([^)\s]+)\)/g,
      (link, target: string, anchor: string) => {
        if (/^[a-z]+:/.test(target)) return link;
        const targetFile = target === "" ? file : path.resolve(path.dirname(file), target);
        const targetIds = ids.get(targetFile);
        if (targetIds === undefined || targetIds.has(anchor)) return link;
        const candidates = [
          anchor.replaceAll("_", "-"),
          anchor.replace(/-\d+$/, ""),
          anchor.replaceAll("_", "-").replace(/-\d+$/, ""),
        ];
        const found = candidates.find((candidate) => targetIds.has(candidate));
        if (found === undefined) {
          unresolved.push(`${path.relative(folder, file)}: ${link.slice(2, -1)}`);
          return link;
        }
        repaired++;
        return `](${target}#${found})`;
      },
    );
    if (rewritten !== text) fs.writeFileSync(file, rewritten);
  }
  return { repaired, unresolved };
}
