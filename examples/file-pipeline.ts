// Automation with files (seeds 000, 001 and 004: file processing, many files
// at once, reading in chunks): several files read at once, line by line, a
// summary written out, and a search across all of them where the first match
// cancels the rest.
// Files are weft streams (`openFile` from @weft/net), so `BufferedReceiveStream`
// reads their lines like a socket's, and cancellation reaches them: a search
// cancelled mid-file has closed its file before the race returns.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mapConcurrent, openNursery, race, run } from "@weft/core";
import {
  BufferedReceiveStream,
  type FileStream,
  openFile,
  readTextFile,
  writeFile,
} from "@weft/net";

const VOCABULARY = (
  "the river ran past a mill where an old miller kept seven cats and a lantern " +
  "that burned all night while wind moved over the hills and rain fell on roofs"
).split(" ");
/** Chapters and their lengths in lines: different sizes, so they finish apart. */
const CHAPTERS = [
  { name: "chapter-1.txt", lines: 4_000 },
  { name: "chapter-2.txt", lines: 12_000 },
  { name: "chapter-3.txt", lines: 8_000 },
  { name: "chapter-4.txt", lines: 16_000 },
];
/** The word the search looks for: early in chapter 1, near the end elsewhere. */
const NEEDLE = "zephyr";

/** Deterministic text: a small linear congruential generator picks the words. */
function chapterText(index: number, lines: number): string {
  let seed = 12345 + index;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 16; // the high bits: the low ones of an LCG repeat quickly
  };
  const needleLine = index === 0 ? 3 : lines - 5;
  const out: string[] = [];
  for (let line = 1; line <= lines; line++) {
    const words: string[] = [];
    for (let w = 4 + (next() % 8); w > 0; w--) words.push(VOCABULARY[next() % VOCABULARY.length]!);
    if (line === needleLine) words.splice(2, 0, NEEDLE);
    out.push(words.join(" "));
  }
  return `${out.join("\n")}\n`;
}

interface Counts {
  name: string;
  lines: number;
  words: number;
  topWord: string;
}

const formatNumber = (n: number): string => n.toLocaleString("en-US");

/** Counts the lines and words of one file, reading it line by line. */
async function countWords(file: string): Promise<Counts> {
  const stream = new BufferedReceiveStream(await openFile(file));
  try {
    const frequency = new Map<string, number>();
    let lines = 0;
    let words = 0;
    for await (const line of stream.lines()) {
      lines++;
      for (const word of line.split(" ")) {
        if (word === "") continue;
        words++;
        frequency.set(word, (frequency.get(word) ?? 0) + 1);
      }
    }
    const topWord = [...frequency].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
    const name = path.basename(file);
    console.log(`  ${name}: ${formatNumber(lines)} lines, ${formatNumber(words)} words`);
    return { name, lines, words, topWord };
  } finally {
    await stream.aclose(); // closes the file too
  }
}

/** Writes the summary table through a FileStream, one sendAll per row. */
async function writeSummary(file: string, counts: Counts[]): Promise<number> {
  const out = await openFile(file, "w");
  try {
    const row = (name: string, lines: string, words: string, top: string) =>
      `${name.padEnd(14)} ${lines.padStart(7)} ${words.padStart(8)}  ${top}\n`;
    const encoder = new TextEncoder();
    await out.sendAll(encoder.encode(row("file", "lines", "words", "top word")));
    for (const c of counts) {
      await out.sendAll(
        encoder.encode(row(c.name, formatNumber(c.lines), formatNumber(c.words), c.topWord)),
      );
    }
    const lines = counts.reduce((sum, c) => sum + c.lines, 0);
    const words = counts.reduce((sum, c) => sum + c.words, 0);
    await out.sendAll(encoder.encode(row("total", formatNumber(lines), formatNumber(words), "")));
    return out.position; // bytes written
  } finally {
    await out.aclose();
  }
}

/**
 * Searches every file for `word` at once; the first match wins and the other
 * searches are cancelled. Reports where each search stopped.
 */
async function searchAll(files: string[], word: string): Promise<void> {
  const opened: FileStream[] = [];
  const stops: string[] = [];
  const search = async (file: string) => {
    const name = path.basename(file);
    const fileStream = await openFile(file);
    opened.push(fileStream);
    // Its size now: the report is written in a finally that runs cancelled,
    // where a weft operation would raise at once (and a *Sync call would block).
    const { size } = await fileStream.stat();
    const stream = new BufferedReceiveStream(fileStream);
    let lineNumber = 0;
    let found = false;
    try {
      for await (const line of stream.lines()) {
        lineNumber++;
        if (line.split(" ").includes(word)) {
          found = true;
          return { name, lineNumber };
        }
      }
      return null;
    } finally {
      if (!found) {
        const read = `${formatNumber(fileStream.position)} of ${formatNumber(size)} bytes`;
        stops.push(`${name} after ${formatNumber(lineNumber)} lines (read ${read})`);
      }
      await stream.aclose();
    }
  };
  const winner = await race(...files.map((file) => () => search(file)));
  console.log(
    winner === null
      ? `  "${word}" is in none of them`
      : `  first match: ${winner.name}, line ${winner.lineNumber}`,
  );
  for (const stop of stops.sort()) console.log(`  cancelled: ${stop}`);
  console.log(`  files still open: ${opened.filter((f) => !f.closed).length} of ${opened.length}`);
}

export async function main(): Promise<void> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "weft-file-pipeline-"));
  try {
    await run(async () => {
      const files = CHAPTERS.map((c) => path.join(dir, c.name));
      // Write the inputs concurrently.
      await openNursery(async (nursery) => {
        CHAPTERS.forEach((chapter, i) => {
          nursery.startSoon(() => writeFile(files[i]!, chapterText(i, chapter.lines)));
        });
      });
      const bytes = files.reduce((sum, f) => sum + fs.statSync(f).size, 0);
      console.log(
        `wrote ${files.length} chapters (${formatNumber(bytes)} bytes) to a temporary directory`,
      );

      console.log(
        `counting words in all ${files.length} files at once (printed as each finishes):`,
      );
      const counts = await mapConcurrent(files, countWords, { limit: Infinity });

      const summary = path.join(dir, "summary.txt");
      const written = await writeSummary(summary, counts);
      console.log(`summary.txt written (${formatNumber(written)} bytes); read back:`);
      for (const line of (await readTextFile(summary)).trimEnd().split("\n")) {
        console.log(`  | ${line}`);
      }

      console.log(
        `searching all chapters for "${NEEDLE}" at once; the first match cancels the rest:`,
      );
      await searchAll(files, NEEDLE);
    });
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
    console.log("temporary directory removed");
  }
}

if (import.meta.main) await main();
