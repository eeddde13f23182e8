#!/usr/bin/env node
// Consumer check (issue 13, item 7): what a user of the published packages gets.
//
//   1. packs @weft/core, @weft/net, @weft/testing, @weft/effection, @weft/trace and
//      @weft/eslint-plugin with `pnpm pack` (which applies
//      publishConfig and turns `workspace:^` into `^0.1.0`), then lints each tarball
//      with publint and @arethetypeswrong/cli (profile esm-only: ESM, and require(esm));
//   2. for each scenario — core, net and testing; @weft/core alone; @weft/core +
//      @weft/testing; @weft/core + @weft/effection (npm installs the `effection`
//      peer from the registry); @weft/core + @weft/trace (with the optional
//      @opentelemetry/api peer, and its weft-trace command) — installs the
//      tarballs with npm into a fresh project, then
//   3. type-checks a strict program against them with `skipLibCheck: false` under
//      moduleResolution `nodenext` and `bundler`, with TypeScript 5.9 and 7 and
//      @types/node 22, 24 and 26, and
//   4. runs the compiled program (ESM, plus a CommonJS file that require()s the
//      packages) on Node 24 and Node 22, both from the registry's `node` package;
//   5. installs @weft/eslint-plugin with @weft/core, eslint and typescript and
//      checks that its recommended config reports a weft mistake.
//
// Needs the packages built (`pnpm build`) and the npm registry. Everything happens in
// a temporary directory, removed at the end (WEFT_KEEP_TMP=1 keeps it). Usage:
//   node scripts/consumer-check.mjs
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PNPM = ["--yes", "pnpm@10.34.9"];
const TYPESCRIPTS = { "ts5.9": "typescript@~5.9.3", ts7: "typescript@^7.0.2" };
const TYPES_NODE = ["22", "24", "26"];
const NODES = { node24: "node@24", node22: "node@^22.12" };
const STEP_TIMEOUT_MS = 240_000;
const started = performance.now();

const tmp = mkdtempSync(join(tmpdir(), "weft-consumer-"));
const summary = [];
let failed = false;

/** Runs a command; resolves with its output, rejects with the output in the message. */
function sh(cmd, args, cwd, env = {}) {
  return new Promise((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd,
        env: {
          ...process.env,
          NO_COLOR: "1",
          FORCE_COLOR: "0",
          npm_config_update_notifier: "false",
          npm_config_fund: "false",
          npm_config_audit: "false",
          ...env,
        },
        timeout: STEP_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`,
            ),
          );
        } else resolvePromise(`${stdout}${stderr}`);
      },
    );
  });
}

/** Runs `fn` for every item with at most `limit` at a time; returns the results in order. */
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function report(name, ok, detail) {
  const line = `${ok ? "PASS" : "FAIL"}  ${name}${detail ? `  (${detail})` : ""}`;
  summary.push(line);
  console.log(line);
  if (!ok) failed = true;
}

function writeJson(path, value) {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------- the programs

const PROGRAMS = {
  // Needs @weft/core only.
  core: `import { CancelScope, currentTime, openNursery, run, sleep } from "@weft/core";
import { checkCount } from "@weft/core/validate";

export async function coreCheck(): Promise<string> {
  const order: string[] = [];
  const scopes: CancelScope[] = [new CancelScope()];
  await run(async () => {
    await openNursery(async (nursery) => {
      scopes.push(nursery.cancelScope);
      for (const [name, ms] of [["b", 20], ["a", 10]] as const) {
        nursery.startSoon(async () => {
          await sleep(ms);
          order.push(name);
        });
      }
    });
    if (currentTime() < 0) throw new Error("time went backwards");
  });
  if (order.join() !== "a,b") throw new Error(\`unexpected order: \${order.join()}\`);
  if (!scopes.every((scope) => scope instanceof CancelScope)) throw new Error("not CancelScopes");
  try {
    checkCount("count", -1);
    throw new Error("checkCount accepted -1");
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  return "core ok";
}
`,
  // Needs @weft/core + @weft/testing (main entry only: no @weft/net).
  testing: `import { currentTime, run, sleep } from "@weft/core";
import { MockClock, Sequencer } from "@weft/testing";

export async function testingCheck(): Promise<string> {
  const clock = new MockClock({ autojumpThreshold: 0 });
  const now = await run(
    async () => {
      await sleep(3_600_000);
      return currentTime();
    },
    { clock },
  );
  if (now !== 3_600_000) throw new Error(\`virtual time: \${now}\`);
  if (typeof Sequencer !== "function") throw new Error("no Sequencer");
  return "testing ok";
}
`,
  // Needs @weft/core + @weft/effection (and its peer effection).
  effection: `import { run, sleep } from "@weft/core";
import { runOperation, weftOperation } from "@weft/effection";
import { sleep as effectionSleep } from "effection";

export async function effectionCheck(): Promise<string> {
  const value = await run(
    () =>
      runOperation(function* () {
        yield* effectionSleep(1);
        const inner: number = yield* weftOperation(async () => {
          await sleep(1);
          return 41;
        });
        return inner + 1;
      }),
    { handleSignals: false },
  );
  if (value !== 42) throw new Error(\`bridged value: \${value}\`);
  return "effection ok";
}
`,
  // Needs core, net and testing.
  net: `import { run } from "@weft/core";
import { openTcpStream, serveTcp, StapledStream, type Stream } from "@weft/net";
import { Simulation } from "@weft/testing/simulation";
import { memoryStreamPair } from "@weft/testing/streams";

export async function netCheck(): Promise<string> {
  const text = await run(async () => {
    const [a, b]: [Stream, Stream] = memoryStreamPair();
    await a.sendAll(new TextEncoder().encode("hello"));
    const got = await b.receiveSome();
    await a.aclose();
    await b.aclose();
    return new TextDecoder().decode(got);
  });
  if (text !== "hello") throw new Error(\`received \${text}\`);
  if (typeof StapledStream !== "function") throw new Error("no StapledStream");
  // The simulated network (an entry that needs @weft/net): an echo by host name.
  let echoed = "";
  const sim = new Simulation({ seed: 1, latency: 5 });
  sim.host("server", () =>
    serveTcp(async (stream) => {
      for await (const chunk of stream) await stream.sendAll(chunk);
    }, 7),
  );
  sim.client("client", async () => {
    const stream = await openTcpStream("server", 7);
    await stream.sendAll(new TextEncoder().encode("sim"));
    echoed = new TextDecoder().decode(await stream.receiveSome());
    await stream.aclose();
  });
  await sim.run();
  if (echoed !== "sim") throw new Error(\`simulated echo: \${echoed}\`);
  return "net ok";
}
`,
  // Needs @weft/core + @weft/trace (and @opentelemetry/api for the subpath).
  trace: `import { moveOnAfter, openNursery, run, sleep } from "@weft/core";
import { renderTimelineSvg, TraceRecorder } from "@weft/trace";
import { openTelemetryInstrument } from "@weft/trace/opentelemetry";

export async function traceCheck(): Promise<string> {
  const recorder = new TraceRecorder({ capacity: 1_000 });
  await run(
    () =>
      openNursery(async (nursery) => {
        nursery.startSoon(() => moveOnAfter(5, () => sleep(100)), { name: "worker" });
      }),
    { instruments: [recorder, openTelemetryInstrument()] },
  );
  const file = recorder.toTraceFile();
  const svg = renderTimelineSvg(file);
  if (!svg.includes("<svg")) throw new Error("no SVG");
  if (!file.traceEvents.some((e) => e.name === "thread_name")) throw new Error("no task names");
  return "trace ok";
}
`,
};

/** main.ts and (under nodenext) require.cts for the given parts. */
function programFiles(parts) {
  const files = {};
  for (const part of parts) files[`${part}.ts`] = PROGRAMS[part];
  const fn = {
    core: "coreCheck",
    testing: "testingCheck",
    net: "netCheck",
    effection: "effectionCheck",
    trace: "traceCheck",
  };
  files["main.ts"] = `${parts.map((p) => `import { ${fn[p]} } from "./${p}.js";`).join("\n")}

const results: string[] = [];
${parts.map((p) => `results.push(await ${fn[p]}());`).join("\n")}
console.log(\`esm: \${results.join(", ")} on Node \${process.versions.node}\`);
`;
  // require(esm): Node >= 22.12 loads an ES module from require(); TypeScript >= 5.8
  // allows it under module nodenext.
  const pkgs = {
    core: "@weft/core",
    testing: "@weft/testing",
    net: "@weft/net",
    effection: "@weft/effection",
    trace: "@weft/trace",
  };
  files["require.cts"] = `${parts.map((p, i) => `import m${i} = require("${pkgs[p]}");`).join("\n")}

const names: string[] = [${parts.map((_, i) => `Object.keys(m${i}).length > 0 ? "${pkgs[parts[i]]}" : ""`).join(", ")}];
if (names.includes("")) throw new Error("require() returned an empty module");
console.log(\`cjs: require() of \${names.join(", ")} on Node \${process.versions.node}\`);
`;
  return files;
}

function tsconfig(resolution, typeRoot, emit) {
  const nodenext = resolution === "nodenext";
  return {
    compilerOptions: {
      target: "ES2023",
      lib: ["ES2023", "ESNext.Disposable"],
      module: nodenext ? "nodenext" : "esnext",
      moduleResolution: resolution,
      strict: true,
      skipLibCheck: false,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: nodenext,
      types: ["node"],
      typeRoots: [typeRoot],
      ...(emit ? { outDir: "out", noEmit: false } : { noEmit: true }),
    },
    include: nodenext ? ["src/**/*.ts", "src/**/*.cts"] : ["src/**/*.ts"],
  };
}

// ---------------------------------------------------------------- the steps

async function pack() {
  const dest = join(tmp, "tarballs");
  mkdirSync(dest);
  const tarballs = {};
  for (const name of ["core", "net", "testing", "effection", "trace", "eslint-plugin"]) {
    const dir = join(root, "packages", name);
    if (!existsSync(join(dir, "dist", "index.d.ts"))) {
      throw new Error(`packages/${name}/dist is missing: run \`pnpm build\` first`);
    }
    await sh("npx", [...PNPM, "pack", "--pack-destination", dest], dir);
    const file = readdirSync(dest).find((f) => f.startsWith(`weft-${name}-`));
    if (!file) throw new Error(`no tarball for @weft/${name}`);
    tarballs[name] = join(dest, file);
  }
  return tarballs;
}

async function lint(tarballs) {
  const bin = (name) => join(root, "node_modules", ".bin", name);
  for (const [name, tarball] of Object.entries(tarballs)) {
    // publint lints a directory: the unpacked tarball, as a registry would serve it.
    const dir = join(tmp, "unpacked", name);
    mkdirSync(dir, { recursive: true });
    await sh("tar", ["-xzf", tarball, "-C", dir, "--strip-components=1"], tmp);
    try {
      const out = await sh(bin("publint"), ["run", dir, "--strict", "--pack", "false"], root);
      report(`publint @weft/${name}`, true, out.trim().split("\n").at(-1));
    } catch (error) {
      console.log(error.message);
      report(`publint @weft/${name}`, false);
    }
    try {
      await sh(bin("attw"), [tarball, "--profile", "esm-only", "--format", "table-flipped"], root);
      report(`attw @weft/${name} (esm-only profile)`, true, "no problems");
    } catch (error) {
      console.log(error.message);
      report(`attw @weft/${name} (esm-only profile)`, false);
    }
  }
}

/** Compilers, @types/node versions and Node binaries, shared by every scenario. */
async function tools() {
  const dir = join(tmp, "tools");
  mkdirSync(dir);
  writeJson(join(dir, "package.json"), { name: "tools", private: true });
  const specs = [
    ...Object.entries(TYPESCRIPTS).map(([alias, spec]) => `${alias}@npm:${spec}`),
    ...TYPES_NODE.map((v) => `types-node-${v}@npm:@types/node@${v}`),
    ...Object.entries(NODES).map(([alias, spec]) => `${alias}@npm:${spec}`),
  ];
  await sh("npm", ["install", "--no-package-lock", ...specs], dir);
  // typeRoots directories with a `node` entry, one per @types/node version.
  const typeRoots = {};
  for (const v of TYPES_NODE) {
    const typeRoot = join(dir, `types-${v}`);
    mkdirSync(typeRoot);
    symlinkSync(join(dir, "node_modules", `types-node-${v}`), join(typeRoot, "node"));
    typeRoots[v] = typeRoot;
  }
  const tsc = {};
  for (const alias of Object.keys(TYPESCRIPTS)) {
    tsc[alias] = join(dir, "node_modules", alias, "bin", "tsc");
  }
  const nodes = {};
  for (const alias of Object.keys(NODES)) {
    nodes[alias] = join(dir, "node_modules", alias, "bin", "node");
    const version = (await sh(nodes[alias], ["--version"], dir)).trim();
    const tscVersions = await Promise.all(
      Object.values(tsc).map(async (t) =>
        (await sh(process.execPath, [t, "--version"], dir)).trim(),
      ),
    );
    if (alias === "node24") console.log(`tools: ${tscVersions.join(", ")}`);
    console.log(`tools: ${alias} = ${version}`);
  }
  return { typeRoots, tsc, nodes };
}

async function scenario(label, packages, parts, tarballs, t, extras = []) {
  const t0 = performance.now();
  const dir = join(tmp, label.replace(/\W+/g, "-"));
  mkdirSync(join(dir, "src"), { recursive: true });
  writeJson(join(dir, "package.json"), { name: "weft-consumer", private: true, type: "module" });
  await sh(
    "npm",
    ["install", "--no-package-lock", ...packages.map((p) => tarballs[p]), ...extras],
    dir,
  );
  // What is installed: exactly the packages asked for (no @weft package dragged in).
  const installed = ["core", "effection", "net", "testing", "trace"].filter((p) =>
    existsSync(join(dir, "node_modules", "@weft", p)),
  );
  if (installed.join() !== [...packages].sort().join()) {
    throw new Error(
      `${label}: installed @weft/{${installed.join(",")}}, expected @weft/{${packages.join(",")}}`,
    );
  }
  for (const [file, text] of Object.entries(programFiles(parts)))
    writeFileSync(join(dir, "src", file), text);

  // Type checks: resolution x TypeScript x @types/node.
  const checks = [];
  for (const resolution of ["nodenext", "bundler"]) {
    for (const ts of Object.keys(t.tsc)) {
      for (const v of TYPES_NODE) checks.push({ resolution, ts, v });
    }
  }
  const results = await pool(checks, 4, async ({ resolution, ts, v }) => {
    const config = join(dir, `tsconfig.${resolution}.${ts}.${v}.json`);
    writeJson(config, tsconfig(resolution, t.typeRoots[v], false));
    try {
      await sh(process.execPath, [t.tsc[ts], "-p", config], dir);
      return null;
    } catch (error) {
      return `${resolution}/${ts}/@types/node@${v}: ${error.message}`;
    }
  });
  const problems = results.filter((r) => r !== null);
  for (const e of problems) console.log(e);

  // Emit with TypeScript 5.9 (nodenext) and run on both Nodes: ESM, then require(esm).
  const emitConfig = join(dir, "tsconfig.emit.json");
  writeJson(emitConfig, tsconfig("nodenext", t.typeRoots["24"], true));
  // tsc emits even when it reports errors (already counted above): run what it wrote.
  await sh(process.execPath, [t.tsc["ts5.9"], "-p", emitConfig], dir).catch(() => {});
  const runs = [];
  for (const [alias, node] of Object.entries(t.nodes)) {
    for (const file of ["main.js", "require.cjs"]) {
      try {
        const out = await sh(node, [join("out", file)], dir);
        runs.push(`${alias}: ${out.trim()}`);
      } catch (error) {
        problems.push(`${alias} ${file}: ${error.message}`);
        console.log(`${alias} ${file}: ${error.message}`);
      }
    }
  }
  if (packages.includes("trace")) {
    // The weft-trace command, as npm linked it: a trace in, a timeline out.
    try {
      writeFileSync(
        join(dir, "trace.json"),
        JSON.stringify({
          traceEvents: [],
          displayTimeUnit: "ms",
          otherData: { weft: { version: 1, dropped: 0 } },
        }),
      );
      await sh(
        join(dir, "node_modules", ".bin", "weft-trace"),
        ["trace.json", "-o", "timeline.html"],
        dir,
      );
      if (!existsSync(join(dir, "timeline.html"))) throw new Error("no timeline.html written");
      runs.push("weft-trace: trace.json -> timeline.html");
    } catch (error) {
      problems.push(`weft-trace: ${error.message}`);
      console.log(`weft-trace: ${error.message}`);
    }
  }
  for (const r of runs) console.log(`  ${r}`);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  report(
    `consumer: ${label}`,
    problems.length === 0,
    `${checks.length - results.filter((r) => r !== null).length}/${checks.length} tsc configs clean, ${runs.length}/${packages.includes("trace") ? 5 : 4} runs ok, ${secs}s`,
  );
}

/**
 * @weft/eslint-plugin as a user installs it: with @weft/core, eslint and
 * typescript from the registry, its recommended config finds `sleep(0)` in a
 * TypeScript file (type-aware: through @weft/core's published types).
 */
async function eslintPluginScenario(tarballs) {
  const label = "@weft/eslint-plugin (recommended config, on @weft/core's published types)";
  const t0 = performance.now();
  const dir = join(tmp, "eslint-plugin");
  mkdirSync(join(dir, "src"), { recursive: true });
  writeJson(join(dir, "package.json"), {
    name: "weft-lint-consumer",
    private: true,
    type: "module",
  });
  writeJson(join(dir, "tsconfig.json"), {
    compilerOptions: { target: "ES2023", module: "nodenext", strict: true, noEmit: true },
    include: ["src/**/*.ts"],
  });
  writeFileSync(
    join(dir, "eslint.config.js"),
    'import weft from "@weft/eslint-plugin";\nexport default [weft.configs.recommended];\n',
  );
  writeFileSync(
    join(dir, "src", "main.ts"),
    'import { sleep } from "@weft/core";\nexport async function main(): Promise<void> {\n  await sleep(0);\n}\n',
  );
  try {
    await sh(
      "npm",
      [
        "install",
        "--no-package-lock",
        tarballs.core,
        tarballs["eslint-plugin"],
        "eslint@10",
        "typescript@5.9",
      ],
      dir,
    );
    const output = await sh("npx", ["eslint", "src"], dir).then(
      () => "",
      (error) => error.message,
    );
    const found = output.includes("weft/no-sleep-zero");
    if (!found) console.log(output);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    report(`consumer: ${label}`, found, found ? `sleep(0) reported, ${secs}s` : "not reported");
  } catch (error) {
    console.log(error.message);
    report(`consumer: ${label}`, false);
  }
}

// ---------------------------------------------------------------- main

try {
  const tarballs = await pack();
  console.log(
    `packed: ${Object.values(tarballs)
      .map((f) => f.split("/").at(-1))
      .join(", ")}`,
  );
  await lint(tarballs);
  const t = await tools();
  const scenarios = [
    [
      "all three (@weft/core + @weft/net + @weft/testing)",
      ["core", "net", "testing"],
      ["core", "net", "testing"],
    ],
    ["@weft/core alone", ["core"], ["core"]],
    ["@weft/core + @weft/testing", ["core", "testing"], ["core", "testing"]],
    ["@weft/core + @weft/effection", ["core", "effection"], ["core", "effection"]],
    [
      "@weft/core + @weft/trace (+ @opentelemetry/api)",
      ["core", "trace"],
      ["core", "trace"],
      ["@opentelemetry/api@^1.9.0"],
    ],
  ];
  for (const [label, packages, parts, extras] of scenarios) {
    try {
      await scenario(label, packages, parts, tarballs, t, extras);
    } catch (error) {
      console.log(error.message);
      report(`consumer: ${label}`, false);
    }
  }
  await eslintPluginScenario(tarballs);
} catch (error) {
  console.log(error.stack ?? error.message);
  report("consumer check", false, "could not run");
} finally {
  if (process.env.WEFT_KEEP_TMP) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

console.log(`\n--- consumer check summary (${((performance.now() - started) / 1000).toFixed(0)}s)`);
for (const line of summary) console.log(line);
process.exitCode = failed ? 1 : 0;
