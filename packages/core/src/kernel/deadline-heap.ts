/**
 * The run's pending deadlines: a binary min-heap of timer entries ordered by
 * deadline, then by insertion. Removal is lazy (an entry is marked dead and
 * skipped), and the heap is pruned when dead entries outnumber live ones, so
 * that moving a deadline or waking a sleeper early costs O(1).
 *
 * The heap's ordering keys live in two `Float64Array`s beside the array of
 * entries, so sifting compares numbers in contiguous memory instead of
 * dereferencing two entry objects per comparison: with 100,000 sleepers the
 * entries are scattered over the old generation and those loads missed the
 * cache (the pop was 17% of sleep-many's profile; issue 19).
 */

export class DeadlineEntry {
  readonly deadline: number;
  readonly seq: number;
  /** Called with the entry once when the deadline passes, unless removed first. */
  readonly fire: (entry: DeadlineEntry) => void;
  /** Whatever the owner needs when it fires (a sleeping task…), so `fire` can be shared. */
  readonly data: unknown;
  alive = true;

  constructor(deadline: number, seq: number, fire: (entry: DeadlineEntry) => void, data: unknown) {
    this.deadline = deadline;
    this.seq = seq;
    this.fire = fire;
    this.data = data;
  }
}

const PRUNE_THRESHOLD = 1000;
const INITIAL_CAPACITY = 64;
/** Where a heap starts: most runs add no deadline, and a run should not pay for two arrays it never fills. */
const NO_SLOTS = new Float64Array(0);

export class DeadlineHeap {
  private entries: DeadlineEntry[] = [];
  // Slot i of these holds entries[i]'s deadline and insertion number (exact as doubles up to 2^53).
  private deadlines = NO_SLOTS;
  private seqs = NO_SLOTS;
  private seq = 0;
  /** Number of live entries. */
  size = 0;

  add(deadline: number, fire: (entry: DeadlineEntry) => void, data?: unknown): DeadlineEntry {
    const entry = new DeadlineEntry(deadline, this.seq++, fire, data);
    this.push(entry);
    this.size++;
    return entry;
  }

  /** Marks `entry` dead; it will never fire. */
  remove(entry: DeadlineEntry): void {
    if (!entry.alive) return;
    entry.alive = false;
    this.size--;
    if (this.entries.length > this.size * 2 + PRUNE_THRESHOLD) this.prune();
  }

  /** The earliest live deadline, or Infinity. */
  next(): number {
    const entries = this.entries;
    while (entries.length > 0 && !entries[0]!.alive) this.pop();
    return entries.length > 0 ? this.deadlines[0]! : Infinity;
  }

  /** Fires, in order, every live entry whose deadline is at or before `now`. */
  expire(now: number): void {
    // Re-read the arrays each time: a fire may remove entries, and a removal
    // may prune, which replaces them.
    while (this.entries.length > 0 && this.deadlines[0]! <= now) {
      const entry = this.pop();
      if (!entry.alive) continue;
      entry.alive = false;
      this.size--;
      entry.fire(entry);
    }
  }

  private prune(): void {
    const live = this.entries.filter((entry) => entry.alive);
    live.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
    // A sorted array is a valid heap.
    this.entries = [];
    this.deadlines = new Float64Array(Math.max(INITIAL_CAPACITY, live.length * 2));
    this.seqs = new Float64Array(this.deadlines.length);
    for (let i = 0; i < live.length; i++) this.place(i, live[i]!);
  }

  private place(i: number, entry: DeadlineEntry): void {
    this.entries[i] = entry;
    this.deadlines[i] = entry.deadline;
    this.seqs[i] = entry.seq;
  }

  private push(entry: DeadlineEntry): void {
    const entries = this.entries;
    let i = entries.length;
    if (i === this.deadlines.length) this.grow();
    entries.push(entry);
    const deadlines = this.deadlines;
    const seqs = this.seqs;
    const deadline = entry.deadline;
    const seq = entry.seq;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const d = deadlines[parent]!;
      // Stop once the parent comes first (earlier, or as early and inserted before).
      if (d < deadline || (d === deadline && seqs[parent]! < seq)) break;
      entries[i] = entries[parent]!;
      deadlines[i] = d;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    entries[i] = entry;
    deadlines[i] = deadline;
    seqs[i] = seq;
  }

  private grow(): void {
    const deadlines = new Float64Array(Math.max(INITIAL_CAPACITY, this.deadlines.length * 2));
    deadlines.set(this.deadlines);
    const seqs = new Float64Array(deadlines.length);
    seqs.set(this.seqs);
    this.deadlines = deadlines;
    this.seqs = seqs;
  }

  private pop(): DeadlineEntry {
    const entries = this.entries;
    const deadlines = this.deadlines;
    const seqs = this.seqs;
    const top = entries[0]!;
    const last = entries.pop()!;
    const n = entries.length;
    if (n > 0) {
      const deadline = deadlines[n]!;
      const seq = seqs[n]!;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        let d = deadlines[left]!;
        if (right < n) {
          const dr = deadlines[right]!;
          if (dr < d || (dr === d && seqs[right]! < seqs[left]!)) {
            child = right;
            d = dr;
          }
        }
        // Stop once `last` comes before the smaller child.
        if (deadline < d || (deadline === d && seq < seqs[child]!)) break;
        entries[i] = entries[child]!;
        deadlines[i] = d;
        seqs[i] = seqs[child]!;
        i = child;
      }
      entries[i] = last;
      deadlines[i] = deadline;
      seqs[i] = seq;
    }
    return top;
  }
}
