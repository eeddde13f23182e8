/**
 * Bad-input fuzzing of every export of @weft/effection (generated from the
 * sources: see core's test/support/bad-input-fuzz.ts for the contract).
 */
import { fuzzBadInput } from "../../core/test/support/bad-input-fuzz.ts";

fuzzBadInput("@weft/effection", { receivers: {}, allow: {} });
