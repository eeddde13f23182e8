/**
 * openTcpStream's Happy Eyeballs (SEMANTICS.md @weft/net), driven through the
 * run-scoped resolver and socket-factory seams on a MockClock: each fake connect
 * sleeps a scripted time and then succeeds or fails, so every attempt's start,
 * end and fate is exact virtual time. Ported from the cases of Trio's
 * test_highlevel_open_tcp_stream.py.
 */
import { currentTime, ExceptionGroup, isCancelled, moveOnAfter, run, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";
import { memoryStreamPair } from "@weft/testing/streams";
import { describe, expect, test } from "vitest";
import {
  type HalfCloseableStream,
  openTcpListeners,
  openTcpStream,
  type ResolvedAddress,
  type SocketFactory,
  setCustomHostnameResolver,
  setCustomSocketFactory,
} from "../../src/index.ts";

type Fate = "success" | "error";

interface Attempt {
  address: string;
  start: number;
  end?: number;
  outcome?: "connected" | "failed" | "cancelled";
  stream?: FakeStream;
}

/** A connected stream from the fake factory that remembers whether it was closed. */
class FakeStream {
  closed = false;
  readonly inner: HalfCloseableStream;
  readonly address: string;
  constructor(address: string) {
    this.address = address;
    this.inner = memoryStreamPair()[0];
  }
  asStream(): HalfCloseableStream {
    const inner = this.inner;
    return {
      sendAll: (d) => inner.sendAll(d),
      waitSendAllMightNotBlock: () => inner.waitSendAllMightNotBlock(),
      sendEof: () => inner.sendEof(),
      receiveSome: (n) => inner.receiveSome(n),
      aclose: async () => {
        this.closed = true;
        await inner.aclose();
      },
      [Symbol.asyncIterator]: () => inner[Symbol.asyncIterator](),
      fake: this,
    } as HalfCloseableStream & { fake: FakeStream };
  }
}

function fakeOf(stream: unknown): FakeStream {
  return (stream as { fake: FakeStream }).fake;
}

/**
 * A fake network: `script` maps an address to [seconds-free delay in ms, fate];
 * families outside `supported` fail at once, as a socket() for them would.
 */
class FakeNet implements SocketFactory {
  readonly attempts: Attempt[] = [];
  readonly script: Record<string, [number, Fate]>;
  readonly supported: ReadonlyArray<4 | 6>;
  constructor(script: Record<string, [number, Fate]>, supported: ReadonlyArray<4 | 6> = [4, 6]) {
    this.script = script;
    this.supported = supported;
  }

  install(answers: string[]): void {
    setCustomHostnameResolver({
      getaddrinfo: async (_host, port) =>
        answers.map(
          (address): ResolvedAddress => ({
            family: address.includes(":") ? 6 : 4,
            address,
            port,
          }),
        ),
    });
    setCustomSocketFactory(this);
  }

  async connect(address: ResolvedAddress): Promise<HalfCloseableStream> {
    const attempt: Attempt = { address: address.address, start: currentTime() };
    this.attempts.push(attempt);
    if (!this.supported.includes(address.family)) {
      attempt.outcome = "failed";
      attempt.end = currentTime();
      throw new Error(`address family IPv${address.family} not supported`);
    }
    const [delay, fate] = this.script[address.address] ?? [Infinity, "error"];
    try {
      await sleep(delay);
    } catch (error) {
      if (isCancelled(error)) attempt.outcome = "cancelled";
      attempt.end = currentTime();
      throw error;
    }
    attempt.end = currentTime();
    if (fate === "error") {
      attempt.outcome = "failed";
      throw new Error(`connect to ${address.address} refused`);
    }
    attempt.outcome = "connected";
    attempt.stream = new FakeStream(address.address);
    return attempt.stream.asStream();
  }

  /** `address@start→end:outcome` for every attempt, in start order. */
  timeline(): string[] {
    return this.attempts.map((a) => `${a.address}@${a.start}→${a.end}:${a.outcome}`);
  }
}

const clock = () => new MockClock({ autojumpThreshold: 0 });

async function scenario(
  answers: string[],
  script: Record<string, [number, Fate]>,
  options: { happyEyeballsDelay?: number; supported?: ReadonlyArray<4 | 6> } = {},
): Promise<{ net: FakeNet; winner: string | null; error: unknown; elapsed: number }> {
  return run(
    async () => {
      const net = new FakeNet(script, options.supported);
      net.install(answers);
      const start = currentTime();
      try {
        const stream = await openTcpStream(
          "test.example.com",
          80,
          options.happyEyeballsDelay !== undefined
            ? { happyEyeballsDelay: options.happyEyeballsDelay }
            : {},
        );
        const fake = fakeOf(stream);
        expect(fake.closed).toBe(false);
        await stream.aclose();
        return { net, winner: fake.address, error: null, elapsed: currentTime() - start };
      } catch (error) {
        return { net, winner: null, error, elapsed: currentTime() - start };
      }
    },
    { clock: clock() },
  );
}

function causes(error: unknown): string[] {
  const group = (error as Error).cause;
  expect(group).toBeInstanceOf(ExceptionGroup);
  return (group as ExceptionGroup).errors.map((e) => (e as Error).message);
}

describe("openTcpStream: Happy Eyeballs on a MockClock", () => {
  test("one address that connects", async () => {
    const r = await scenario(["1.1.1.1"], { "1.1.1.1": [100, "success"] });
    expect(r.winner).toBe("1.1.1.1");
    expect(r.elapsed).toBe(100);
    expect(r.net.timeline()).toEqual(["1.1.1.1@0→100:connected"]);
  });

  test("fall-through on the delay chain: each attempt starts 250 ms after the previous", async () => {
    const r = await scenario(["1.1.1.1", "2.2.2.2", "3.3.3.3"], {
      "1.1.1.1": [1000, "success"],
      "2.2.2.2": [1000, "success"],
      "3.3.3.3": [200, "success"],
    });
    expect(r.winner).toBe("3.3.3.3");
    expect(r.elapsed).toBe(250 + 250 + 200);
    expect(r.net.timeline()).toEqual([
      "1.1.1.1@0→700:cancelled",
      "2.2.2.2@250→700:cancelled",
      "3.3.3.3@500→700:connected",
    ]);
  });

  test("early success: later addresses are never tried", async () => {
    const r = await scenario(["1.1.1.1", "2.2.2.2", "3.3.3.3"], {
      "1.1.1.1": [1000, "success"],
      "2.2.2.2": [100, "success"],
      "3.3.3.3": [0, "success"],
    });
    expect(r.winner).toBe("2.2.2.2");
    expect(r.elapsed).toBe(350);
    expect(r.net.timeline()).toEqual(["1.1.1.1@0→350:cancelled", "2.2.2.2@250→350:connected"]);
  });

  test("a custom happyEyeballsDelay", async () => {
    const r = await scenario(
      ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
      { "1.1.1.1": [2000, "success"], "2.2.2.2": [2000, "success"], "3.3.3.3": [100, "success"] },
      { happyEyeballsDelay: 450 },
    );
    expect(r.winner).toBe("3.3.3.3");
    expect(r.elapsed).toBe(450 + 450 + 100);
    expect(r.net.attempts.map((a) => a.start)).toEqual([0, 450, 900]);
  });

  test("happyEyeballsDelay Infinity tries one address at a time", async () => {
    const r = await scenario(
      ["1.1.1.1", "2.2.2.2"],
      { "1.1.1.1": [5000, "error"], "2.2.2.2": [10, "success"] },
      { happyEyeballsDelay: Infinity },
    );
    expect(r.winner).toBe("2.2.2.2");
    expect(r.net.timeline()).toEqual(["1.1.1.1@0→5000:failed", "2.2.2.2@5000→5010:connected"]);
  });

  test("a failure starts the next attempt at once", async () => {
    const r = await scenario(["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"], {
      "1.1.1.1": [100, "error"],
      "2.2.2.2": [200, "error"],
      "3.3.3.3": [10_000, "success"],
      "4.4.4.4": [300, "success"],
    });
    expect(r.winner).toBe("4.4.4.4");
    expect(r.elapsed).toBe(100 + 200 + 250 + 300);
    expect(r.net.timeline()).toEqual([
      "1.1.1.1@0→100:failed",
      "2.2.2.2@100→300:failed",
      "3.3.3.3@300→850:cancelled",
      "4.4.4.4@550→850:connected",
    ]);
  });

  test("all attempts fail: one Error naming HOST:PORT, every failure in its cause", async () => {
    const r = await scenario(["1.1.1.1", "2.2.2.2", "3.3.3.3"], {
      "1.1.1.1": [100, "error"],
      "2.2.2.2": [400, "error"],
      "3.3.3.3": [50, "error"],
    });
    expect(r.winner).toBeNull();
    expect(r.error).toBeInstanceOf(Error);
    expect((r.error as Error).message).toBe(
      "all attempts to connect to test.example.com:80 failed",
    );
    expect(causes(r.error).sort()).toEqual([
      "connect to 1.1.1.1 refused",
      "connect to 2.2.2.2 refused",
      "connect to 3.3.3.3 refused",
    ]);
    // 2.2.2.2 starts at 100 and fails at 500; 3.3.3.3 starts at 350 (its delay expired).
    expect(r.net.timeline()).toEqual([
      "1.1.1.1@0→100:failed",
      "2.2.2.2@100→500:failed",
      "3.3.3.3@350→400:failed",
    ]);
    expect(r.elapsed).toBe(500);
  });

  test("several attempts connecting at the same instant: one wins, the others are closed", async () => {
    const r = await scenario(["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"], {
      "1.1.1.1": [750, "success"],
      "2.2.2.2": [500, "success"],
      "3.3.3.3": [250, "success"],
      "4.4.4.4": [10_000, "success"],
    });
    expect(r.winner).not.toBeNull();
    const connected = r.net.attempts.filter((a) => a.outcome === "connected");
    expect(connected.map((a) => a.address)).toEqual(["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
    expect(connected.every((a) => a.end === 750)).toBe(true);
    // The winner was closed by the scenario itself; every loser by openTcpStream.
    for (const a of connected) expect(a.stream!.closed).toBe(true);
    // Its start was due at 750 too: depending on which step runs first it is
    // cancelled before it starts or while connecting, never connected.
    const fourth = r.net.attempts.find((a) => a.address === "4.4.4.4");
    expect(fourth === undefined || fourth.outcome === "cancelled").toBe(true);
  });

  test("the first address of the other family moves to second place", async () => {
    const answers = ["1.1.1.1", "1.1.1.2", "1.1.1.3", "::1", "::2"];
    const script = Object.fromEntries(answers.map((a) => [a, [1000, "error"] as [number, Fate]]));
    const r = await scenario(answers, script, { happyEyeballsDelay: 10 });
    expect(r.net.attempts.map((a) => `${a.address}@${a.start}`)).toEqual([
      "1.1.1.1@0",
      "::1@10",
      "1.1.1.2@20",
      "1.1.1.3@30",
      "::2@40",
    ]);
  });

  test("an unsupported family fails at once and the next attempt starts", async () => {
    const r = await scenario(
      ["::1", "1.1.1.1", "::2"],
      { "1.1.1.1": [100, "success"] },
      { supported: [4] },
    );
    expect(r.winner).toBe("1.1.1.1");
    expect(r.net.timeline()).toEqual(["::1@0→0:failed", "1.1.1.1@0→100:connected"]);
  });

  test("no usable family at all: every attempt fails at once", async () => {
    const r = await scenario(["::1", "::2"], {}, { supported: [4] });
    expect((r.error as Error).message).toBe(
      "all attempts to connect to test.example.com:80 failed",
    );
    expect(causes(r.error)).toEqual([
      "address family IPv6 not supported",
      "address family IPv6 not supported",
    ]);
    expect(r.elapsed).toBe(0);
  });

  test("no results from the resolver", async () => {
    const r = await scenario([], {});
    expect((r.error as Error).message).toContain("no results found");
    expect((r.error as Error).message).toContain("test.example.com:80");
  });

  test("outer cancellation cancels every pending attempt and closes nothing it returns", async () => {
    await run(
      async () => {
        const net = new FakeNet({
          "1.1.1.1": [1000, "success"],
          "2.2.2.2": [1000, "success"],
        });
        net.install(["1.1.1.1", "2.2.2.2"]);
        const result = await moveOnAfter(300, () => openTcpStream("test.example.com", 80));
        expect(result).toBeUndefined();
        expect(currentTime()).toBe(300);
        expect(net.timeline()).toEqual(["1.1.1.1@0→300:cancelled", "2.2.2.2@250→300:cancelled"]);
      },
      { clock: clock() },
    );
  });

  test("cancelled around the moment of connecting: a stream is returned or closed, never leaked", async () => {
    for (const deadline of [249, 250, 251, 299, 300, 301]) {
      await run(
        async () => {
          const net = new FakeNet({ "1.1.1.1": [300, "success"], "2.2.2.2": [50, "success"] });
          net.install(["1.1.1.1", "2.2.2.2"]);
          const result = await moveOnAfter(deadline, () => openTcpStream("test.example.com", 80));
          const open = net.attempts.filter((a) => a.stream !== undefined && !a.stream.closed);
          if (result === undefined) {
            expect(open).toEqual([]);
          } else {
            expect(open.map((a) => a.stream)).toEqual([fakeOf(result)]);
            await result.aclose();
          }
        },
        { clock: clock() },
      );
    }
  });

  test("a numeric host is used as it is, without the resolver", async () => {
    await run(
      async () => {
        const net = new FakeNet({ "10.0.0.1": [5, "success"], "::1": [5, "success"] });
        setCustomHostnameResolver({
          getaddrinfo: () => Promise.reject(new Error("resolver must not be called")),
        });
        setCustomSocketFactory(net);
        await (await openTcpStream("10.0.0.1", 443)).aclose();
        await (await openTcpStream("::1", 443)).aclose();
        expect(net.attempts.map((a) => a.address)).toEqual(["10.0.0.1", "::1"]);
      },
      { clock: clock() },
    );
  });

  test("an IPv6 literal is bracketed in the all-failed message", async () => {
    await run(
      async () => {
        setCustomSocketFactory(new FakeNet({ "::1": [1, "error"] }));
        const error = await openTcpStream("::1", 8080).catch((e: unknown) => e);
        expect((error as Error).message).toBe("all attempts to connect to [::1]:8080 failed");
      },
      { clock: clock() },
    );
  });

  test("the seams belong to the run that set them", async () => {
    const [listener] = await run(() => openTcpListeners(0, { host: "127.0.0.1" }));
    const port = listener!.localAddress.port;
    try {
      await run(async () => {
        setCustomSocketFactory({
          connect: () => Promise.reject(new Error("fake factory")),
        });
        const error = await openTcpStream("127.0.0.1", port).catch((e: unknown) => e);
        expect(causes(error)).toEqual(["fake factory"]);
        setCustomSocketFactory(null);
        await (await openTcpStream("127.0.0.1", port)).aclose();
        setCustomSocketFactory({ connect: () => Promise.reject(new Error("fake factory")) });
      });
      // A later run is not affected by the earlier run's factory.
      await run(async () => {
        const stream = await openTcpStream("127.0.0.1", port);
        expect(stream.remoteAddress.port).toBe(port);
        await stream.aclose();
      });
    } finally {
      await run(() => listener!.aclose());
    }
  });

  test("seams are only set inside run(), and must implement their method", async () => {
    expect(() => setCustomSocketFactory(null)).toThrow(/outside|run/);
    await run(async () => {
      expect(() => setCustomHostnameResolver({} as never)).toThrow(TypeError);
      expect(() => setCustomSocketFactory({ connect: 1 } as never)).toThrow(TypeError);
    });
  });

  test("a resolver failure propagates as it is", async () => {
    await run(async () => {
      setCustomHostnameResolver({
        getaddrinfo: () => Promise.reject(new Error("ENOTFOUND nowhere.invalid")),
      });
      await expect(openTcpStream("nowhere.invalid", 80)).rejects.toThrow("ENOTFOUND");
    });
  });
});

describe("openTcpStream over real sockets", () => {
  test("localhost connects whichever family the resolver lists first", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const stream = await openTcpStream("localhost", listener!.localAddress.port);
        expect(stream.remoteAddress).toEqual({
          family: 4,
          address: "127.0.0.1",
          port: listener!.localAddress.port,
        });
        await stream.aclose();
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("a refused connection: all attempts failed, with ECONNREFUSED in the cause", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      const port = listener!.localAddress.port;
      await listener!.aclose();
      const error = await openTcpStream("127.0.0.1", port).catch((e: unknown) => e);
      expect((error as Error).message).toBe(`all attempts to connect to 127.0.0.1:${port} failed`);
      const [attemptError] = ((error as Error).cause as ExceptionGroup).errors as Error[];
      expect(attemptError!.message).toContain("ECONNREFUSED");
      expect((attemptError!.cause as { code?: string }).code).toBe("ECONNREFUSED");
    });
  });

  test("bad input", async () => {
    await run(async () => {
      await expect(openTcpStream(1 as never, 80)).rejects.toThrow(TypeError);
      await expect(openTcpStream("", 80)).rejects.toThrow(TypeError);
      await expect(openTcpStream("localhost", 70_000)).rejects.toThrow(RangeError);
      await expect(openTcpStream("localhost", 1.5)).rejects.toThrow(RangeError);
      await expect(openTcpStream("localhost", "80" as never)).rejects.toThrow(TypeError);
      await expect(openTcpStream("localhost", 80, { happyEyeballsDelay: -1 })).rejects.toThrow(
        /happyEyeballsDelay/,
      );
      await expect(
        openTcpStream("localhost", 80, { happyEyeballsDelay: "1" as never }),
      ).rejects.toThrow(TypeError);
      await expect(openTcpStream("localhost", 80, { localAddress: 5 as never })).rejects.toThrow(
        /localAddress/,
      );
      await expect(openTcpStream("localhost", 80, 5 as never)).rejects.toThrow(TypeError);
    });
  });
});
