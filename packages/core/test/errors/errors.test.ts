import {
  BrokenResourceError,
  BusyResourceError,
  Cancelled,
  CancelScope,
  ClosedResourceError,
  checkpoint,
  DeadlockError,
  EndOfChannel,
  ExceptionGroup,
  isCancelled,
  TooSlowError,
  WouldBlock,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";

async function aCancelled(): Promise<Cancelled> {
  let caught: unknown;
  await runVirtual(async () => {
    const scope = new CancelScope();
    await scope.run(async () => {
      scope.cancel("because");
      await checkpoint().catch((e) => {
        caught = e;
      });
    });
  });
  return caught as Cancelled;
}

describe("Cancelled", () => {
  test("has no public constructor: new Cancelled() throws TypeError", () => {
    const Ctor = Cancelled as unknown as new () => Cancelled;
    expect(() => new Ctor()).toThrow(TypeError);
  });

  test("carries source and reason and is an Error", async () => {
    const cancelled = await aCancelled();
    expect(cancelled).toBeInstanceOf(Error);
    expect(cancelled.name).toBe("Cancelled");
    expect(cancelled.source).toBe("explicit");
    expect(cancelled.reason).toBe("because");
  });

  test("isCancelled is true for a Cancelled and for a group made only of Cancelled", async () => {
    const cancelled = await aCancelled();
    expect(isCancelled(cancelled)).toBe(true);
    expect(isCancelled(new ExceptionGroup([cancelled, new ExceptionGroup([cancelled])]))).toBe(
      true,
    );
    expect(isCancelled(new ExceptionGroup([cancelled, new Error("x")]))).toBe(false);
    expect(isCancelled(new Error("x"))).toBe(false);
    expect(isCancelled(undefined)).toBe(false);
  });
});

describe("ExceptionGroup", () => {
  const a = new TypeError("a");
  const b = new RangeError("b");
  const c = new Error("c");
  const group = new ExceptionGroup([a, new ExceptionGroup([b, c], "inner")], "outer");

  test("is an AggregateError with errors and a message", () => {
    expect(group).toBeInstanceOf(AggregateError);
    expect(group.errors).toHaveLength(2);
    expect(group.message).toBe("outer");
    expect(group.name).toBe("ExceptionGroup");
  });

  test("leafErrors lists every non-group error, depth first", () => {
    expect(group.leafErrors()).toEqual([a, b, c]);
  });

  test("split by class keeps the nesting and returns null for an empty side", () => {
    const [match, rest] = group.split(RangeError);
    expect(match?.errors).toHaveLength(1);
    expect((match!.errors[0] as ExceptionGroup).errors).toEqual([b]);
    expect((match!.errors[0] as ExceptionGroup).message).toBe("inner");
    expect(rest?.leafErrors()).toEqual([a, c]);
    const [none, everything] = group.split(SyntaxError);
    expect(none).toBeNull();
    expect(everything?.leafErrors()).toEqual([a, b, c]);
    expect(group.split(Error)[1]).toBeNull();
  });

  test("split and subgroup accept predicates", () => {
    const [match, rest] = group.split((e) => e === c);
    expect(match?.leafErrors()).toEqual([c]);
    expect(rest?.leafErrors()).toEqual([a, b]);
    expect(group.subgroup((e) => e instanceof TypeError)?.leafErrors()).toEqual([a]);
    expect(group.subgroup(() => false)).toBeNull();
  });

  test("bad arguments are rejected", () => {
    expect(() => new ExceptionGroup([])).toThrow(RangeError);
    expect(() => new ExceptionGroup(5 as unknown as unknown[])).toThrow(TypeError);
    expect(() => group.split(5 as unknown as () => boolean)).toThrow(TypeError);
  });
});

test("the resource and timing errors are named Error subclasses", () => {
  for (const E of [
    TooSlowError,
    WouldBlock,
    EndOfChannel,
    ClosedResourceError,
    BrokenResourceError,
    BusyResourceError,
    DeadlockError,
  ]) {
    const error = new E("msg", { cause: "why" });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(E.name);
    expect(error.message).toBe("msg");
    expect(error.cause).toBe("why");
  }
});
