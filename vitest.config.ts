import { defaultServerConditions } from "vite";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * Workspace packages (`@weft/*`) are resolved to their TypeScript sources through the
 * "weft-source" export condition, the same condition `tsc` uses (customConditions) and
 * `pnpm demo` passes to Node (`--conditions=weft-source`), so tests never need a build.
 * Vitest drops Vite's `module` condition for Node-side code; so do we.
 */
const conditions = ["weft-source", ...defaultServerConditions.filter((c) => c !== "module")];

const packages = ["core", "net", "testing", "effection", "trace", "eslint-plugin"] as const;

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // One project per package: `pnpm test --project @weft/core` runs one package.
    projects: [
      ...packages.map((name) => ({
        extends: true,
        test: {
          name: `@weft/${name}`,
          include: [`packages/${name}/test/**/*.test.ts`],
        },
      })),
      // The soak's own logic (its trend test); the soak run itself is `pnpm soak`.
      { extends: true, test: { name: "@weft/soak", include: ["soak/test/**/*.test.ts"] } },
      // The documentation's checks that need no built site; the site's own tests
      // (docs/test/site*.test.ts, api*.test.ts: the browser crawl, the API coverage) run in `pnpm docs:test`.
      {
        extends: true,
        test: {
          name: "@weft/docs",
          include: ["docs/test/**/*.test.ts"],
          // Samples run on real time in child processes: two at a time keeps a 2-core
          // machine's timers punctual enough for their output.
          maxConcurrency: 2,
          exclude: [...configDefaults.exclude, "docs/test/site*.test.ts", "docs/test/api*.test.ts"],
        },
      },
    ],
    environment: "node",
    // The default report, then a plain `N passed, N failed` closing line.
    reporters: ["default", "./scripts/summary-reporter.ts"],
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // A package with no tests yet must not fail the run.
    passWithNoTests: true,
  },
});
