import { UsageError } from "../errors/errors.ts";
import { requireTask } from "../kernel/context.ts";
import type { Kernel } from "../kernel/kernel.ts";

/**
 * Run-local state (Trio's `RunVar`): one value per `run()`, for libraries
 * that keep something for the whole run — a worker pool, a hostname
 * resolver installed by a test — without concurrent runs (tests in one
 * process) ever seeing each other's.
 */
export class RunVar<T> {
  /** For error messages. */
  readonly name: string;
  readonly #values = new WeakMap<Kernel, T>();
  readonly #defaultValue: { readonly value: T } | null;

  /** A variable with no value in any run yet; `get()` returns `defaultValue` until `set`. */
  constructor(name: string, ...defaultValue: [] | [T]) {
    if (typeof name !== "string") throw new TypeError("name must be a string");
    this.name = name;
    this.#defaultValue = defaultValue.length === 0 ? null : { value: defaultValue[0] as T };
  }

  /** The value in the calling task's run; the default if none was set (an `Error` without one). */
  get(): T {
    const kernel = this.#kernel("get");
    if (this.#values.has(kernel)) return this.#values.get(kernel) as T;
    if (this.#defaultValue !== null) return this.#defaultValue.value;
    throw new UsageError(`RunVar ${JSON.stringify(this.name)} has no value in this run`);
  }

  /** Sets the value for the rest of the calling task's run. */
  set(value: T): void {
    this.#values.set(this.#kernel("set"), value);
  }

  /** Forgets the value set in the calling task's run: `get()` returns the default again. */
  reset(): void {
    this.#values.delete(this.#kernel("reset"));
  }

  #kernel(method: string): Kernel {
    return requireTask(`RunVar.${method}()`).kernel;
  }
}
