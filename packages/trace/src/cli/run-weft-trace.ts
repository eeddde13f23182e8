import { readFileSync, writeFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { parseArgs } from "node:util";
import { checkMethods } from "@weft/core/validate";
import { parseTraceFile, TraceFileError } from "../render/parse-trace-file.ts";
import { renderTimelineHtml } from "../render/render-timeline-html.ts";
import { MAX_ROWS, MAX_WIDTH, renderTimelineSvg } from "../render/render-timeline-svg.ts";
import type { TraceFile } from "../trace-format.ts";

/** Where {@link runWeftTrace} writes its messages. */
export interface WeftTraceIo {
  /** Writes to standard output (the summary, `--help`). */
  readonly stdout: (text: string) => void;
  /** Writes to standard error (what went wrong). */
  readonly stderr: (text: string) => void;
}

/** The `weft-trace --help` text. */
export const weftTraceUsage = `Usage: weft-trace <trace.json> [-o <timeline.html|timeline.svg>] [options]

Renders a weft trace file (Chrome Trace Event JSON, as @weft/trace records it)
as a static timeline: one row per task, grouped by nursery; steps, waits,
cancellations, cancel scopes, spawns and wake-ups. The output's extension picks
the format: .html (a self-contained page with hover details) or .svg.

Options:
  -o, --output <file>    where to write (default: the trace's name with .html)
      --title <text>     the picture's title (default "weft trace timeline")
      --width <px>       width in pixels (default 1100)
      --max-tasks <n>    task rows drawn at most (default 80)
  -h, --help             show this help

Exit status: 0 on success, 1 if the trace cannot be read or is not a trace
file or the output cannot be written, 2 on wrong usage.
`;

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

function describeFsError(error: unknown): string {
  switch (errorCode(error)) {
    case "ENOENT":
      return "no such file";
    case "EISDIR":
      return "it is a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function positiveInteger(
  name: string,
  value: string | undefined,
  max: number,
): number | undefined | string {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 && n <= max
    ? n
    : `--${name} must be an integer from 1 to ${max}, not "${value}"`;
}

/**
 * The `weft-trace` command: reads a trace file, checks it, and writes its
 * timeline as HTML or SVG (by the output's extension). Returns the exit
 * status (0 done, 1 bad input or output, 2 wrong usage); never throws for
 * those.
 */
export function runWeftTrace(args: readonly string[], io: WeftTraceIo): number {
  // A programming error, not bad input from the command line: thrown.
  checkMethods("io", io, ["stdout", "stderr"], "a WeftTraceIo ({ stdout, stderr })");
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    io.stderr(`weft-trace: ${error instanceof Error ? error.message : String(error)}\n`);
    io.stderr("Try weft-trace --help.\n");
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(weftTraceUsage);
    return 0;
  }
  const usageError = (message: string): number => {
    io.stderr(`weft-trace: ${message}\nTry weft-trace --help.\n`);
    return 2;
  };
  if (positionals.length === 0) return usageError("no trace file given");
  if (positionals.length > 1)
    return usageError(`one trace file at a time, not ${positionals.length}`);
  const input = positionals[0]!;
  const output = values.output ?? `${input.replace(/\.json$/i, "")}.html`;
  const extension = extname(output).toLowerCase();
  const format =
    extension === ".svg"
      ? "svg"
      : extension === ".html" || extension === ".htm"
        ? "html"
        : undefined;
  if (format === undefined) {
    return usageError(`cannot tell the output format of "${output}": name it .html or .svg`);
  }
  const width = positiveInteger("width", values.width, MAX_WIDTH);
  if (typeof width === "string") return usageError(width);
  const maxTasks = positiveInteger("max-tasks", values["max-tasks"], MAX_ROWS);
  if (typeof maxTasks === "string") return usageError(maxTasks);

  let text: string;
  try {
    text = readFileSync(input, "utf8");
  } catch (error) {
    io.stderr(`weft-trace: cannot read ${input}: ${describeFsError(error)}\n`);
    return 1;
  }
  let trace: TraceFile;
  try {
    trace = parseTraceFile(text);
  } catch (error) {
    if (!(error instanceof TraceFileError)) throw error;
    io.stderr(`weft-trace: ${input} is not a weft trace file: ${error.message}\n`);
    return 1;
  }
  const options = {
    fileName: basename(input),
    ...(values.title === undefined ? {} : { title: values.title }),
    ...(width === undefined ? {} : { width }),
    ...(maxTasks === undefined ? {} : { maxTasks }),
  };
  const rendered =
    format === "html"
      ? renderTimelineHtml(trace, options)
      : renderTimelineSvg(trace, { ...options, subtitle: options.fileName });
  try {
    writeFileSync(output, rendered);
  } catch (error) {
    io.stderr(`weft-trace: cannot write ${output}: ${describeFsError(error)}\n`);
    return 1;
  }
  io.stdout(`weft-trace: wrote ${output}\n`);
  return 0;
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      output: { type: "string", short: "o" },
      title: { type: "string" },
      width: { type: "string" },
      "max-tasks": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
