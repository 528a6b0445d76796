/**
 * A FIFO with O(1) shift: an array read from a head index, compacted once the consumed part is
 * the larger half (so a queue of n items costs O(n) to drain, where Array.shift costs O(n²)).
 */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The first item, or undefined when empty. */
  get first(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** The last item, or undefined when empty. */
  get last(): T | undefined {
    return this.head < this.items.length ? this.items[this.items.length - 1] : undefined;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Removes and returns the first item (undefined when empty). */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T; // let it be collected
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
