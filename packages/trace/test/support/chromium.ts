/**
 * The system's Chromium, for the tests that drive a real browser with puppeteer-core (the
 * timeline's, and the docs site's): Debian's `chromium` package, which `.ci/run` installs.
 */
import { execFileSync } from "node:child_process";

/** The path of a Chromium on the PATH, or undefined when there is none. */
export function findChromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const found = execFileSync("which", [name], { encoding: "utf8" }).trim();
      if (found !== "") return found;
    } catch {
      // not on the PATH
    }
  }
  return undefined;
}
