/** Capturing what an example prints, for the tests that run examples end to end. */
import { vi } from "vitest";

/** Runs `main` with console.log captured; returns the printed lines. */
export async function captureLines(main: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  });
  try {
    await main();
  } finally {
    spy.mockRestore();
  }
  return lines.flatMap((line) => line.split("\n"));
}
