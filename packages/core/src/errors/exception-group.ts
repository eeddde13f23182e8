/**
 * Strict exception groups: several errors raised together, as by the children
 * of a nursery. Modelled on Python's `BaseExceptionGroup` (PEP 654).
 */

import { describeThrown } from "./describe-thrown.ts";
import { taskNameOf } from "./raising-task.ts";
import { isRevokedProxy } from "./validate.ts";

/** Chooses errors: a predicate, or an error class to match with `instanceof`. */
export type ErrorMatcher =
  | ((error: unknown) => boolean)
  | (abstract new (
      ...args: never[]
    ) => unknown);

function toPredicate(matcher: ErrorMatcher): (error: unknown) => boolean {
  if (typeof matcher !== "function") {
    throw new TypeError("matcher must be a function or an error class");
  }
  // A class has a prototype object; an arrow function has none. A plain
  // `function` predicate also has one, so classes are recognised by the
  // `class` keyword or by being a subclass of Error.
  const source = Function.prototype.toString.call(matcher);
  if (source.startsWith("class") || matcher === Error || matcher.prototype instanceof Error) {
    const cls = matcher as abstract new (...args: never[]) => unknown;
    return (error) => error instanceof cls;
  }
  return matcher as (error: unknown) => boolean;
}

/**
 * An error that carries several errors. `errors` may hold nested groups; the
 * leaves are the errors that were actually thrown.
 *
 * ```ts
 * try { await openNursery(...) } catch (e) {
 *   if (e instanceof ExceptionGroup) {
 *     const [timeouts, rest] = e.split(TooSlowError);
 *   }
 * }
 * ```
 */
export class ExceptionGroup extends AggregateError {
  /** The errors of this group, in the order they were raised. */
  declare readonly errors: unknown[];

  constructor(errors: Iterable<unknown>, message = "several errors were raised") {
    if (
      errors === null ||
      typeof errors !== "object" ||
      isRevokedProxy(errors) ||
      !(Symbol.iterator in errors)
    ) {
      throw new TypeError("errors must be an iterable of errors");
    }
    const list = Array.from(errors);
    if (list.length === 0) {
      throw new RangeError("errors must not be empty: an exception group holds at least one error");
    }
    if (typeof message !== "string") throw new TypeError("message must be a string");
    super(list, message);
    this.name = "ExceptionGroup";
  }

  /** Every non-group error inside this group, depth first, in order. */
  leafErrors(): unknown[] {
    const leaves: unknown[] = [];
    const visit = (group: ExceptionGroup): void => {
      for (const error of group.errors) {
        if (error instanceof ExceptionGroup) visit(error);
        else leaves.push(error);
      }
    };
    visit(this);
    return leaves;
  }

  /**
   * Splits this group into the errors that match and the rest, keeping the
   * nesting. Either side is `null` when empty. A nested group that matches as
   * a whole is kept whole.
   */
  split(matcher: ErrorMatcher): [ExceptionGroup | null, ExceptionGroup | null] {
    const matches = toPredicate(matcher);
    return splitGroup(this, matches);
  }

  /** The part of this group that matches, with its nesting, or `null`. */
  subgroup(matcher: ErrorMatcher): ExceptionGroup | null {
    return this.split(matcher)[0];
  }

  /**
   * A group of the same kind and message holding `errors` (a group whose
   * message summarises its leaves gets a summary of the new ones).
   */
  derive(errors: Iterable<unknown>): ExceptionGroup {
    const what = summarised.get(this);
    const derived =
      what === undefined
        ? new ExceptionGroup(errors, this.message)
        : summarisedGroup(Array.from(errors), what);
    if (collapsible.has(this)) collapsible.add(derived);
    // Where the group was raised, not where it was split.
    const frames = typeof this.stack === "string" ? this.stack.indexOf("\n    at ") : -1;
    if (frames >= 0) {
      Object.defineProperty(derived, "stack", {
        value: `${derived.name}: ${derived.message}${this.stack!.slice(frames)}`,
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
    return derived;
  }

  override toString(): string {
    if (summarised.has(this)) return `${this.name}: ${this.message}`;
    const n = this.errors.length;
    return `${this.name}: ${this.message} (${n} sub-error${n === 1 ? "" : "s"})`;
  }
}

// How many leaves a summary lists.
const LEAVES_LISTED = 3;

function leavesOf(errors: readonly unknown[], into: unknown[] = []): unknown[] {
  for (const error of errors) {
    if (error instanceof ExceptionGroup) leavesOf(error.errors, into);
    else into.push(error);
  }
  return into;
}

function describeLeaf(leaf: unknown): string {
  const task = taskNameOf(leaf);
  const text = describeThrown(leaf);
  return task === undefined ? text : `${text} (in task ${JSON.stringify(task)})`;
}

/** `what`, the number of leaves, and the first few leaves (class, message, task). */
function summarise(what: string, errors: readonly unknown[]): string {
  const leaves = leavesOf(errors);
  const n = leaves.length;
  const listed = leaves.slice(0, LEAVES_LISTED).map(describeLeaf).join("; ");
  const more = n > LEAVES_LISTED ? `; and ${n - LEAVES_LISTED} more` : "";
  return `${what}: ${n} error${n === 1 ? "" : "s"}: ${listed}${more}`;
}

// Groups whose message summarises their leaves, with the text it starts with.
const summarised = new WeakMap<ExceptionGroup, string>();

/**
 * @internal A group whose message says `what` happened, then summarises its
 * leaves (count, then each one's class, message and raising task), so that
 * `e.message` and `String(e)` alone show the cause.
 */
export function summarisedGroup(errors: unknown[], what: string): ExceptionGroup {
  const group = new ExceptionGroup(errors, summarise(what, errors));
  summarised.set(group, what);
  return group;
}

function splitGroup(
  group: ExceptionGroup,
  matches: (error: unknown) => boolean,
): [ExceptionGroup | null, ExceptionGroup | null] {
  if (matches(group)) return [group, null];
  const matched: unknown[] = [];
  const rest: unknown[] = [];
  for (const error of group.errors) {
    if (error instanceof ExceptionGroup) {
      const [m, r] = splitGroup(error, matches);
      if (m) matched.push(m);
      if (r) rest.push(r);
    } else if (matches(error)) {
      matched.push(error);
    } else {
      rest.push(error);
    }
  }
  // Keep the group itself (its identity and stack) when it does not split.
  if (matched.length === 0) return [null, group];
  if (rest.length === 0) return [group, null];
  const keep = (errors: unknown[]): ExceptionGroup | null => {
    if (errors.length === 0) return null;
    const derived = group.derive(errors);
    if (group.cause !== undefined) derived.cause = group.cause;
    return derived;
  };
  return [keep(matched), keep(rest)];
}

// Groups raised by non-strict nurseries: once the Cancelled a scope owns are
// removed, a group left with a single error is unwrapped (Trio's
// collapse_exception_group), so `strictErrors: false` keeps its promise.
const collapsible = new WeakSet<ExceptionGroup>();

/** @internal Marks a group that a non-strict nursery raised. */
export function markCollapsible(group: ExceptionGroup): ExceptionGroup {
  collapsible.add(group);
  return group;
}

/** @internal A collapsible group holding one error becomes that error. */
export function collapse(error: unknown): unknown {
  if (error instanceof ExceptionGroup && collapsible.has(error) && error.errors.length === 1) {
    const only = error.errors[0];
    if (!(only instanceof ExceptionGroup)) return only;
  }
  return error;
}
