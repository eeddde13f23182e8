/**
 * Helpers for the subprocess tests: Node itself (`process.execPath`) is the
 * child program, so the tests need no other tool; what is left running is
 * read from /proc (Linux).
 */
import * as fs from "node:fs";
import type { ReceiveStream } from "@weft/core/streams";

/** The Node binary running the tests: the child program of every test. */
export const NODE = process.execPath;

/** Arguments that make `NODE` run `script` (CommonJS: `require` works). */
export function script(source: string): string[] {
  return ["-e", source];
}

/** Whether /proc describes this process's children (Linux). */
export const hasProcChildren = fs.existsSync(`/proc/${process.pid}/task`);

/** The pids of this process's children, zombies included (Linux /proc). */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${process.pid}/task`)) {
    let text = "";
    try {
      text = fs.readFileSync(`/proc/${process.pid}/task/${tid}/children`, "utf8");
    } catch {
      continue; // the thread exited since the listing
    }
    for (const pid of text.trim().split(/\s+/)) if (pid !== "") pids.push(Number(pid));
  }
  return pids.sort((a, b) => a - b);
}

/** Whether `pid` exists (a zombie exists: only a reaped process is gone). */
export function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** How many pipe and process handles Node holds open (after pending closes have completed). */
export async function processHandles(): Promise<number> {
  // A closed handle leaves Node's list in the close phase of the loop turn in
  // which it was closed: two turns make sure every close has completed.
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((r) => r === "PipeWrap" || r === "ProcessWrap")
    .length;
}

/**
 * Reads `stream` until the text received so far contains `marker`; returns
 * that text. End of file first is an `Error` naming what did arrive.
 */
export async function readUntil(stream: ReceiveStream, marker: string): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(marker)) {
    const chunk = await stream.receiveSome();
    if (chunk.length === 0) {
      throw new Error(`end of file before ${JSON.stringify(marker)}; got ${JSON.stringify(text)}`);
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text;
}

/** Reads `stream` to end of file, as text. */
export async function readToEnd(stream: ReceiveStream): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
