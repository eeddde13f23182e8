/**
 * A one-line description of any thrown value — for cancel reasons and
 * exception-group summaries. Total: a value whose `name`, `message`,
 * `toString` or prototype throws, a Proxy, a null-prototype object, a symbol
 * — none of them can make weft fail while it reports someone else's error.
 */

/** How much of a message a description keeps. */
const MESSAGE_KEPT = 160;

/** The first line of `text`, at most MESSAGE_KEPT characters; "…" marks a cut. */
function clip(text: string): string {
  const line = text.split("\n", 1)[0]!;
  if (line.length > MESSAGE_KEPT) return `${line.slice(0, MESSAGE_KEPT - 1)}…`;
  return line === text ? text : `${line} …`;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}

/** "Class: first line of message", or "thrown <type> <value>" for a non-error. */
export function describeThrown(value: unknown): string {
  try {
    if (value instanceof Error) {
      const name = text(value.name);
      const message = clip(text(value.message));
      return message === "" ? name : `${name}: ${message}`;
    }
    if (typeof value === "string") return `thrown string ${JSON.stringify(clip(value))}`;
    if (value === null) return "thrown null";
    if (typeof value === "object") {
      return Object.getPrototypeOf(value) === null
        ? "thrown object with no prototype"
        : `thrown object ${clip(text(value))}`;
    }
    return `thrown ${typeof value} ${clip(text(value))}`;
  } catch {
    return "an error that cannot be described (reading it threw)";
  }
}
