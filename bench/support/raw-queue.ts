/**
 * The hand-rolled async queue that the raw implementation's channels use, as
 * plain async/await code would write one: a FIFO buffer plus queues of blocked
 * receivers and senders. No cancellation and no closing — the raw baseline pays
 * for neither.
 */

/**
 * A FIFO on an array with a moving head: amortised O(1) push and shift (a plain
 * array's `shift` is O(n) once the array is large, which would make the raw
 * baseline unfairly slow).
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  /** Number of queued items. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends `item`. */
  push(item: T): void {
    this.items.push(item);
  }

  /** Removes and returns the oldest item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = []; // cheaper than `length = 0`, a runtime call in V8
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * An async queue of capacity `capacity`: a send hands its value straight to a
 * waiting receiver, else buffers it, else waits until a receiver takes it
 * (capacity 0 is a rendezvous: every send waits for a receiver).
 */
export class RawQueue<T> {
  private readonly capacity: number;
  private readonly buffer = new Fifo<T>();
  private readonly receivers = new Fifo<(value: T) => void>();
  private readonly senders = new Fifo<{ value: T; resolve: () => void }>();

  /** A queue buffering at most `capacity` values. */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Sends `value`; resolves once it is buffered or taken. */
  send(value: T): Promise<void> {
    const receiver = this.receivers.shift();
    if (receiver !== undefined) {
      receiver(value);
      return RESOLVED;
    }
    if (this.buffer.length < this.capacity) {
      this.buffer.push(value);
      return RESOLVED;
    }
    return new Promise((resolve) => this.senders.push({ value, resolve }));
  }

  /** Receives the oldest value, waiting for one if there is none. */
  receive(): Promise<T> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift() as T;
      const sender = this.senders.shift();
      if (sender !== undefined) {
        this.buffer.push(sender.value);
        sender.resolve();
      }
      return Promise.resolve(value);
    }
    const sender = this.senders.shift();
    if (sender !== undefined) {
      sender.resolve();
      return Promise.resolve(sender.value);
    }
    return new Promise((resolve) => this.receivers.push(resolve));
  }
}
