import { noBlockingCallInTask } from "../src/rules/no-blocking-call-in-task.ts";
import { ruleTester } from "./rule-tester.ts";

const weft = 'import { sleep } from "@weft/core";\n';

ruleTester.run("no-blocking-call-in-task", noBlockingCallInTask, {
  valid: [
    // Not a weft program: the rule stays quiet.
    'import { readFileSync } from "node:fs"; async function f() { readFileSync("a"); }',
    // Synchronous code may block (start-up, a CLI's argument parsing).
    `${weft}import { readFileSync } from "node:fs"; function f() { return readFileSync("a"); }`,
    `${weft}import { readFileSync } from "node:fs"; const config = readFileSync("a");`,
    // A synchronous callback inside an async function: its own function decides.
    `${weft}import { readFileSync } from "node:fs"; async function f() { return () => readFileSync("a"); }`,
    // The asynchronous APIs are fine.
    `${weft}import { readFile } from "node:fs/promises"; async function f() { await readFile("a"); }`,
    `${weft}import * as fs from "node:fs"; async function f() { fs.readFile("a", () => {}); fs.existsSync; }`,
    `${weft}import { exec, spawn } from "node:child_process"; async function f() { exec("ls"); spawn("ls"); }`,
    // A user's own function named like a blocking one.
    `${weft}function readFileSync(path: string) { return path; } async function f() { readFileSync("a"); }`,
    `${weft}const fs = { readFileSync: (p: string) => p }; async function f() { fs.readFileSync("a"); }`,
    // A shadowed Atomics, and Atomics.waitAsync.
    `${weft}async function f(Atomics: { wait(): void }) { Atomics.wait(); }`,
    `${weft}async function f(a: Int32Array) { await Atomics.waitAsync(a, 0, 0).value; }`,
    // Clock loops that await are not busy-waits.
    `${weft}async function f(end: number) { while (Date.now() < end) { await sleep(10); } }`,
    // A loop on something other than the clock.
    `${weft}async function f(n: number) { let i = 0; while (i < n) { i++; } }`,
    // A busy-wait in a synchronous function (not a task).
    `${weft}function f(end: number) { while (Date.now() < end) {} }`,
  ],
  invalid: [
    {
      code: `${weft}import { readFileSync } from "node:fs"; async function f() { return readFileSync("a"); }`,
      errors: [{ messageId: "blockingFs", data: { name: "readFileSync" } }],
    },
    {
      // Aliased, from "fs" without the node: prefix, in an async arrow.
      code: `${weft}import { writeFileSync as write } from "fs"; const f = async () => { write("a", "b"); };`,
      errors: [{ messageId: "blockingFs", data: { name: "writeFileSync" } }],
    },
    {
      // Namespace and default imports; an async method.
      code: `${weft}import * as fs from "node:fs"; import nodeFs from "fs"; class C { async m() { fs.statSync("a"); nodeFs.readdirSync("."); } }`,
      errors: [
        { messageId: "blockingFs", data: { name: "statSync" } },
        { messageId: "blockingFs", data: { name: "readdirSync" } },
      ],
    },
    {
      // @weft/net counts as weft too.
      code: 'import { openFile } from "@weft/net"; import { execSync, spawnSync, execFileSync } from "node:child_process"; async function f() { execSync("ls"); spawnSync("ls"); execFileSync("ls"); }',
      errors: [
        { messageId: "blockingProcess", data: { name: "execSync" } },
        { messageId: "blockingProcess", data: { name: "spawnSync" } },
        { messageId: "blockingProcess", data: { name: "execFileSync" } },
      ],
    },
    {
      code: `${weft}import * as cp from "child_process"; async function f() { cp.execSync("ls"); }`,
      errors: [{ messageId: "blockingProcess", data: { name: "execSync" } }],
    },
    {
      code: `${weft}async function f(a: Int32Array) { Atomics.wait(a, 0, 0, 100); }`,
      errors: [{ messageId: "atomicsWait" }],
    },
    {
      code: `${weft}async function f(end: number) { while (Date.now() < end) {} }`,
      errors: [{ messageId: "busyWait" }],
    },
    {
      code: `${weft}async function f(t: number, ms: number) { while (performance.now() - t < ms); }`,
      errors: [{ messageId: "busyWait" }],
    },
    {
      // A body that works without awaiting still spins.
      code: `${weft}async function f(end: number) { let n = 0; for (; end > Date.now(); ) { n++; } return n; }`,
      errors: [{ messageId: "busyWait" }],
    },
    {
      code: `${weft}async function f(end: number) { do {} while (Date.now() <= end); }`,
      errors: [{ messageId: "busyWait" }],
    },
  ],
});
