/**
 * @weft/effection — interop between weft and Effection 4: run Effection
 * operations from weft tasks ({@link runOperation}) and weft code from
 * Effection operations ({@link weftOperation}), with cancellation, halting and
 * cleanup carried across in both directions.
 *
 * @packageDocumentation
 */
export { runOperation } from "./run-operation.ts";
export type { OperationFactory, WeftOperationOptions } from "./types.ts";
export { weftOperation } from "./weft-operation.ts";
