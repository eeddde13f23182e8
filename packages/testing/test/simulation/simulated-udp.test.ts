/**
 * UDP on the simulation: unmodified `openUdpSocket` code by host name, with
 * loss, duplication and reordering drawn from the seed; partitions, holds,
 * crashes; per-path configuration (UDP and TCP, whose losses are
 * retransmissions).
 */
import { currentTime, moveOnAfter, openNursery, sleep } from "@weft/core";
import type { HalfCloseableStream } from "@weft/core/streams";
import { openTcpStream, openUdpSocket, serveTcp } from "@weft/net";
import { SimulatedLink } from "@weft/testing";
import { checkDeterminism, RETRANSMISSION_TIMEOUT, Simulation } from "@weft/testing/simulation";
import { describe, expect, test } from "vitest";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string) => encoder.encode(s);
const text = (b: Uint8Array) => decoder.decode(b);

/** A UDP echo host: every datagram back to its sender. */
async function udpEcho(port: number): Promise<void> {
  const sock = await openUdpSocket({ port });
  for await (const { data, remoteAddress } of sock) {
    await sock.send(data, remoteAddress.port, remoteAddress.address);
  }
}

/** A host that records what it receives on `port` (text, and when). */
function recorder(port: number, into: string[]): () => Promise<void> {
  return async () => {
    const sock = await openUdpSocket({ port });
    for await (const { data } of sock) into.push(`${currentTime()} ${text(data)}`);
  };
}

/** Trace lines about datagrams that end with `suffix`. */
function udpLines(sim: Simulation, suffix: string): string[] {
  return sim.trace.filter((line) => line.includes(" udp ") && line.endsWith(suffix));
}

describe("UDP on the simulation", () => {
  test("a client reaches a UDP echo host by name; the round trip is two hops of latency", async () => {
    const seen: unknown[] = [];
    const sim = new Simulation({ seed: 2, latency: 7 });
    sim.host("echo", () => udpEcho(9000));
    sim.client("client", async () => {
      const sock = await openUdpSocket();
      seen.push(sock.localAddress);
      const start = currentTime();
      await sock.send(bytes("ping"), 9000, "echo");
      const reply = await sock.receive();
      seen.push(text(reply.data), reply.remoteAddress, currentTime() - start);
      // Connected: send() without a destination, and only the peer's datagrams.
      const connected = await openUdpSocket();
      await connected.connect("echo", 9000);
      await connected.send(bytes("again"));
      seen.push(text((await connected.receive()).data));
      await connected.aclose();
      await sock.aclose();
    });
    await sim.run();
    expect(seen).toEqual([
      { family: 4, address: "10.0.0.2", port: 49_152 },
      "ping",
      { family: 4, address: "10.0.0.1", port: 9000 },
      14,
      "again",
    ]);
    expect(sim.trace.filter((line) => line.includes(" udp ")).slice(0, 2)).toEqual([
      "7 udp client:49152 → echo:9000 4 delivered (sent 0)",
      "14 udp echo:9000 → client:49152 4 delivered (sent 7)",
    ]);
  });

  /** 400 numbered datagrams, one per ms, over a lossy, duplicating, reordering path. */
  function lossy(seed: number, got: number[]): Simulation {
    const sim = new Simulation({ seed, latency: 5, loss: 0.1, duplicate: 0.05, reorder: 0.2 });
    const received: string[] = [];
    sim.host("sink", recorder(7, received));
    sim.client("source", async () => {
      const sock = await openUdpSocket();
      for (let i = 0; i < 400; i++) {
        await sock.send(bytes(String(i)), 7, "sink");
        await sleep(1);
      }
      await sleep(100);
      got.push(...received.map((line) => Number(line.split(" ")[1])));
    });
    return sim;
  }

  function stats(sim: Simulation, got: number[]) {
    let reordered = 0;
    for (let i = 1; i < got.length; i++) if (got[i]! < got[i - 1]!) reordered++;
    return {
      lost: udpLines(sim, " lost").length,
      duplicated: udpLines(sim, " duplicated").length,
      received: got.length,
      reordered,
    };
  }

  test("loss, duplication and reordering at their rates, exactly reproducible from the seed", async () => {
    const got: number[] = [];
    const sim = lossy(1, got);
    await sim.run();
    const first = stats(sim, got);
    expect(first).toEqual({ lost: 43, duplicated: 26, received: 383, reordered: 53 });
    expect(first.received).toBe(400 - first.lost + first.duplicated);
    expect(new Set(got).size).toBe(400 - first.lost);

    const again: number[] = [];
    const replay = lossy(1, again);
    await replay.run();
    expect(again).toEqual(got);

    const other: number[] = [];
    const otherSim = lossy(2, other);
    await otherSim.run();
    expect(stats(otherSim, other)).not.toEqual(first);

    expect(await checkDeterminism((seed) => lossy(seed, []), { seeds: [1, 2, 3] })).toBe(3);
  });

  test("without faults datagrams arrive in order at a fixed latency; a latency distribution reorders them", async () => {
    async function order(latency: number | ((random: () => number) => number)): Promise<number[]> {
      const got: number[] = [];
      const received: string[] = [];
      const sim = new Simulation({ seed: 4, latency });
      sim.host("sink", recorder(7, received));
      sim.client("source", async () => {
        const sock = await openUdpSocket();
        for (let i = 0; i < 50; i++) {
          await sock.send(bytes(String(i)), 7, "sink");
          await sleep(1);
        }
        await sleep(100);
        got.push(...received.map((line) => Number(line.split(" ")[1])));
      });
      await sim.run();
      return got;
    }
    const inOrder = Array.from({ length: 50 }, (_, i) => i);
    expect(await order(5)).toEqual(inOrder);
    const spread = await order((random) => random() * 20);
    expect(spread).not.toEqual(inOrder);
    expect([...spread].sort((a, b) => a - b)).toEqual(inOrder);
  });

  test("a partition loses datagrams; a hold keeps them until the release", async () => {
    const received: string[] = [];
    const sim = new Simulation({ seed: 1, latency: 2 });
    sim.host("sink", recorder(7, received));
    sim.client("source", async () => {
      const sock = await openUdpSocket();
      await sleep(1);
      sim.partition("source", "sink");
      await sock.send(bytes("lost"), 7, "sink");
      await sleep(10);
      sim.repair("source", "sink");
      await sock.send(bytes("after repair"), 7, "sink");
      await sleep(10); // arrives at 13
      sim.hold("source", "sink");
      await sock.send(bytes("held 1"), 7, "sink");
      await sock.send(bytes("held 2"), 7, "sink");
      await sleep(50);
      expect(received).toEqual(["13 after repair"]);
      sim.release("source", "sink"); // at 71
      await sleep(10);
      // Sent while a partition is about to start: lost in flight.
      await sock.send(bytes("in flight"), 7, "sink");
      sim.partition("source", "sink", { oneWay: true });
      await sleep(10);
      sim.repair("source", "sink");
    });
    await sim.run();
    expect(received).toEqual(["13 after repair", "71 held 1", "71 held 2"]);
    expect(udpLines(sim, " lost (partition)")).toEqual([
      "1 udp source:49152 → sink:7 4 lost (partition)",
      "83 udp source:49152 → sink:7 9 lost (partition)",
    ]);
  });

  test("holds and releases in a fault plan", async () => {
    const received: string[] = [];
    const sim = new Simulation({
      seed: 1,
      latency: 1,
      faults: [
        { at: 5, kind: "hold", hosts: ["sink", "source"] },
        { at: 30, kind: "release", hosts: ["source", "sink"] },
      ],
    });
    sim.host("sink", recorder(7, received));
    sim.client("source", async () => {
      const sock = await openUdpSocket();
      await sleep(10);
      await sock.send(bytes("x"), 7, "sink");
      await sleep(40);
    });
    await sim.run();
    expect(received).toEqual(["30 x"]);
    expect(sim.trace).toContain("5 hold sink ↔ source");
  });

  test("a crash closes the host's sockets (its port is free again after a bounce); datagrams to nobody vanish", async () => {
    const received: string[] = [];
    const errors: string[] = [];
    const sim = new Simulation({ seed: 1, latency: 1 });
    sim.host("sink", async () => {
      const sock = await openUdpSocket({ port: 7 });
      try {
        for await (const { data } of sock) received.push(`${currentTime()} ${text(data)}`);
      } catch (error) {
        errors.push((error as Error).name);
        throw error;
      }
    });
    sim.client("source", async () => {
      const sock = await openUdpSocket();
      await sock.send(bytes("before"), 7, "sink");
      await sleep(5);
      sim.crash("sink");
      await sock.send(bytes("during"), 7, "sink");
      await sock.send(bytes("nobody"), 8, "sink");
      await sleep(5);
      sim.bounce("sink");
      await sleep(1);
      await sock.send(bytes("after"), 7, "sink");
      await sleep(5);
    });
    await sim.run();
    expect(received).toEqual(["1 before", "12 after"]);
    expect(errors[0]).toBe("Cancelled");
    expect(udpLines(sim, "dropped (no socket) (sent 5)")).toEqual([
      "6 udp source:49152 → sink:7 6 dropped (no socket) (sent 5)",
      "6 udp source:49152 → sink:8 6 dropped (no socket) (sent 5)",
    ]);
  });

  test("waiting for a reply that never comes is a deadlock the run reports, not a hang", async () => {
    const sim = new Simulation({ seed: 1 });
    sim.host("quiet", async () => {
      const sock = await openUdpSocket({ port: 7 });
      for await (const _ of sock); // never answers
    });
    sim.client("asker", async () => {
      const sock = await openUdpSocket();
      await sock.send(bytes("?"), 7, "quiet");
      await sock.receive();
    });
    await expect(sim.run()).rejects.toThrow(
      /deadlock[\s\S]*"client asker": blocked in UdpSocket\.receive/,
    );
  });

  test("binding: EADDRINUSE, ephemeral ports, IPv4 only; an unknown name fails the send", async () => {
    const seen: string[] = [];
    const sim = new Simulation({ seed: 1 });
    sim.client("solo", async () => {
      const a = await openUdpSocket({ port: 49_152 });
      const b = await openUdpSocket();
      seen.push(`ephemeral ${b.localAddress.port}`);
      const inUse = await openUdpSocket({ port: 49_152 }).catch((e: Error) => e);
      seen.push(String((inUse as Error & { cause: { code: string } }).cause.code));
      const v6 = await openUdpSocket({ family: 6 }).catch((e: Error) => e);
      seen.push(String((v6 as Error & { cause: { code: string } }).cause.code));
      const elsewhere = await openUdpSocket({ address: "10.9.9.9" }).catch((e: Error) => e);
      seen.push(String((elsewhere as Error & { cause: { code: string } }).cause.code));
      await expect(a.send(bytes("x"), 7, "nowhere")).rejects.toThrow(/could not resolve nowhere/);
      await b.aclose();
      const again = await openUdpSocket({ port: 49_153 });
      seen.push(`rebound ${again.localAddress.port}`);
      await again.aclose();
      await a.aclose();
    });
    await sim.run();
    expect(seen).toEqual([
      "ephemeral 49153",
      "EADDRINUSE",
      "EAFNOSUPPORT",
      "EADDRNOTAVAIL",
      "rebound 49153",
    ]);
  });
});

describe("Simulation.link: per-path configuration", () => {
  test("a path's latency is observed on the clock, for UDP and TCP, both ways or one way", async () => {
    const seen: Record<string, number> = {};
    const sim = new Simulation({ seed: 1, latency: 1 });
    sim.host("near", () => udpEcho(9));
    sim.host("far", () =>
      openNursery(async (nursery) => {
        nursery.startSoon(() => udpEcho(9));
        nursery.startSoon(() => serveTcp(echoTcp, 10));
      }),
    );
    sim.client("client", async () => {
      const sock = await openUdpSocket();
      for (const host of ["near", "far"]) {
        const start = currentTime();
        await sock.send(bytes("x"), 9, host);
        await sock.receive();
        seen[`udp ${host}`] = currentTime() - start;
      }
      const stream = await openTcpStream("far", 10);
      const start = currentTime();
      await stream.sendAll(bytes("abc"));
      await stream.receiveSome();
      seen["tcp far"] = currentTime() - start;
      await stream.aclose();
    });
    sim.link("client", "far", { latency: 40 });
    sim.link("far", "client", { latency: 10, oneWay: true });
    await sim.run();
    expect(seen).toEqual({ "udp near": 2, "udp far": 50, "tcp far": 50 });
  });

  test("TCP over a lossy path: segments are retransmitted (200 ms per loss), never lost or reordered", async () => {
    async function transfer(loss: number): Promise<{ echoed: string; took: number }> {
      let echoed = "";
      let took = 0;
      const sim = new Simulation({ seed: 5, latency: 3 });
      sim.host("server", () => serveTcp(echoTcp, 1));
      sim.client("client", async () => {
        const stream = await openTcpStream("server", 1);
        const start = currentTime();
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            for (let i = 0; i < 50; i++) await stream.sendAll(bytes(`${i};`));
            await stream.sendEof();
          });
          for await (const chunk of stream) echoed += text(chunk);
        });
        took = currentTime() - start;
        await stream.aclose();
      });
      sim.link("client", "server", { loss });
      await sim.run();
      return { echoed, took };
    }
    const expected = Array.from({ length: 50 }, (_, i) => `${i};`).join("");
    const clean = await transfer(0);
    const lossy = await transfer(0.3);
    expect(clean.echoed).toBe(expected);
    expect(lossy.echoed).toBe(expected);
    expect(RETRANSMISSION_TIMEOUT).toBe(200);
    expect(lossy.took).toBeGreaterThanOrEqual(clean.took + RETRANSMISSION_TIMEOUT);
    // A fixed 3 ms latency: every extra millisecond is a retransmission timeout.
    expect(lossy.took - clean.took).toBe(8 * RETRANSMISSION_TIMEOUT);
    // The retransmissions are drawn from the seed: a replay is the same run.
    const replay = await transfer(0.3);
    expect(replay).toEqual(lossy);
  });

  test("hold and release on TCP: held segments arrive on release, in order", async () => {
    const seen: string[] = [];
    const sim = new Simulation({ seed: 1, latency: 2 });
    sim.host("server", () => serveTcp(echoTcp, 1));
    sim.client("client", async () => {
      const stream = await openTcpStream("server", 1);
      sim.hold("client", "server", { oneWay: true });
      await stream.sendAll(bytes("one "));
      await stream.sendAll(bytes("two"));
      const early = await moveOnAfter(50, () => stream.receiveSome());
      seen.push(`at ${currentTime()}: ${early === undefined ? "nothing" : "something"}`);
      sim.release("client", "server");
      let got = "";
      while (got.length < 7) got += text(await stream.receiveSome());
      seen.push(`at ${currentTime()}: ${got}`);
      await stream.aclose();
    });
    await sim.run();
    expect(seen).toEqual(["at 50: nothing", "at 52: one two"]);
  });

  test("bad arguments are TypeErrors and RangeErrors naming them", () => {
    expect(() => new Simulation({ loss: 1 })).toThrow(/options\.loss.*\[0, 1\)/);
    expect(() => new Simulation({ duplicate: -0.1 })).toThrow(RangeError);
    expect(() => new Simulation({ reorder: 2 })).toThrow(/options\.reorder/);
    expect(() => new Simulation({ reorder: "x" as never })).toThrow(TypeError);
    expect(() => new Simulation({ latency: "1" as never })).toThrow(/options\.latency/);
    const sim = new Simulation();
    sim.host("a", async () => {});
    sim.host("b", async () => {});
    expect(() => sim.link("a", "nope", {})).toThrow(/no host named "nope"/);
    expect(() => sim.link("a", "b", { latency: -1 })).toThrow(RangeError);
    expect(() => sim.link("a", "b", { oneWay: 1 as never })).toThrow(/options\.oneWay/);
    expect(() => sim.link("a", "b", undefined as never)).toThrow(TypeError);
    expect(() => sim.link("a", "b", { loss: Number.NaN })).toThrow(/options\.loss/);
    expect(() => sim.hold("a", "b")).toThrow(/not running/);
    expect(() => sim.release("a", "b")).toThrow(/not running/);
    expect(() => sim.hold("a", "zz")).toThrow(TypeError);
    expect(() => new SimulatedLink({ loss: 0.5 })).toThrow(/options\.random is required/);
    expect(() => new SimulatedLink({ loss: 1, random: Math.random })).toThrow(RangeError);
  });
});

async function echoTcp(stream: HalfCloseableStream): Promise<void> {
  for await (const chunk of stream) await stream.sendAll(chunk);
  await stream.sendEof();
}
