/**
 * weft's goals (issue 19, replacing issue 6's), as largest allowed ratios of
 * medians weft/impl (lower is better), per scenario and per implementation:
 *
 * - against its floor ({@link floorOf}): raw Node, or raw-context (raw async
 *   functions each in its own `AsyncLocalStorage` context, the least a task
 *   carrying async context costs) for spawn-join, sleep-many and
 *   memory-per-task, or p-limit for map-limit;
 * - against its rivals Effection and Effect, per scenario and per rival;
 * - against Fastify on http-hello (below Fastify's time per request: at most 1×).
 *
 * Scenarios absent from {@link GOALS} (foreign-await, simulation-pingpong) and
 * implementations absent from a scenario's entry have no goal.
 */
import type { ImplName, ScenarioName } from "../scenario.ts";

/** The implementation the table's and chart's main ratio is against: raw Node, p-limit for map-limit. */
export function baselineOf(scenario: ScenarioName): ImplName {
  return scenario === "map-limit" ? "p-limit" : "raw";
}

/** Scenarios whose floor is raw-context rather than raw. */
export const CONTEXT_FLOOR_SCENARIOS: readonly ScenarioName[] = [
  "spawn-join",
  "sleep-many",
  "memory-per-task",
];

/** The implementation weft's overhead goal is stated against, per scenario. */
export function floorOf(scenario: ScenarioName): ImplName {
  return CONTEXT_FLOOR_SCENARIOS.includes(scenario) ? "raw-context" : baselineOf(scenario);
}

/** Largest allowed weft/impl ratio, per scenario and implementation. */
export const GOALS: Partial<Record<ScenarioName, Partial<Record<ImplName, number>>>> = {
  checkpoint: { raw: 3, effection: 0.5, effect: 0.5 },
  "spawn-join": { "raw-context": 1.3, effection: 0.5, effect: 2.5 },
  "sleep-many": { "raw-context": 1.3, effection: 0.5, effect: 0.5 },
  "cancel-many": { effection: 0.5, effect: 0.5 },
  "channel-unbuffered": { raw: 2.5, effection: 0.7, effect: 0.7 },
  "channel-buffered": { raw: 2.5, effection: 0.7, effect: 0.7 },
  "map-limit": { "p-limit": 1, effection: 0.5, effect: 0.5 },
  "tcp-echo": { raw: 1.4 },
  "http-hello": { raw: 1.15, fastify: 1 },
  "effection-recursion": { raw: 2, effection: 0.5, effect: 0.5 },
  "effection-events": { raw: 2, effection: 0.5, effect: 0.5 },
  "memory-per-task": { "raw-context": 1.3, effect: 1.3 },
};

/** weft's goal against `impl` on `scenario`, or undefined when there is none. */
export function goalOf(scenario: ScenarioName, impl: ImplName): number | undefined {
  return GOALS[scenario]?.[impl];
}

/** The libraries weft is compared with, in table order. */
export const RIVALS = ["effection", "effect"] as const satisfies readonly ImplName[];

/** Other implementations with a ratio column when they have a result (http-hello's Fastify). */
export const OTHERS = ["fastify"] as const satisfies readonly ImplName[];
