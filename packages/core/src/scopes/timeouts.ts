import { TooSlowError } from "../errors/errors.ts";
import {
  checkBoolean,
  checkDeadline,
  checkDuration,
  checkFunction,
  checkOptionsObject,
} from "../errors/validate.ts";
import { CancelScope } from "../kernel/cancel-scope.ts";
import { requireTask } from "../kernel/context.ts";

/** Options of `moveOnAfter`, `moveOnAt`, `failAfter` and `failAt`. */
export interface TimeoutOptions {
  /** Shield the body from outer cancellations (the timeout still applies). */
  shield?: boolean;
}

function scopeFor(
  options: TimeoutOptions | undefined,
  deadline: { deadline?: number; relativeDeadline?: number },
) {
  checkOptionsObject("options", options);
  const shield = options?.shield;
  if (shield !== undefined) checkBoolean("options.shield", shield);
  return new CancelScope({ ...deadline, shield: shield ?? false });
}

/** Runs `body`, cancelling it when the clock reaches `deadline`; resolves `undefined` if that happened. */
export function moveOnAt<T>(
  deadline: number,
  body: (scope: CancelScope) => Promise<T>,
  options?: TimeoutOptions,
): Promise<T | undefined> {
  try {
    checkDeadline("deadline", deadline);
    checkFunction("body", body);
    const scope = scopeFor(options, { deadline });
    requireTask("moveOnAt()");
    return scope.run(body);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Runs `body`, cancelling it after `ms` milliseconds; resolves `undefined` if that happened. */
export function moveOnAfter<T>(
  ms: number,
  body: (scope: CancelScope) => Promise<T>,
  options?: TimeoutOptions,
): Promise<T | undefined> {
  try {
    checkDuration("ms", ms);
    checkFunction("body", body);
    const scope = scopeFor(options, { relativeDeadline: ms });
    requireTask("moveOnAfter()");
    return scope.run(body);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function failing<T>(
  scope: CancelScope,
  body: (scope: CancelScope) => Promise<T>,
): Promise<T> {
  const value = await scope.run(body);
  if (scope.cancelledCaught) throw new TooSlowError();
  return value as T;
}

/** Like `moveOnAt`, but throws `TooSlowError` if the deadline cut the body short. */
export function failAt<T>(
  deadline: number,
  body: (scope: CancelScope) => Promise<T>,
  options?: TimeoutOptions,
): Promise<T> {
  try {
    checkDeadline("deadline", deadline);
    checkFunction("body", body);
    const scope = scopeFor(options, { deadline });
    requireTask("failAt()");
    return failing(scope, body);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Like `moveOnAfter`, but throws `TooSlowError` if the timeout cut the body short. */
export function failAfter<T>(
  ms: number,
  body: (scope: CancelScope) => Promise<T>,
  options?: TimeoutOptions,
): Promise<T> {
  try {
    checkDuration("ms", ms);
    checkFunction("body", body);
    const scope = scopeFor(options, { relativeDeadline: ms });
    requireTask("failAfter()");
    return failing(scope, body);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The earliest deadline among the enclosing cancel scopes, up to the nearest
 * shield: `-Infinity` if the caller is already cancelled, `Infinity` if none.
 */
export function currentEffectiveDeadline(): number {
  const task = requireTask("currentEffectiveDeadline()");
  return task.cancelStatus?.effectiveDeadline() ?? Infinity;
}
