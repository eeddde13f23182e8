/**
 * Simulation: unmodified @weft/net code (serveTcp, openTcpStream, serveHttp)
 * on simulated hosts, on virtual time, with crashes, bounces and partitions;
 * the same seed gives the same run.
 */
import { inspect } from "node:util";
import {
  BrokenResourceError,
  currentTime,
  DeadlockError,
  type ExceptionGroup,
  lowlevel,
  moveOnAfter,
  openNursery,
  sleep,
  sleepForever,
} from "@weft/core";
import type { HalfCloseableStream } from "@weft/core/streams";
import {
  BufferedReceiveStream,
  fetch,
  fetchJson,
  openTcpStream,
  readText,
  serveHttp,
  serveTcp,
} from "@weft/net";
import { DeterministicScheduler } from "@weft/testing";
import { checkDeterminism, NondeterminismError, Simulation } from "@weft/testing/simulation";
import { describe, expect, test } from "vitest";
import { rejection } from "../../../core/test/support/helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An echo server: every byte back, until EOF. */
async function echo(stream: HalfCloseableStream): Promise<void> {
  for await (const chunk of stream) await stream.sendAll(chunk);
  await stream.sendEof();
}

async function roundTrip(stream: HalfCloseableStream, text: string): Promise<string> {
  await stream.sendAll(encoder.encode(text));
  let got = "";
  while (got.length < text.length) {
    const chunk = await stream.receiveSome();
    if (chunk.length === 0) break;
    got += decoder.decode(chunk);
  }
  return got;
}

describe("Simulation", () => {
  test("a client reaches a host's serveTcp by name, on virtual time with the configured latency", async () => {
    const seen: string[] = [];
    const sim = new Simulation({ seed: 3, latency: 10 });
    sim.host("server", () => serveTcp(echo, 7000));
    sim.client("client", async () => {
      const start = currentTime();
      const stream = await openTcpStream("server", 7000);
      seen.push(`connected to ${stream.remoteAddress.address}:${stream.remoteAddress.port}`);
      seen.push(`echo: ${await roundTrip(stream, "hello")}`);
      seen.push(`took ${currentTime() - start} ms`);
      await stream.aclose();
    });
    await sim.run();
    expect(seen[0]).toBe("connected to 10.0.0.1:7000");
    expect(seen[1]).toBe("echo: hello");
    // A round trip is two 10 ms hops (the connect itself is instant here).
    expect(Number(seen[2]!.split(" ")[1])).toBeGreaterThanOrEqual(20);
  });

  test("serveHttp serves on a simulated host; a client speaks HTTP over a simulated stream", async () => {
    let answer = "";
    const sim = new Simulation({ seed: 1 });
    sim.host("web", () =>
      serveHttp(async (request) => new Response(`hello from ${new URL(request.url).host}`), {
        port: 80,
      }),
    );
    sim.client("browser", async () => {
      const stream = await openTcpStream("web", 80);
      await stream.sendAll(
        encoder.encode("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"),
      );
      for await (const chunk of stream) answer += decoder.decode(chunk);
    });
    await sim.run();
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*hello from web$/);
  });

  test("weft's fetch reaches a serveHttp host by name over the simulation (GET and POST, JSON)", async () => {
    const results: unknown[] = [];
    const sim = new Simulation({ seed: 4, latency: 3 });
    sim.host("api", () =>
      serveHttp(
        async (request) =>
          request.method === "POST"
            ? Response.json({ echoed: await request.json() })
            : Response.json({ path: new URL(request.url).pathname }),
        { port: 8080 },
      ),
    );
    sim.client("caller", async () => {
      results.push(await fetchJson("http://api:8080/items/1"));
      const posted = await fetch("http://api:8080/items", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ n: 7 }),
      });
      results.push(posted.status, await posted.json());
      await expect(fetch("http://nowhere:80/")).rejects.toThrow(/ENOTFOUND|nowhere/);
    });
    await sim.run();
    expect(results).toEqual([{ path: "/items/1" }, 200, { echoed: { n: 7 } }]);
  });

  test("a host crashing mid-response body: the client's body read fails with BrokenResourceError, raw or through readText, caused by the connection's reset", async () => {
    const failures: unknown[] = [];
    const sim = new Simulation({ seed: 6, latency: 1 });
    sim.host("api", () =>
      serveHttp(
        async () =>
          // The first part of the body, then nothing: the host crashes before the rest.
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(encoder.encode("first part;"));
              },
            }),
          ),
        { port: 80 },
      ),
    );
    sim.client("caller", async () => {
      await sleep(1);
      for (const read of [(r: Response) => r.text(), readText]) {
        const response = await fetch("http://api/stream");
        expect(response.status).toBe(200);
        await sleep(10); // the first part has arrived
        sim.crash("api");
        failures.push(await rejection(read(response)));
        sim.bounce("api");
        await sleep(1);
      }
    });
    await sim.run();
    expect(failures).toHaveLength(2);
    for (const error of failures) {
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toMatch(
        /^reading the body of GET http:\/\/api\/stream failed: simulated connection .* was broken/,
      );
      // The simulated connection's reset (not Node's bare "aborted"), caused by the crash.
      expect((error as Error).cause).toBeInstanceOf(BrokenResourceError);
      expect(inspect(error, { depth: 5 })).toContain('host "api" crashed');
    }
  });

  test("a host that closes the connection without answering: fetch fails with BrokenResourceError caused by Node's error", async () => {
    const sim = new Simulation({ seed: 7, latency: 1 });
    sim.host("mute", () =>
      serveTcp(async (stream) => {
        let request = "";
        while (!request.includes("\r\n\r\n")) request += decoder.decode(await stream.receiveSome());
        await stream.aclose(); // no answer
      }, 80),
    );
    let failure: unknown;
    sim.client("caller", async () => {
      await sleep(1);
      failure = await rejection(fetch("http://mute/"));
    });
    await sim.run();
    expect(failure).toBeInstanceOf(BrokenResourceError);
    expect((failure as Error).message).toBe("fetch GET http://mute/ failed: socket hang up");
    expect(((failure as Error).cause as Error & { code?: string }).code).toBe("ECONNRESET");
  });

  test("a fetch over the simulation that is cancelled or aborted by its caller is not a BrokenResourceError", async () => {
    const outcomes: unknown[] = [];
    const sim = new Simulation({ seed: 8, latency: 1 });
    sim.host("slow", () =>
      serveHttp(
        async () => {
          await sleep(10_000);
          return new Response("late");
        },
        { port: 80 },
      ),
    );
    sim.client("caller", async () => {
      await sleep(1);
      outcomes.push(await moveOnAfter(50, () => fetch("http://slow/")));
      outcomes.push(currentTime());
      const controller = new AbortController();
      const reason = new Error("the caller gave up");
      setTimeout(() => controller.abort(reason), 0);
      const error = await rejection(fetch("http://slow/", { signal: controller.signal }));
      outcomes.push(error === reason);
    });
    await sim.run();
    expect(outcomes).toEqual([undefined, 51, true]);
  });

  test("a crash resets the host's connections (BrokenResourceError) and a bounce brings it back", async () => {
    const events: string[] = [];
    const sim = new Simulation({ seed: 5, latency: 1 });
    sim.host("db", () => serveTcp(echo, 5432));
    sim.client("app", async () => {
      const stream = await openTcpStream("db", 5432);
      events.push(`before: ${await roundTrip(stream, "ping")}`);
      sim.crash("db");
      try {
        await roundTrip(stream, "lost");
        events.push("no error?");
      } catch (error) {
        events.push(`after crash: ${(error as Error).name}`);
        expect(error).toBeInstanceOf(BrokenResourceError);
      }
      await expect(openTcpStream("db", 5432)).rejects.toThrow(/ECONNREFUSED|all attempts/);
      sim.bounce("db");
      await sleep(1);
      const again = await openTcpStream("db", 5432);
      events.push(`after bounce: ${await roundTrip(again, "pong")}`);
      await again.aclose();
    });
    await sim.run();
    expect(events).toEqual([
      "before: ping",
      "after crash: BrokenResourceError",
      "after bounce: pong",
    ]);
  });

  test("a partition holds a connect until repaired; a timeout around it fires on virtual time", async () => {
    const events: string[] = [];
    const sim = new Simulation({ seed: 2, latency: 1 });
    sim.host("server", () => serveTcp(echo, 1));
    sim.client("client", async () => {
      sim.partition("client", "server");
      const timedOut = await moveOnAfter(1_000, () => openTcpStream("server", 1));
      events.push(
        `during partition: ${timedOut === undefined ? "timed out" : "connected"} at ${currentTime()}`,
      );
      sim.repair("client", "server");
      const stream = await openTcpStream("server", 1);
      events.push(`after repair: ${await roundTrip(stream, "x")}`);
      await stream.aclose();
    });
    await sim.run();
    expect(events).toEqual(["during partition: timed out at 1000", "after repair: x"]);
  });

  test("the same seed gives the same run: the trace of two runs is identical", async () => {
    async function traceOf(seed: number): Promise<string[]> {
      const trace: string[] = [];
      const sim = new Simulation({ seed, latency: (random) => 1 + Math.floor(random() * 20) });
      sim.host("server", () =>
        serveTcp(async (stream) => {
          for await (const chunk of stream) {
            trace.push(`server got ${decoder.decode(chunk)} at ${currentTime()}`);
            await stream.sendAll(chunk);
          }
        }, 9),
      );
      for (const name of ["a", "b", "c"]) {
        sim.client(name, async () => {
          const stream = await openTcpStream("server", 9);
          for (let i = 0; i < 3; i++) {
            await roundTrip(stream, `${name}${i}`);
            trace.push(`${name} round trip ${i} done at ${currentTime()}`);
          }
          await stream.aclose();
        });
      }
      await sim.run();
      return trace;
    }
    const first = await traceOf(11);
    expect(await traceOf(11)).toEqual(first);
    expect(first.length).toBe(18);
  });

  describe("checkDeterminism", () => {
    /** Three clients round-tripping with a server over links of random latency. */
    function scenario(seed: number, sleepFor: () => number = () => 1): Simulation {
      const sim = new Simulation({ seed, latency: (random) => 1 + Math.floor(random() * 20) });
      sim.host("server", () => serveTcp(echo, 9));
      for (const name of ["a", "b", "c"]) {
        sim.client(name, async () => {
          await sleep(1); // the server listens first (no time passes while it starts)
          const stream = await openTcpStream("server", 9);
          for (let i = 0; i < 3; i++) {
            await roundTrip(stream, `${name}${i}`);
            await sleep(sleepFor());
          }
          await stream.aclose();
        });
      }
      return sim;
    }

    test("a scenario on the simulation's clock and randomness passes over 20 seeds; its trace records the deliveries", async () => {
      expect(
        await checkDeterminism(scenario, { seeds: Array.from({ length: 20 }, (_, i) => i + 1) }),
      ).toBe(20);
      const sim = scenario(1);
      await sim.run();
      expect(sim.trace.filter((line) => / connect /.test(line))).toHaveLength(3);
      expect(sim.trace.some((line) => /server → a data 2 \(sent \d+\)$/.test(line))).toBe(true);
      expect(sim.trace.at(-1)).toMatch(/^scheduler choices: [\d,]*$/);
    });

    test("Math.random in the scenario is caught: the first divergence is reported", async () => {
      const error = await checkDeterminism(
        (seed) => scenario(seed, () => 1 + Math.floor(Math.random() * 50)),
        {
          seeds: [1],
        },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NondeterminismError);
      expect((error as NondeterminismError).message).toMatch(
        /^seed 1: the runs diverge at trace line \d+/,
      );
    });
  });

  describe("review findings", () => {
    test("a crashed client ends (the run does not deadlock waiting for its bounce)", async () => {
      const sim = new Simulation({ seed: 1, faults: [{ at: 5, kind: "crash", host: "client" }] });
      sim.host("server", () => serveTcp(echo, 1));
      let reached = false;
      sim.client("client", async () => {
        await sleep(100);
        reached = true;
      });
      await sim.run();
      expect(reached).toBe(false);
    });

    test("after a one-way partition is repaired, a waiting connect goes through", async () => {
      const events: string[] = [];
      const sim = new Simulation({ seed: 1, latency: 1 });
      sim.host("server", () => serveTcp(echo, 7));
      sim.client("client", async () => {
        sim.partition("server", "client", { oneWay: true });
        await sleep(1);
        await moveOnAfter(1_000, async () => {
          const stream = await openTcpStream("server", 7);
          events.push(`connected at ${currentTime()}`);
          await stream.aclose();
        });
      });
      sim.client("repairer", async () => {
        await sleep(10);
        sim.repair("server", "client");
      });
      await sim.run();
      expect(events).toEqual(["connected at 10"]);
    });

    test("bouncing a host whose factory returned starts it again", async () => {
      let starts = 0;
      const sim = new Simulation({ seed: 1 });
      sim.host("server", async () => {
        starts++;
      });
      sim.client("client", async () => {
        await sleep(10);
        sim.bounce("server");
        await sleep(10);
      });
      await sim.run();
      expect(starts).toBe(2);
    });

    test("a crashed host's shielded finally cannot reach the network", async () => {
      const received: string[] = [];
      const attempts: string[] = [];
      const sim = new Simulation({ seed: 1, latency: 1 });
      sim.host("listener", () =>
        serveTcp(async (stream) => {
          for await (const chunk of stream) received.push(decoder.decode(chunk));
        }, 9),
      );
      sim.host("doomed", async () => {
        try {
          await sleep(1_000);
        } finally {
          await new (await import("@weft/core")).CancelScope({ shield: true }).run(async () => {
            try {
              const stream = await openTcpStream("listener", 9);
              await stream.sendAll(encoder.encode("sent after crash"));
              attempts.push("sent");
            } catch (error) {
              // openTcpStream's "all attempts failed", caused by the crash.
              attempts.push(JSON.stringify(String((error as Error).cause)));
              attempts.push(inspect(error, { depth: 5 }).includes("has crashed") ? "crashed" : "?");
            }
          });
        }
      });
      sim.client("client", async () => {
        await sleep(5);
        sim.crash("doomed");
        await sleep(20);
      });
      await sim.run();
      expect(received).toEqual([]);
      expect(attempts.at(-1)).toBe("crashed");
    });

    test("faults need a running simulation; a bad latency is a RangeError at once", () => {
      const sim = new Simulation();
      sim.host("a", async () => {});
      expect(() => sim.bounce("a")).toThrow(/not running/);
      expect(() => sim.crash("a")).toThrow(/not running/);
      expect(() => new Simulation({ latency: -5 })).toThrow(RangeError);
    });

    test("bad arguments are TypeErrors and RangeErrors naming them, before anything is traced", async () => {
      expect(() => new Simulation({ seed: 1.5 })).toThrow(/options\.seed must be an integer/);
      expect(() => new Simulation({ seed: -3 })).toThrow(RangeError);
      expect(() => new Simulation({ seed: 2 ** 40 })).toThrow(
        /options\.seed must be an integer in 0\.\.4294967295/,
      );
      const plan = (fault: unknown) => new Simulation({ faults: [fault] as never });
      expect(() => plan(null)).toThrow(/options\.faults\[0\]/);
      expect(() => plan({ at: 1, kind: "explode", host: "a" })).toThrow(
        /options\.faults\[0\]\.kind must be one of/,
      );
      expect(() => plan({ at: Number.NaN, kind: "crash", host: "a" })).toThrow(
        /options\.faults\[0\]\.at must be finite/,
      );
      expect(() => plan({ at: 1, kind: "partition", hosts: ["a", "a"] })).toThrow(
        /two different host names/,
      );
      expect(() => plan({ at: 1, kind: "crash" })).toThrow(
        /options\.faults\[0\]\.host must be a host name/,
      );
      // A plan naming a host the simulation does not have fails the run before it starts.
      const unknown = new Simulation({ faults: [{ at: 5, kind: "crash", host: "nope" }] });
      unknown.client("a", async () => {});
      await expect(unknown.run()).rejects.toThrow(/no host named "nope"/);

      const errors: unknown[] = [];
      const sim = new Simulation();
      sim.host("a", async () => {});
      sim.client("b", async () => {
        for (const call of [
          () => sim.partition("a", "a"),
          () => sim.hold("a", "a"),
          () => sim.partition("a", "b", null as never),
          () => sim.partition("a", "b", { oneWay: "yes" as never }),
          () => sim.partition("a", "nope"),
          () => sim.crash("nope"),
        ]) {
          try {
            call();
          } catch (error) {
            errors.push(error);
          }
        }
      });
      await sim.run();
      expect(errors.map((e) => (e as Error).constructor.name)).toEqual(Array(6).fill("TypeError"));
      expect(String(errors[0])).toMatch(/two different hosts/);
      expect(String(errors[3])).toMatch(/options\.oneWay/);
      expect(sim.trace.filter((line) => /partition|hold|crash/.test(line))).toEqual([]);
      expect(() => sim.link("a", "a", { latency: 1 })).toThrow(/two different hosts/);
    });

    test("a DeterministicScheduler reused for another run (as fast-check does while shrinking) replays the same run, and so does a copy of its choices", async () => {
      const scheduler = new DeterministicScheduler({ seed: 3 });
      const build = () => {
        const sim = new Simulation({ seed: 3, latency: 1, scheduler });
        sim.host("s", () => serveTcp(echo, 7));
        sim.client("c", async () => {
          for (const stream of [await openTcpStream("s", 7), await openTcpStream("s", 7)]) {
            await roundTrip(stream, "hello");
          }
        });
        return sim;
      };
      const first = build();
      await first.run();
      const firstTrace = [...first.trace];
      await first.run();
      expect(first.trace).toEqual(firstTrace);
      const second = build();
      await second.run();
      expect(second.trace).toEqual(firstTrace);
      const replay = new Simulation({
        seed: 3,
        latency: 1,
        scheduler: new DeterministicScheduler({
          choices: [...scheduler.choices],
          afterChoices: "fifo",
        }),
      });
      replay.host("s", () => serveTcp(echo, 7));
      replay.client("c", async () => {
        for (const stream of [await openTcpStream("s", 7), await openTcpStream("s", 7)]) {
          await roundTrip(stream, "hello");
        }
      });
      await replay.run();
      expect(replay.trace.slice(0, -1)).toEqual(firstTrace.slice(0, -1));
    });

    test("checkDeterminism checks its arguments: seeds, and a new Simulation from each build", async () => {
      const build = () => {
        const sim = new Simulation();
        sim.client("c", async () => {});
        return sim;
      };
      await expect(checkDeterminism(build, { seeds: [] })).rejects.toThrow(RangeError);
      await expect(checkDeterminism(build, { seeds: "ab" as never })).rejects.toThrow(
        /options\.seeds must be an array/,
      );
      await expect(checkDeterminism(build, null as never)).rejects.toThrow(TypeError);
      await expect(checkDeterminism(() => ({}) as never, { seeds: [1] })).rejects.toThrow(
        /must return a new Simulation/,
      );
      const once = build();
      await expect(checkDeterminism(() => once, { seeds: [1] })).rejects.toThrow(
        /a new Simulation each time/,
      );
    });

    test("host addresses stay valid IPv4 past 254 hosts: 10.0.0.254, then 10.0.1.1", async () => {
      const sim = new Simulation();
      for (let i = 0; i < 300; i++) sim.host(`h${i}`, () => serveTcp(echo, 7));
      const addresses: string[] = [];
      sim.client("c", async () => {
        for (const name of ["h0", "h253", "h254", "h299"]) {
          const stream = await openTcpStream(name, 7);
          addresses.push(stream.remoteAddress.address);
          await stream.aclose();
        }
      });
      await sim.run();
      expect(addresses).toEqual(["10.0.0.1", "10.0.0.254", "10.0.1.1", "10.0.1.46"]);
    });
  });

  describe("Simulation: crashes end a host's life", () => {
    for (const blockedIn of ["receiveSome", "sendAll"] as const) {
      test(`a host crashed while blocked in ${blockedIn} is cancelled, not failed by its own reset; its peer sees the reset`, async () => {
        let peerSaw: unknown = null;
        const sim = new Simulation({ seed: 1, latency: 1 });
        sim.host("b", () =>
          serveTcp(async (stream) => {
            peerSaw = await rejection(
              (async () => {
                for await (const _ of stream);
              })(),
            );
          }, 7),
        );
        sim.host("a", async () => {
          const stream = await openTcpStream("b", 7);
          // No error handling: a crash must just cancel this.
          if (blockedIn === "sendAll") while (true) await stream.sendAll(new Uint8Array(100_000));
          await stream.receiveSome();
        });
        sim.client("faults", async () => {
          await sleep(10);
          sim.crash("a");
          await sleep(10);
        });
        await sim.run();
        expect(peerSaw).toBeInstanceOf(BrokenResourceError);
      });
    }

    test("a task a crashed life left behind (a system task) has no network, even after a bounce", async () => {
      const log: string[] = [];
      let lives = 0;
      const sim = new Simulation({ seed: 1, latency: 1 });
      sim.host("b", () => serveTcp(async (stream) => stream.aclose(), 7));
      sim.host("a", async () => {
        const life = ++lives;
        lowlevel.spawnSystemTask(async () => {
          for (let i = 0; i < 5; i++) {
            await sleep(10);
            try {
              await (await openTcpStream("b", 7)).aclose();
              log.push(`${currentTime()} life ${life} connected`);
            } catch (error) {
              // openTcpStream's error has each attempt's in an ExceptionGroup, its cause.
              const attempts = ((error as Error).cause as ExceptionGroup).errors;
              const codes = attempts.map((attempt) => (attempt as { code?: string }).code);
              log.push(`${currentTime()} life ${life}: ${codes.join(",")}`);
            }
          }
        });
        await sleepForever();
      });
      sim.client("faults", async () => {
        await sleep(15);
        sim.crash("a");
        await sleep(10);
        sim.bounce("a");
        await sleep(40);
      });
      await sim.run();
      expect(log.filter((line) => line.includes("life 1"))).toEqual([
        "10 life 1 connected",
        "20 life 1: ENETDOWN",
        "30 life 1: ENETDOWN",
        "40 life 1: ENETDOWN",
        "50 life 1: ENETDOWN",
      ]);
      expect(log).toContain("35 life 2 connected");
    });
  });

  describe("Simulation: a closed world", () => {
    test("a task awaiting a promise that nothing in the simulation can settle is a DeadlockError naming it, not a hang", async () => {
      const sim = new Simulation();
      sim.host("server", () => serveTcp(() => sleepForever(), 1)); // never replies
      sim.client("client", async () => {
        const stream = await openTcpStream("server", 1);
        // Two tasks reading one line iterator: the second's next() waits in the
        // generator's own queue, a promise that is not a weft operation.
        const lines = new BufferedReceiveStream(stream).lines();
        await openNursery(async (nursery) => {
          nursery.startSoon(() => lines.next(), { name: "first reader" });
          nursery.startSoon(() => lines.next(), { name: "second reader" });
        });
      });
      const error = await rejection(sim.run());
      expect(error).toBeInstanceOf(DeadlockError);
      // Whichever reader the seeded scheduler ran first waits on the link; the other, on the generator.
      const report = String(error);
      expect(report).toContain("closed world");
      expect(report).toMatch(/task "(first|second) reader": awaiting a non-weft promise/);
      expect(report).toMatch(
        /task "(first|second) reader": blocked in a segment on simulated link/,
      );
    });
  });
});
