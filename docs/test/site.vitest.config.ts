import * as path from "node:path";
import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

/**
 * `pnpm docs:test`: the tests of the built site, which `pnpm test` leaves out (they need
 * `pnpm docs:build` first; they do not build it themselves): the API coverage check
 * (api-coverage.test.ts) and the crawl in headless Chromium (site.browser.test.ts).
 */
const conditions = ["weft-source", ...defaultServerConditions.filter((c) => c !== "module")];

export default defineConfig({
  root: path.resolve(import.meta.dirname, "../.."),
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["docs/test/site*.test.ts", "docs/test/api*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
