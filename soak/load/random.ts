/**
 * A seeded pseudo-random source (mulberry32), so that a run's mix of sizes,
 * delays and variants can be replayed with `--seed`.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  bytes(length: number): Buffer {
    const buffer = Buffer.allocUnsafe(Math.ceil(length / 4) * 4);
    for (let i = 0; i < buffer.length; i += 4)
      buffer.writeUInt32LE((this.next() * 2 ** 32) >>> 0, i);
    return buffer.subarray(0, length);
  }
}
