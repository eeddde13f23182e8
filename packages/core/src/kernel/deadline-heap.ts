/**
 * The run's pending deadlines: a binary min-heap of timer entries ordered by
 * deadline, then by insertion. Removal is lazy (an entry is marked dead and
 * skipped), and the heap is pruned when dead entries outnumber live ones, so
 * that moving a deadline or waking a sleeper early costs O(1).
 */

export class DeadlineEntry {
  deadline: number;
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

function before(a: DeadlineEntry, b: DeadlineEntry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

export class DeadlineHeap {
  private heap: DeadlineEntry[] = [];
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
    if (this.heap.length > this.size * 2 + PRUNE_THRESHOLD) this.prune();
  }

  /** The earliest live deadline, or Infinity. */
  next(): number {
    const heap = this.heap;
    while (heap.length > 0 && !heap[0]!.alive) this.pop();
    return heap.length > 0 ? heap[0]!.deadline : Infinity;
  }

  /** Fires, in order, every live entry whose deadline is at or before `now`. */
  expire(now: number): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.deadline <= now) {
      const entry = this.pop();
      if (!entry.alive) continue;
      entry.alive = false;
      this.size--;
      entry.fire(entry);
    }
  }

  private prune(): void {
    const live = this.heap.filter((entry) => entry.alive);
    live.sort((a, b) => (before(a, b) ? -1 : 1));
    this.heap = live; // a sorted array is a valid heap
  }

  private push(entry: DeadlineEntry): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): DeadlineEntry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
