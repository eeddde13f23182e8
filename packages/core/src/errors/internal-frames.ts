/**
 * Cuts the stack frames that point into weft's own code from the top of an
 * error weft creates, so that its first frame is the user's call (the
 * `openNursery`, `failAfter` or `sleep` that failed), not the kernel's.
 * Only for errors on rare paths: reading `stack` formats it, which costs
 * microseconds.
 */

// This package's source (or dist) root: frames under it are weft's.
const ownRoot = new URL("../", import.meta.url).href;
const ownPath = ownRoot.startsWith("file://") ? decodeURIComponent(ownRoot.slice(7)) : ownRoot;

/** Whether a stack line is a frame of weft's own code (or of Node's internals). */
export function isInternalFrame(line: string): boolean {
  return line.includes(ownRoot) || line.includes(ownPath) || line.includes("node:internal/");
}

/** Removes weft's frames from the top of `error.stack` (keeping the header); returns `error`. */
export function cutInternalFrames<T extends Error>(error: T): T {
  const stack = error.stack;
  if (typeof stack !== "string") return error;
  const lines = stack.split("\n");
  const first = lines.findIndex((line) => line.trimStart().startsWith("at "));
  if (first < 0) return error;
  let end = first;
  while (end < lines.length && isInternalFrame(lines[end]!)) end++;
  // Every frame is weft's (an error raised where no user code is on the stack): keep them.
  if (end === lines.length || end === first) return error;
  lines.splice(first, end - first);
  Object.defineProperty(error, "stack", {
    value: lines.join("\n"),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return error;
}
