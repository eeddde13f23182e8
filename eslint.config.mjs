// The weft rules of @weft/eslint-plugin on the repository itself (dog-fooding;
// Biome stays the formatter and general linter). `pnpm lint:weft`; CI runs it.
// The plugin is loaded from its sources (Node 24 strips the types).
import weft from "./packages/eslint-plugin/src/index.ts";

export default [
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "packages/eslint-plugin/test/fixtures/**",
      "packages/*/test/fixtures/**",
      // Mistakes on purpose (test/corpus.test.ts), and the docs' samples, which
      // docs/test/samples.test.ts lints with this config.
      "packages/eslint-plugin/test/corpus/**",
      "docs/test/.samples/**",
      // The docs site's generated output (pnpm docs:build / docs:dev).
      "docs/.vitepress/cache/**",
      "docs/.vitepress/dist/**",
      "docs/api/**",
    ],
  },
  {
    ...weft.configs.recommended,
    files: ["packages/*/src/**/*.ts", "examples/**/*.ts", "bench/**/*.ts", "soak/**/*.ts"],
    languageOptions: {
      ...weft.configs.recommended.languageOptions,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
];
