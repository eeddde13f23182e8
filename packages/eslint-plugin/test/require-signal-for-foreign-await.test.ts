import { requireSignalForForeignAwait } from "../src/rules/require-signal-for-foreign-await.ts";
import { ruleTester } from "./rule-tester.ts";

const weft = 'import { cancellable, currentSignal, sleep } from "@weft/core";\n';
const download =
  "declare function download(url: string, options?: { retries?: number; signal?: AbortSignal }): Promise<string>;\n";
const wait =
  "declare function waitFor(ms: number, signal: AbortSignal | undefined): Promise<void>;\n";

ruleTester.run("require-signal-for-foreign-await", requireSignalForForeignAwait, {
  valid: [
    // Not a weft program.
    'async function f() { await fetch("https://example.com"); }',
    // The signal passed, in the forms people write.
    `${weft}async function f() { await fetch("https://example.com", { signal: currentSignal() }); }`,
    `${weft}async function f(signal: AbortSignal) { await fetch("https://example.com", { signal }); }`,
    `${weft}async function f(c: AbortController) { await fetch("https://example.com", { method: "POST", signal: c.signal }); }`,
    `${weft}async function f() { await fetch("https://example.com", { signal: AbortSignal.timeout(100) }); }`,
    `${weft}${wait}async function f() { await waitFor(10, currentSignal()); }`,
    // An options object built elsewhere, whose type has a signal: assume it carries one.
    `${weft}async function f(init: RequestInit) { await fetch("https://example.com", init); }`,
    `${weft}async function f(init: RequestInit) { await fetch("https://example.com", { ...init, method: "PUT" }); }`,
    // Inside cancellable: the signal is cancellable's business.
    `${weft}async function f() { await cancellable(async () => { await fetch("https://example.com"); }); }`,
    `${weft}async function f() { await cancellable((signal) => fetch("https://example.com", { signal })); }`,
    // weft's own fetch is bound to the cancel scope already.
    'import { fetch } from "@weft/net"; async function f() { await fetch("https://example.com"); }',
    // weft's own functions.
    `${weft}async function f() { await sleep(10); }`,
    // Functions without a signal to take.
    `${weft}declare function load(url: string): Promise<string>; async function f() { await load("x"); }`,
    `${weft}declare function load(url: string, options?: { signal?: string }): Promise<string>; async function f() { await load("x"); }`,
    // Not awaited: another rule's business.
    `${weft}async function f() { void fetch("https://example.com"); }`,
  ],
  invalid: [
    {
      code: `${weft}async function f() { await fetch("https://example.com"); }`,
      errors: [{ messageId: "missingSignal", data: { callee: "fetch" } }],
    },
    {
      // Options without a signal.
      code: `${weft}async function f() { const r = await fetch("https://example.com", { method: "POST" }); return r; }`,
      errors: [{ messageId: "missingSignal", data: { callee: "fetch" } }],
    },
    {
      // An options variable whose type has no signal.
      code: `${weft}async function f() { const init = { method: "POST" }; await fetch("https://example.com", init); }`,
      errors: [{ messageId: "missingSignal", data: { callee: "fetch" } }],
    },
    {
      // A user-declared function with an options parameter, in an arrow; and a signal parameter given undefined.
      code: `${weft}${download}${wait}const f = async () => { await download("x", { retries: 3 }); await waitFor(10, undefined); };`,
      errors: [
        { messageId: "missingSignal", data: { callee: "download" } },
        { messageId: "missingSignal", data: { callee: "waitFor" } },
      ],
    },
    {
      // A method call; Node's timers/promises.
      code: `${weft}import { setTimeout as delay } from "node:timers/promises"; async function f(client: { get(url: string, o?: { signal?: AbortSignal }): Promise<void> }) { await client.get("x"); await delay(10); }`,
      errors: [
        { messageId: "missingSignal", data: { callee: "client.get" } },
        { messageId: "missingSignal", data: { callee: "delay" } },
      ],
    },
    {
      // A cancellable elsewhere in the function does not cover this await.
      code: `${weft}async function f() { await cancellable(Promise.resolve(1)); await fetch("https://example.com") as Response; }`,
      errors: [{ messageId: "missingSignal", data: { callee: "fetch" } }],
    },
  ],
});
