/**
 * No file descriptor outlives its connection: a serveTcp echo server on
 * 127.0.0.1 serves 5,000 connections (opened, used for one round trip and
 * closed, 100 at a time), then 5,000 clients cancelled while connecting and
 * 2,000 cancelled while receiving; once `run()` has resolved, the process has
 * exactly as many open file descriptors as before — no slack. Counted in
 * /proc/self/fd (Linux; skipped elsewhere).
 */
import * as fs from "node:fs";
import { checkpoint, Event, isCancelled, openNursery, run } from "@weft/core";
import { beforeEach, describe, expect, test } from "vitest";
import {
  openTcpStream,
  type SocketListener,
  type SocketStream,
  serveTcp,
  setCustomSocketFactory,
} from "../../src/index.ts";
import { currentSocketFactory } from "../../src/sockets/tcp-seams.ts";
import { receiveExactly } from "../support/io.ts";

const FD_DIR = "/proc/self/fd";
const hasProcFd = fs.existsSync(FD_DIR);
const HOST = "127.0.0.1";
/** Clients per batch: enough concurrency to be quick, far below the listen backlog. */
const BATCH_SIZE = 100;
/** 5,000 connections, as the issue asks. */
const BATCHES = 50;
/** Mid-receive cancellations cost a full round trip each: 2,000 keep the file under 5 s. */
const MID_RECEIVE_BATCHES = 20;

/**
 * Open file descriptors of this process, except those on regular files (the
 * listing's own, and files Node reads in the background: under load, the
 * baseline caught Node still reading NODE_EXTRA_CA_CERTS, which made the count
 * after the test one lower). Sockets, pipes and event fds all count.
 */
function openFds(): number {
  let count = 0;
  for (const fd of fs.readdirSync(FD_DIR)) {
    let target: string;
    try {
      target = fs.readlinkSync(`${FD_DIR}/${fd}`);
    } catch {
      continue; // closed since the listing (the listing's own descriptor)
    }
    if (!target.startsWith("/")) count++;
  }
  return count;
}

const ping = new TextEncoder().encode("ping");

async function echo(stream: SocketStream): Promise<void> {
  for await (const chunk of stream) await stream.sendAll(chunk);
}

/** Runs `clients(port)` against a serveTcp echo server on 127.0.0.1, then cancels the server. */
async function withEchoServer(clients: (port: number) => Promise<void>): Promise<void> {
  await openNursery(async (nursery) => {
    const listeners = await nursery.start<SocketListener[]>((taskStatus) =>
      serveTcp(echo, 0, { host: HOST, taskStatus }),
    );
    await clients(listeners[0]!.localAddress.port);
    nursery.cancelScope.cancel("test over");
  });
}

/**
 * Runs `batches` nurseries of `BATCH_SIZE` concurrent `client` tasks, one after
 * another; `afterStart` runs in each nursery's body and may cancel the batch.
 */
async function inBatches(
  batches: number,
  client: () => Promise<void>,
  afterStart?: (batch: { cancel(): void }) => Promise<void>,
): Promise<void> {
  for (let b = 0; b < batches; b++) {
    await openNursery(async (nursery) => {
      for (let i = 0; i < BATCH_SIZE; i++) nursery.startSoon(client);
      if (afterStart !== undefined) {
        await afterStart({ cancel: () => nursery.cancelScope.cancel("client gives up") });
      }
    });
  }
}

describe("file descriptors (/proc/self/fd)", () => {
  beforeEach((context) => {
    if (!hasProcFd)
      context.skip("no /proc/self/fd on this system (not Linux): cannot count descriptors");
  });

  test("5,000 connections opened, used and closed leave no descriptor behind", async () => {
    const before = await openFds();
    let roundTrips = 0;
    await run(async () => {
      await withEchoServer(async (port) => {
        await inBatches(BATCHES, async () => {
          const client = await openTcpStream(HOST, port);
          try {
            await client.sendAll(ping);
            expect(await receiveExactly(client, ping.length)).toEqual(ping);
            roundTrips++;
          } finally {
            await client.aclose();
          }
        });
      });
    });
    expect(roundTrips).toBe(BATCHES * BATCH_SIZE);
    expect(await openFds()).toBe(before);
  });

  test("5,000 connections cancelled by the client mid-connect leave no descriptor behind", async () => {
    const before = await openFds();
    let issued = 0;
    let cancelledMidConnect = 0;
    let connected = 0;
    await run(async () => {
      // The default factory, wrapped to see when a connect was issued and how it ended.
      const inner = currentSocketFactory();
      setCustomSocketFactory({
        async connect(address, options) {
          issued++;
          try {
            const stream = await inner.connect(address, options);
            connected++;
            return stream;
          } catch (error) {
            if (isCancelled(error)) cancelledMidConnect++;
            throw error;
          }
        },
      });
      await withEchoServer(async (port) => {
        let target = 0;
        await inBatches(
          BATCHES,
          async () => {
            try {
              const client = await openTcpStream(HOST, port);
              // Connected before the cancel arrived: still closed properly.
              await client.aclose();
            } catch (error) {
              if (!isCancelled(error)) throw error;
            }
          },
          async (batch) => {
            // Cancel once every client of the batch has called net.connect:
            // Node reports 'connect' from the event loop, after these batches.
            target += BATCH_SIZE;
            while (issued < target) await checkpoint();
            batch.cancel();
          },
        );
      });
      setCustomSocketFactory(null);
    });
    expect(issued).toBe(BATCHES * BATCH_SIZE);
    expect(cancelledMidConnect + connected).toBe(issued);
    // Most (in practice all) are cut off while connecting.
    expect(cancelledMidConnect).toBeGreaterThan(issued / 2);
    expect(await openFds()).toBe(before);
  });

  test("2,000 connections cancelled by the client mid-receive leave no descriptor behind", async () => {
    const before = await openFds();
    let cancelledMidReceive = 0;
    await run(async () => {
      await withEchoServer(async (port) => {
        let waiting = 0;
        let allWaiting = new Event();
        await inBatches(
          MID_RECEIVE_BATCHES,
          async () => {
            const client = await openTcpStream(HOST, port);
            try {
              await client.sendAll(ping);
              expect(await receiveExactly(client, ping.length)).toEqual(ping);
              if (++waiting === BATCH_SIZE) allWaiting.set();
              // Called in the same step as the count above: when the batch is
              // cancelled every client is parked here, waiting for bytes the
              // echo server will never send.
              await client.receiveSome();
              throw new Error("the echo server sent something unasked");
            } catch (error) {
              if (isCancelled(error)) cancelledMidReceive++;
              throw error;
            } finally {
              await client.aclose();
            }
          },
          async (batch) => {
            await allWaiting.wait();
            waiting = 0;
            allWaiting = new Event();
            batch.cancel();
          },
        );
      });
    });
    expect(cancelledMidReceive).toBe(MID_RECEIVE_BATCHES * BATCH_SIZE);
    expect(await openFds()).toBe(before);
  });
});
