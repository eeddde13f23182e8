import { checkFinite } from "@weft/core/validate";
/**
 * A seeded pseudo-random number generator (mulberry32): the same seed gives
 * the same sequence of floats in [0, 1) on every run and platform, so a test
 * that draws from it is reproducible. Not for anything security-related.
 *
 * ```ts
 * const random = seededRandom(42);
 * const size = Math.floor(random() * 1024);
 * ```
 */
export function seededRandom(seed: number): () => number {
  checkFinite("seed", seed);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
