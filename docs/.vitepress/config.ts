/**
 * weft's documentation site (VitePress, rooted at docs/): the guides, the design notes, the
 * performance figures and the API reference that docs/scripts/api.ts generates from the
 * packages' TSDoc into docs/api/ (gitignored), with its sidebar (docs/api/typedoc-sidebar.json).
 *
 * `pnpm docs:dev` / `pnpm docs:build` generate the API reference first; without it (a bare
 * `vitepress dev docs`) the site still loads, with an API sidebar that says how to generate it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type DefaultTheme, defineConfig } from "vitepress";

const API_SIDEBAR = path.join(import.meta.dirname, "..", "api", "typedoc-sidebar.json");

/** The generated API sidebar, or a pointer to the generator when docs/api is missing. */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  if (!fs.existsSync(API_SIDEBAR)) {
    return [{ text: "Not generated: run pnpm docs:dev", link: "/" }];
  }
  const items = JSON.parse(fs.readFileSync(API_SIDEBAR, "utf8")) as DefaultTheme.SidebarItem[];
  return stripMarkdownExtension(items);
}

/** typedoc-vitepress-theme links pages as `…/page.md`; VitePress's clean links have no `.md`. */
function stripMarkdownExtension(items: DefaultTheme.SidebarItem[]): DefaultTheme.SidebarItem[] {
  return items.map((item) => ({
    ...item,
    ...(item.link === undefined ? {} : { link: item.link.replace(/\.md$/, "") }),
    ...(item.items === undefined ? {} : { items: stripMarkdownExtension(item.items) }),
  }));
}

/** The guides, design notes and performance page: one sidebar for every page but the API's. */
const guideSidebar: DefaultTheme.SidebarItem[] = [
  { text: "Start", items: [{ text: "Tutorial", link: "/guides/tutorial" }] },
  {
    text: "Coming from",
    items: [
      { text: "asyncio", link: "/guides/from-asyncio" },
      { text: "Trio", link: "/guides/from-trio" },
      { text: "Effection & Effect", link: "/guides/from-effection-and-effect" },
    ],
  },
  {
    text: "Guides",
    items: [
      { text: "Networking", link: "/guides/networking" },
      { text: "HTTP server", link: "/guides/http-server" },
      { text: "Files", link: "/guides/files" },
      { text: "Processes", link: "/guides/processes" },
      { text: "Workers", link: "/guides/workers" },
      { text: "Signals", link: "/guides/signals" },
      { text: "Async generators", link: "/guides/async-generators" },
    ],
  },
  {
    text: "Testing",
    items: [
      { text: "Testing", link: "/guides/testing" },
      { text: "Testing distributed systems", link: "/guides/testing-distributed-systems" },
    ],
  },
  {
    text: "Observability",
    items: [
      { text: "Observability", link: "/guides/observability" },
      { text: "Seeing your tasks", link: "/guides/seeing-your-tasks" },
      { text: "OpenTelemetry", link: "/guides/opentelemetry" },
    ],
  },
  { text: "Tooling", items: [{ text: "Lint rules", link: "/guides/lint-rules" }] },
  {
    text: "Design notes",
    collapsed: true,
    items: [
      { text: "Overview", link: "/design/" },
      { text: "Architecture", link: "/design/ARCHITECTURE" },
      { text: "Semantics", link: "/design/SEMANTICS" },
      { text: "API contract", link: "/design/API" },
      { text: "Style", link: "/design/STYLE" },
    ],
  },
  { text: "Performance", items: [{ text: "Benchmarks and soak", link: "/performance" }] },
  { text: "API reference", items: [{ text: "Packages", link: "/api/" }] },
];

export default defineConfig({
  title: "weft",
  description:
    "Structured concurrency for TypeScript on Node.js: nurseries, cancel scopes and timeouts " +
    "in the style of Python's Trio, with deterministic testing and traces.",
  lang: "en-US",
  cleanUrls: true,
  lastUpdated: false,
  head: [["link", { rel: "icon", type: "image/svg+xml", href: "/favicon.svg" }]],
  // Pages only: the tooling, its tests and anything else under docs/ is not part of the site.
  srcExclude: [
    "test/**",
    "scripts/**",
    "node_modules/**",
    "**/node_modules/**",
    "bench/**",
    "soak/**",
    "trace/**",
    "README.md",
  ],
  // Dead links fail the build (VitePress's default): nothing is ignored.
  markdown: {
    theme: { light: "github-light", dark: "github-dark" },
  },
  themeConfig: {
    nav: [
      { text: "Guide", link: "/guides/tutorial", activeMatch: "^/guides/(?!from-)" },
      {
        text: "Coming from…",
        items: [
          { text: "asyncio", link: "/guides/from-asyncio" },
          { text: "Trio", link: "/guides/from-trio" },
          { text: "Effection & Effect", link: "/guides/from-effection-and-effect" },
        ],
      },
      { text: "API", link: "/api/", activeMatch: "^/api/" },
      { text: "Design", link: "/design/", activeMatch: "^/design/" },
    ],
    sidebar: {
      "/api/": [{ text: "API reference", link: "/api/", items: apiSidebar() }],
      "/": guideSidebar,
    },
    search: { provider: "local" },
    outline: { level: [2, 3] },
    socialLinks: [],
    // Shown on pages without a sidebar (the home page).
    footer: {
      message: 'MIT licensed · <a href="/contributing">Contributing to the documentation</a>',
    },
  },
});
