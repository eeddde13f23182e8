/**
 * A hidden slot on weft's own `Cancelled` objects for the task that raised
 * them (see raising-task.ts). Every task cancelled by a scope raises its own
 * `Cancelled`; recording each in the registry's WeakMap cost about 9% of
 * cancelling 100,000 tasks, and its ephemerons lengthened every GC (issue 19).
 * A private field is invisible to `util.inspect`, `JSON.stringify` and
 * `Object.keys`, like the registry, so the error looks the same.
 *
 * A private field is installed on whatever object a base constructor returns
 * (the "return override" of class fields), which is how a `Cancelled`, made
 * with `Object.create` and no constructor, gets one.
 */

/** Who raised an error: the run (a kernel) and the task's name. */
export interface RaisedBy {
  readonly run: object;
  readonly task: string;
}

/** Returns its argument from the constructor, so the subclass's fields land on it. */
class ReturnTarget {
  constructor(target: object) {
    // biome-ignore lint/correctness/noConstructorReturn: the return override installs the slot (see the file comment)
    return target;
  }
}

export class RaisedBySlot extends ReturnTarget {
  #raisedBy: RaisedBy | undefined = undefined;

  /** Gives `target` the slot (empty). */
  static install(target: object): void {
    new RaisedBySlot(target);
  }

  /** Whether `target` has the slot. */
  static has(target: object): boolean {
    return #raisedBy in target;
  }

  /** The slot's content; `target` must have it. */
  static get(target: object): RaisedBy | undefined {
    return (target as RaisedBySlot).#raisedBy;
  }

  /** Fills the slot; `target` must have it. */
  static set(target: object, raisedBy: RaisedBy): void {
    (target as RaisedBySlot).#raisedBy = raisedBy;
  }
}
