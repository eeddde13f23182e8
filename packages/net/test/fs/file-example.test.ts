/**
 * examples/file-pipeline.ts runs end to end: its `main()` is called with
 * `console.log` captured, and the lines that carry the point of the example
 * are checked — the word counts (the input text is deterministic), the
 * summary read back, the search whose first match cancelled the others
 * mid-file with every file closed, and the temporary directory removed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { expect, test } from "vitest";
import { main } from "../../../../examples/file-pipeline.ts";
import { captureLines } from "../../../core/test/support/console.ts";

const pipelineDirs = () =>
  fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("weft-file-pipeline-"));

test("file-pipeline: counts every file, writes the summary, the first match cancels the other searches", async () => {
  const dirsBefore = pipelineDirs();
  const lines = await captureLines(main);

  expect(lines[0]).toMatch(/^wrote 4 chapters \([\d,]+ bytes\)/);
  const counted = lines.filter((l) => /^ {2}chapter-\d\.txt: [\d,]+ lines, [\d,]+ words$/.test(l));
  expect(counted.map((l) => l.trim()).sort()).toEqual([
    "chapter-1.txt: 4,000 lines, 30,163 words",
    "chapter-2.txt: 12,000 lines, 90,309 words",
    "chapter-3.txt: 8,000 lines, 59,917 words",
    "chapter-4.txt: 16,000 lines, 120,143 words",
  ]);

  const table = lines.filter((l) => l.startsWith("  | "));
  expect(table).toHaveLength(6);
  expect(table[0]).toMatch(/file +lines +words +top word/);
  expect(table[5]).toMatch(/^ {2}\| total +40,000 +300,532$/);

  // The search: one winner, three searches cancelled before the end of their file.
  expect(lines.some((l) => /^ {2}first match: chapter-\d\.txt, line \d+$/.test(l))).toBe(true);
  const cancelled = lines
    .map((l) =>
      /^ {2}cancelled: chapter-\d\.txt after [\d,]+ lines \(read ([\d,]+) of ([\d,]+) bytes\)$/.exec(
        l,
      ),
    )
    .filter((m) => m !== null);
  expect(cancelled).toHaveLength(3);
  for (const m of cancelled) {
    const [read, size] = [m[1]!, m[2]!].map((n) => Number(n.replaceAll(",", "")));
    expect(read).toBeLessThan(size!);
  }
  expect(lines).toContain("  files still open: 0 of 4");

  expect(lines.at(-1)).toBe("temporary directory removed");
  expect(pipelineDirs()).toEqual(dirsBefore);
});
