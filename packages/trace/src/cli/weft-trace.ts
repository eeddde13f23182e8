#!/usr/bin/env node
/**
 * The `weft-trace` executable: `weft-trace trace.json -o timeline.html`
 * (or `.svg`). See {@link runWeftTrace} and `weft-trace --help`.
 */
import { runWeftTrace } from "./run-weft-trace.ts";

process.exitCode = runWeftTrace(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
