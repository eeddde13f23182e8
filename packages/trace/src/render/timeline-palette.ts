/**
 * The timeline's colours: the Okabe–Ito palette, distinguishable with the
 * common colour-vision deficiencies; kinds also differ by shape (full bars,
 * thin bars, crosses, outlines), so colour is never the only cue.
 */
export const timelinePalette = {
  /** A step: the task is running. */
  running: "#0072B2",
  /** A wait: the task is blocked (drawn lighter and thinner). */
  blocked: "#E69F00",
  /** Text on a wait bar. */
  blockedText: "#5a3d00",
  /** A cancellation (a cross on the task's row). */
  cancelled: "#D55E00",
  /** A cancel scope without a deadline (dashed outline). */
  scope: "#6b7280",
  /** A cancel scope with a deadline (solid outline). */
  deadline: "#CC79A7",
  /** Spawn arrows. */
  spawn: "#009E73",
  /** Wake arrows. */
  wake: "#8c8c8c",
  /** Background of a task's row. */
  row: "#f3f4f6",
  /** Background of a nursery's header row. */
  header: "#e2e8f0",
  /** Text. */
  text: "#1f2937",
  /** Secondary text. */
  muted: "#4b5563",
} as const;
