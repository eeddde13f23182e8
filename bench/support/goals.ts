/**
 * Issue 6's goals, as ratios of medians (lower is better): weft against its
 * baseline (raw Node, or p-limit for map-limit), and weft against Effection and
 * Effect (at most half their time or memory on every scenario they implement);
 * plus per-scenario goals against other implementations (http-hello: below
 * Fastify's time per request).
 */
import type { ImplName, ScenarioName } from "../scenario.ts";

/** The implementation weft's overhead is stated against, per scenario. */
export function baselineOf(scenario: ScenarioName): ImplName {
  return scenario === "map-limit" ? "p-limit" : "raw";
}

/** Largest allowed weft/baseline ratio; scenarios without a goal are absent. */
export const BASELINE_GOALS: Partial<Record<ScenarioName, number>> = {
  checkpoint: 4,
  "spawn-join": 2,
  "sleep-many": 1.2,
  "channel-unbuffered": 2,
  "channel-buffered": 2,
  "map-limit": 1.2,
  "tcp-echo": 1.25,
  "memory-per-task": 2,
  "http-hello": 1.15,
};

/**
 * Largest allowed weft/impl ratio against implementations other than the
 * baseline and the rivals, per scenario (http-hello: "below Fastify's", taken
 * as at most 1.00x).
 */
export const OTHER_GOALS: Partial<Record<ScenarioName, Partial<Record<ImplName, number>>>> = {
  "http-hello": { fastify: 1 },
};

/** The implementations {@link OTHER_GOALS} compares weft with, in table order. */
export const OTHERS = ["fastify"] as const satisfies readonly ImplName[];

/** Largest allowed weft/effection and weft/effect ratio, on every scenario. */
export const RIVAL_GOAL = 0.5;

/** The libraries weft is compared with, in table order. */
export const RIVALS = ["effection", "effect"] as const satisfies readonly ImplName[];
