/**
 * The public types of `@weft/effection`.
 */
import type { RunOptions } from "@weft/core";
import type { Operation } from "effection";

/**
 * What {@link runOperation} takes: a function that returns the Effection
 * operation to run, as Effection's own `run()` and `spawn()` take it
 * (`() => sleep(10)`, or a generator function `function* () { … }`).
 */
export type OperationFactory<T> = () => Operation<T>;

/**
 * Options of {@link weftOperation}: the options of weft's `run()`, with
 * `handleSignals` defaulting to `false` (the Effection side owns the process:
 * Effection's `main()` halts on Ctrl-C, and the halt cancels the weft run).
 * `signal`, if given, cancels the weft run too when it aborts; the operation
 * then fails with the signal's reason.
 */
export type WeftOperationOptions = RunOptions;
