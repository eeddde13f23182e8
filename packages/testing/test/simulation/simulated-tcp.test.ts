/**
 * Simulated TCP over simulated links: order, latency, backpressure, faults,
 * reset, determinism. All on virtual time (MockClock with autojump).
 */
import {
  BrokenResourceError,
  ClosedResourceError,
  currentTime,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { rejection } from "../../../core/test/support/helpers.ts";
import {
  DeterministicScheduler,
  MockClock,
  type SimulatedDelivery,
  SimulatedLink,
  type SimulatedTcpStream,
  seededRandom,
  simulatedTcpPair,
  waitAllTasksBlocked,
} from "../../src/index.ts";

const inRun = <T>(fn: () => Promise<T>) =>
  run(fn, { clock: new MockClock({ autojumpThreshold: 0 }) });
const b = (s: string) => new TextEncoder().encode(s);
const str = (data: Uint8Array) => new TextDecoder().decode(data);

/** Reads until EOF; returns the bytes and the time each chunk came. */
async function readAll(stream: SimulatedTcpStream): Promise<{ data: Uint8Array; times: number[] }> {
  const chunks: Uint8Array[] = [];
  const times: number[] = [];
  while (true) {
    const chunk = await stream.receiveSome();
    if (chunk.length === 0) break;
    chunks.push(chunk);
    times.push(currentTime());
  }
  const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  return { data, times };
}

describe("SimulatedLink ordering and latency", () => {
  test("a segment arrives after its latency, on virtual time", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 25 });
      await client.sendAll(b("hello"));
      expect(str(await server.receiveSome())).toBe("hello");
      expect(currentTime()).toBe(25);
    });
  });

  test("bytes arrive in order and complete under any latency distribution; arrivals respect latency", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 5000 }), gap: fc.nat(30) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: 0, max: 50 }),
        async (seed, sends, spread) => {
          const deliveries: SimulatedDelivery[] = [];
          const random = seededRandom(seed);
          const up = new SimulatedLink({
            latency: (r) => r() * spread,
            random,
            onDelivery: (d) => deliveries.push(d),
          });
          const total = sends.reduce((n, s) => n + s.size, 0);
          const payload = new Uint8Array(total);
          for (let i = 0; i < total; i++) payload[i] = (i * 31 + seed) & 0xff;
          const received = await inRun(async () => {
            const [client, server] = simulatedTcpPair({
              clientToServer: up,
              latency: (r) => r() * spread,
              random,
              window: 1 << 20,
            });
            let got: Uint8Array = new Uint8Array(0);
            await openNursery(async (nursery) => {
              nursery.startSoon(async () => {
                let offset = 0;
                for (const { size, gap } of sends) {
                  await client.sendAll(payload.subarray(offset, offset + size));
                  offset += size;
                  await sleep(gap);
                }
                await client.sendEof();
              });
              nursery.startSoon(async () => {
                got = (await readAll(server)).data;
              });
            });
            return got;
          });
          expect(received).toEqual(payload);
          let previous = -Infinity;
          for (const d of deliveries) {
            // In order: never before an earlier segment; never before its own latency.
            expect(d.arrivedAt).toBe(Math.max(d.sentAt + d.latency, previous));
            expect(d.latency).toBeLessThanOrEqual(spread);
            previous = d.arrivedAt;
          }
          expect(deliveries.at(-1)?.kind).toBe("eof");
        },
      ),
      { numRuns: 60 },
    );
  });

  test("a ping-pong of n round trips takes 2 × n × latency of virtual time", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 100 }),
        async (n, latency) => {
          const elapsed = await inRun(async () => {
            const [client, server] = simulatedTcpPair({ latency });
            await openNursery(async (nursery) => {
              nursery.startSoon(async () => {
                for (let i = 0; i < n; i++) {
                  await client.sendAll(b("ping"));
                  expect(str(await client.receiveSome())).toBe("pong");
                }
              });
              nursery.startSoon(async () => {
                for (let i = 0; i < n; i++) {
                  expect(str(await server.receiveSome())).toBe("ping");
                  await server.sendAll(b("pong"));
                }
              });
            });
            return currentTime();
          });
          expect(elapsed).toBe(2 * n * latency);
        },
      ),
      { numRuns: 30 },
    );
  });

  test("a later segment with a smaller latency does not overtake an earlier one", async () => {
    await inRun(async () => {
      const latencies = [100, 1];
      const [client, server] = simulatedTcpPair({
        latency: () => latencies.shift() ?? 0,
        random: seededRandom(1),
        segmentSize: 1,
      });
      await client.sendAll(b("ab"));
      expect(str(await server.receiveSome())).toBe("a");
      expect(currentTime()).toBe(100);
      expect(str(await server.receiveSome())).toBe("b");
      expect(currentTime()).toBe(100);
    });
  });

  test("the same seeds give the same delivery trace (network seed and DeterministicScheduler seed)", async () => {
    const trace = async (seed: number, schedule = 0) => {
      const events: string[] = [];
      const clock = new MockClock({ autojumpThreshold: 0 });
      await run(
        async () => {
          const random = seededRandom(seed);
          const [client, server] = simulatedTcpPair({
            latency: (r) => 1 + r() * 10,
            random,
            window: 4096,
          });
          await openNursery(async (nursery) => {
            for (const [name, stream] of [
              ["client", client],
              ["server", server],
            ] as const) {
              nursery.startSoon(async () => {
                for (let i = 0; i < 20; i++) await stream.sendAll(new Uint8Array(500 + i * 37));
                await stream.sendEof();
              });
              nursery.startSoon(async () => {
                while (true) {
                  const chunk = await stream.receiveSome(700);
                  events.push(`${currentTime()} ${name} ${chunk.length}`);
                  if (chunk.length === 0) break;
                }
              });
            }
          });
        },
        { clock, scheduler: new DeterministicScheduler({ seed: schedule }) },
      );
      return events;
    };
    const first = await trace(42);
    expect(await trace(42)).toEqual(first);
    expect(await trace(43)).not.toEqual(first);
    for (const schedule of [1, 2, 3]) {
      expect(await trace(42, schedule)).toEqual(await trace(42, schedule));
    }
  });
});

describe("backpressure", () => {
  test("sendAll blocks once window bytes are unread by the peer", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 10, window: 1000 });
      let sent = 0;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < 10; i++) {
            await client.sendAll(new Uint8Array(300));
            sent += 300;
          }
        });
        await sleep(100);
        // 900 bytes went out; the fourth sendAll sent 100 and waits for window.
        expect(sent).toBe(900);
        let unread = 0;
        while (sent < 3000 || unread < 3000) {
          const chunk = await server.receiveSome(250);
          unread += chunk.length;
          // Never more than the window outstanding: sent by the client, not yet read.
          expect(sent - unread).toBeLessThanOrEqual(1000);
        }
      });
    });
  });

  test("the window reopens a round trip after the peer reads (its update travels back)", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 10, window: 100 });
      await client.sendAll(new Uint8Array(100));
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await client.waitSendAllMightNotBlock();
          // Data arrived at 10, was read then, the update arrived at 20.
          expect(currentTime()).toBe(20);
        });
        await server.receiveSome();
      });
    });
  });
});

describe("faults", () => {
  test("a partition holds segments; repair retransmits them with fresh latency, in order", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 5 });
      client.outgoing.partition();
      await client.sendAll(b("one"));
      await sleep(3);
      await client.sendAll(b("two"));
      let got = "";
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          got += str(await server.receiveSome());
          got += str(await server.receiveSome());
        });
        await sleep(100);
        expect(got).toBe(""); // nothing crossed, nothing lost
        client.outgoing.repair();
      });
      expect(got).toBe("onetwo");
      expect(currentTime()).toBe(108); // repaired at 103, plus 5
    });
  });

  test("data that arrived before a partition is still readable during it", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 5 });
      await client.sendAll(b("early"));
      await sleep(10);
      client.outgoing.partition();
      expect(str(await server.receiveSome())).toBe("early");
    });
  });

  test("hold keeps everything in flight; release delivers it (late ones at once, others on time)", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 10 });
      client.outgoing.hold();
      expect(client.outgoing.held).toBe(true);
      await client.sendAll(b("a"));
      await sleep(50);
      const times: number[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < 2; i++) {
            await server.receiveSome();
            times.push(currentTime());
          }
        });
        await client.sendAll(b("b")); // due at 60
        await sleep(5);
        client.outgoing.release(); // at 55: "a" (due 10) at once, "b" at 60
      });
      expect(times).toEqual([55, 60]);
    });
  });

  test("under random holds and partitions on both links, bytes still arrive complete and in order", async () => {
    const fault = fc.record({
      at: fc.integer({ min: 0, max: 200 }),
      link: fc.constantFrom("up", "down"),
      kind: fc.constantFrom("hold", "partition"),
      duration: fc.integer({ min: 0, max: 80 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(fault, { maxLength: 8 }), async (seed, faults) => {
        const deliveries: SimulatedDelivery[] = [];
        const random = seededRandom(seed);
        const latency = (r: () => number) => r() * 20;
        const up = new SimulatedLink({ latency, random, onDelivery: (d) => deliveries.push(d) });
        const payload = new Uint8Array(20_000).map((_, i) => (i * 7 + seed) & 0xff);
        const received = await inRun(async () => {
          const [client, server] = simulatedTcpPair({
            clientToServer: up,
            latency,
            random,
            window: 3000,
          });
          let got: Uint8Array = new Uint8Array(0);
          await openNursery(async (nursery) => {
            for (const f of faults) {
              const link = f.link === "up" ? client.outgoing : client.incoming;
              nursery.startSoon(async () => {
                await sleep(f.at);
                if (f.kind === "hold") link.hold();
                else link.partition();
                await sleep(f.duration);
                if (f.kind === "hold") link.release();
                else link.repair();
              });
            }
            nursery.startSoon(async () => {
              for (let offset = 0; offset < payload.length; offset += 700) {
                await client.sendAll(payload.subarray(offset, offset + 700));
              }
              await client.sendEof();
            });
            nursery.startSoon(async () => {
              got = (await readAll(server)).data;
            });
          });
          return got;
        });
        expect(received).toEqual(payload);
        for (let i = 1; i < deliveries.length; i++) {
          expect(deliveries[i]!.arrivedAt).toBeGreaterThanOrEqual(deliveries[i - 1]!.arrivedAt);
        }
      }),
      { numRuns: 60 },
    );
  });

  test("a held return path stalls the sender: window updates are held too", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 1, window: 100 });
      client.incoming.hold();
      await client.sendAll(new Uint8Array(100));
      expect((await server.receiveSome()).length).toBe(100);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await client.sendAll(new Uint8Array(1));
          expect(currentTime()).toBe(50);
        });
        await sleep(49);
        client.incoming.release(); // at 50
      });
    });
  });

  test("break(error) resets the connection: both sides' pending and later calls raise BrokenResourceError with the cause", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 5, window: 10 });
      const boom = new Error("cable cut");
      const errors: unknown[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => errors.push(await rejection(server.receiveSome())));
        nursery.startSoon(async () =>
          errors.push(await rejection(client.sendAll(new Uint8Array(100)))),
        );
        await waitAllTasksBlocked();
        server.outgoing.break(boom); // either direction resets the whole connection
      });
      for (const error of [
        ...errors,
        await rejection(client.receiveSome()),
        await rejection(server.sendAll(b("x"))),
        await rejection(client.sendEof()),
      ]) {
        expect(error).toBeInstanceOf(BrokenResourceError);
        expect((error as Error).cause).toBe(boom);
      }
      expect(client.outgoing.broken && client.incoming.broken).toBe(true);
      await client.aclose();
      await server.aclose();
    });
  });
});

describe("closing", () => {
  test("sendEof: the peer gets EOF after the data in flight, and can still send", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 7 });
      await client.sendAll(b("request"));
      await client.sendEof();
      const { data } = await readAll(server);
      expect(str(data)).toBe("request");
      await server.sendAll(b("response"));
      expect(str(await client.receiveSome())).toBe("response");
      expect(await rejection(client.sendAll(b("more")))).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("closing with nothing unread sends FIN: the peer reads the data, then EOF", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 7 });
      await client.sendAll(b("bye"));
      await client.aclose();
      expect(str((await readAll(server)).data)).toBe("bye");
    });
  });

  test("`await using` closes the stream at the end of the block, even when it throws: the peer reads the data, then EOF", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 7 });
      {
        await using stream = client;
        await stream.sendAll(b("bye"));
      }
      expect(await rejection(client.sendAll(b("more")))).toBeInstanceOf(ClosedResourceError);
      expect(str((await readAll(server)).data)).toBe("bye");

      const [client2, server2] = simulatedTcpPair({ latency: 7 });
      const boom = new Error("boom");
      const error = await rejection(
        (async () => {
          await using stream = client2;
          await stream.sendAll(b("last"));
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(await rejection(client2.sendAll(b("more")))).toBeInstanceOf(ClosedResourceError);
      expect(str((await readAll(server2)).data)).toBe("last");
    });
  });

  test("closing with unread data resets: the peer gets BrokenResourceError (ECONNRESET) when the RST arrives", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 7 });
      await server.sendAll(b("unread"));
      await sleep(10);
      await client.aclose();
      const error = await rejection(server.receiveSome());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as { cause: { code: string } }).cause.code).toBe("ECONNRESET");
      expect(currentTime()).toBe(17);
    });
  });

  test("closing with only the peer's EOF unread sends FIN, whether the EOF has arrived or is in flight", async () => {
    for (const eofArrived of [false, true]) {
      await inRun(async () => {
        const [a, b2] = simulatedTcpPair({ latency: 5 });
        await b2.sendAll(b("bye"));
        await a.sendEof(); // A's FIN is on the wire
        if (eofArrived) await sleep(6);
        await b2.aclose(); // B has no data unread: only A's FIN, arrived or coming
        const { data, times } = await readAll(a);
        expect(str(data)).toBe("bye");
        expect(times).toEqual([eofArrived ? 6 : 5]);
        expect(await a.receiveSome()).toEqual(new Uint8Array(0)); // EOF, not a reset
      });
    }
  });

  test("closing with data in flight (not yet arrived) resets when that data arrives", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 7 });
      await server.sendAll(b("unread"));
      await sleep(3);
      await client.aclose(); // the data arrives at 7; the RST departs then, arrives at 14
      await sleep(10);
      expect(currentTime()).toBe(13);
      await server.sendAll(b("not yet")); // accepted: the reset has not arrived
      await sleep(1);
      const error = await rejection(server.receiveSome());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as { cause: { code: string } }).cause.code).toBe("ECONNRESET");
    });
  });

  test("closing with unread data and the peer's EOF behind it still resets", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 7 });
      await server.sendAll(b("unread"));
      await server.sendEof();
      await sleep(10);
      await client.aclose();
      await sleep(6);
      expect(await rejection(client.receiveSome())).toBeInstanceOf(ClosedResourceError);
      await sleep(1);
      const error = await rejection(server.receiveSome());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as { cause: { code: string } }).cause.code).toBe("ECONNRESET");
    });
  });

  test("data sent to a closed peer is answered by a reset a round trip later", async () => {
    await inRun(async () => {
      const [client, server] = simulatedTcpPair({ latency: 5 });
      await server.aclose();
      expect((await client.receiveSome()).length).toBe(0); // FIN, at 5
      await client.sendAll(b("anyone?")); // at 5, accepted: the socket cannot know yet
      await sleep(9);
      await client.sendAll(b("still?")); // at 14: the reset is on its way back
      await sleep(1);
      const error = await rejection(client.sendAll(b("hello?"))); // at 15 it has arrived
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as { cause: { code: string } }).cause.code).toBe("ECONNRESET");
    });
  });
});

describe("addresses and arguments", () => {
  test("each end has localAddress and remoteAddress from the options", async () => {
    const clientAddress = { family: 6, address: "fd00::1", port: 50000 } as const;
    const serverAddress = { family: 6, address: "fd00::2", port: 443 } as const;
    const [client, server] = simulatedTcpPair({ clientAddress, serverAddress });
    expect(client.localAddress).toEqual(clientAddress);
    expect(client.remoteAddress).toEqual(serverAddress);
    expect(server.localAddress).toEqual(serverAddress);
    expect(server.remoteAddress).toEqual(clientAddress);
  });

  test("bad options throw TypeError or RangeError naming the option", () => {
    expect(() => simulatedTcpPair({ window: 0 })).toThrow(/options\.window/);
    expect(() => new SimulatedLink({ latency: -1 })).toThrow(RangeError);
    expect(() => new SimulatedLink({ latency: () => 1 })).toThrow(/options\.random/);
    expect(() =>
      simulatedTcpPair({ clientAddress: { family: 4, address: "x", port: 70000 } }),
    ).toThrow(/options\.clientAddress/);
  });

  test("a latency function returning a bad value makes sendAll reject with RangeError", async () => {
    await inRun(async () => {
      const [client] = simulatedTcpPair({ latency: () => Number.NaN, random: seededRandom(1) });
      expect(await rejection(client.sendAll(b("x")))).toBeInstanceOf(RangeError);
    });
  });
});
