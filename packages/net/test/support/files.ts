/** Helpers shared by the file tests: a temporary directory, descriptor counts, FIFOs. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect } from "vitest";

const FD_DIR = "/proc/self/fd";

/** Whether descriptors can be listed (Linux). */
export const canCountFds = fs.existsSync(FD_DIR);

/** Whether `mkfifo` works here (not on Windows). */
export const canMakeFifo = process.platform !== "win32";

/**
 * How many of this process's descriptors point into `dir`, or -1 where they
 * cannot be listed (assertions then compare -1 with -1).
 */
export function fdsUnder(dir: string): number {
  if (!canCountFds) return -1;
  let count = 0;
  for (const fd of fs.readdirSync(FD_DIR)) {
    try {
      if (fs.readlinkSync(`${FD_DIR}/${fd}`).startsWith(`${dir}${path.sep}`)) count++;
    } catch {
      // closed since the listing (the listing's own descriptor)
    }
  }
  return count;
}

/** `n`, where descriptors can be counted; else -1, what `fdsUnder` returns there. */
export function expectedFds(n: number): number {
  return canCountFds ? n : -1;
}

/** Creates a FIFO at `file`. */
export function makeFifo(file: string): void {
  execFileSync("mkfifo", [file]);
}

/**
 * A fresh temporary directory for each test, removed after it; the returned
 * object's `dir` is valid inside a test. The test fails if a descriptor into
 * the directory is still open when it ends.
 */
export function useTempDir(): { dir: string; file(name: string): string } {
  const state = {
    dir: "",
    file(name: string): string {
      return path.join(state.dir, name);
    },
  };
  beforeEach(() => {
    state.dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "weft-files-")));
  });
  afterEach(() => {
    const leaked = fdsUnder(state.dir);
    fs.rmSync(state.dir, { recursive: true, force: true });
    if (leaked > 0) throw new Error(`${leaked} descriptor(s) into the test's directory left open`);
  });
  return state;
}

/** `n` bytes of a repeating, position-dependent pattern (a misplaced chunk shows). */
export function patternBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/**
 * Asserts that two byte arrays are equal; fast for megabytes (vitest's
 * `toEqual` compares element by element), and says where they first differ.
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  expect.fail(`bytes differ: lengths ${a.length} and ${b.length}, first difference at offset ${i}`);
}
