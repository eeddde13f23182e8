/**
 * A FIFO queue on a growable ring buffer: O(1) push and shift (an array's
 * `shift` is O(n)), for channel buffers.
 */
export class Deque<T> {
  private items: (T | undefined)[] = new Array(8);
  private head = 0;
  length = 0;

  push(item: T): void {
    if (this.length === this.items.length) this.grow();
    this.items[(this.head + this.length) & (this.items.length - 1)] = item;
    this.length++;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    return item;
  }

  clear(): void {
    this.items = new Array(8);
    this.head = 0;
    this.length = 0;
  }

  private grow(): void {
    const old = this.items;
    const items: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.length; i++) items[i] = old[(this.head + i) & (old.length - 1)];
    this.items = items;
    this.head = 0;
  }
}
