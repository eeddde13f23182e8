/**
 * Memory channels (SEMANTICS.md, "Memory channels"): one describe block per
 * rule, each test named as the behaviour it proves. Behaviour ported from
 * python-trio/trio's src/trio/_tests/test_channel.py, plus weft's additions
 * (peakBufferUsed, explicit resource management, argument checks).
 */
import {
  BrokenResourceError,
  Cancelled,
  CancelScope,
  type ChannelStatistics,
  ClosedResourceError,
  currentTime,
  EndOfChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
  moveOnAfter,
  openMemoryChannel,
  openNursery,
  sleep,
  WouldBlock,
} from "@weft/core";
import { waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs `promise` to its end, recording how it ended instead of throwing. */
async function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Whether `op` lets another runnable task take a step (a schedule point): a
 * task spawned just before runs in the next batch, before the caller resumes,
 * only if `op` yielded.
 */
async function letsOthersRun(op: () => Promise<unknown>): Promise<boolean> {
  let ran = false;
  return openNursery(async (nursery) => {
    nursery.startSoon(async () => {
      ran = true;
    });
    await op();
    return ran;
  });
}

/** Runs `body` in a scope that is already cancelled; returns what `body` threw (or undefined). */
async function inCancelledScope(body: () => Promise<unknown>): Promise<unknown> {
  const scope = new CancelScope();
  scope.cancel();
  let thrown: unknown;
  await scope.run(async () => {
    try {
      await body();
    } catch (error) {
      thrown = error;
      throw error;
    }
  });
  return thrown;
}

function stats(channel: { statistics(): ChannelStatistics }): ChannelStatistics {
  return channel.statistics();
}

/** Everything receiveNowait can take right now, until WouldBlock / EndOfChannel. */
function drain<T>(receive: MemoryReceiveChannel<T>): T[] {
  const values: T[] = [];
  for (;;) {
    try {
      values.push(receive.receiveNowait());
    } catch (error) {
      if (error instanceof WouldBlock || error instanceof EndOfChannel) return values;
      throw error;
    }
  }
}

describe("openMemoryChannel: argument checks", () => {
  test("a negative maxBufferSize throws RangeError naming maxBufferSize", () => {
    expect(() => openMemoryChannel(-1)).toThrow(RangeError);
    expect(() => openMemoryChannel(-1)).toThrow(/maxBufferSize/);
    expect(() => openMemoryChannel(-Infinity)).toThrow(RangeError);
  });

  test("a fractional maxBufferSize throws RangeError naming maxBufferSize", () => {
    expect(() => openMemoryChannel(1.5)).toThrow(RangeError);
    expect(() => openMemoryChannel(1.5)).toThrow(/maxBufferSize/);
  });

  test("NaN throws RangeError naming maxBufferSize", () => {
    expect(() => openMemoryChannel(Number.NaN)).toThrow(RangeError);
    expect(() => openMemoryChannel(Number.NaN)).toThrow(/maxBufferSize/);
  });

  test("a non-number ('3', undefined, 3n) throws TypeError naming maxBufferSize", () => {
    for (const bad of ["3", undefined, null, 3n, {}]) {
      expect(() => openMemoryChannel(bad as never)).toThrow(TypeError);
      expect(() => openMemoryChannel(bad as never)).toThrow(/maxBufferSize/);
    }
  });

  test("0, positive integers and Infinity are accepted", () => {
    for (const size of [0, 1, 3, 1000, Infinity]) {
      const [send, receive] = openMemoryChannel(size);
      expect(stats(send).maxBufferSize).toBe(size);
      expect(stats(receive).maxBufferSize).toBe(size);
    }
  });
});

describe("outside run()", () => {
  test("send() and receive() reject with an Error saying they must run inside run()", async () => {
    const [send, receive] = openMemoryChannel<number>(1);
    await expect(send.send(1)).rejects.toThrow(/inside weft's run\(\)/);
    await expect(receive.receive()).rejects.toThrow(/inside weft's run\(\)/);
    // nothing happened: the rejected send buffered nothing
    expect(stats(send).currentBufferUsed).toBe(0);
  });
});

describe("sendNowait", () => {
  test("own handle closed → ClosedResourceError (before any other check)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      const clone = send.clone();
      send.close();
      expect(() => send.sendNowait(1)).toThrow(ClosedResourceError);
      // the clone is still open: the channel works
      clone.sendNowait(2);
      expect(receive.receiveNowait()).toBe(2);
      // closed beats broken: no receive handle is open either, still ClosedResourceError
      receive.close();
      expect(() => send.sendNowait(3)).toThrow(ClosedResourceError);
      expect(() => clone.sendNowait(3)).toThrow(BrokenResourceError);
    });
  });

  test("no open receive handle → BrokenResourceError, even with room in the buffer", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      const receive2 = receive.clone();
      receive.close();
      send.sendNowait(1); // receive2 is still open
      receive2.close();
      expect(() => send.sendNowait(2)).toThrow(BrokenResourceError);
      expect(stats(send).currentBufferUsed).toBe(0);
    });
  });

  test("no open receive handle → BrokenResourceError, not WouldBlock, when the buffer was full", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      receive.close();
      expect(() => send.sendNowait(1)).toThrow(BrokenResourceError);
      await expect(send.send(1)).rejects.toBeInstanceOf(BrokenResourceError);
    });
  });

  test("a waiting receiver gets the value directly (it never enters the buffer)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<string>(5);
      let got: string | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          got = await receive.receive();
        });
        await waitAllTasksBlocked();
        expect(stats(send).tasksWaitingReceive).toBe(1);
        send.sendNowait("direct");
        expect(stats(send)).toMatchObject({
          currentBufferUsed: 0,
          peakBufferUsed: 0,
          tasksWaitingReceive: 0,
        });
        // the value is the waiting receiver's: the sender cannot take it back
        expect(() => receive.receiveNowait()).toThrow(WouldBlock);
      });
      expect(got).toBe("direct");
    });
  });

  test("a waiting receiver gets the value directly even on an unbuffered channel", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      let got: number | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          got = await receive.receive();
        });
        await waitAllTasksBlocked();
        send.sendNowait(7);
      });
      expect(got).toBe(7);
    });
  });

  test("room in the buffer → the value is buffered", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(2);
      send.sendNowait(1);
      expect(stats(send).currentBufferUsed).toBe(1);
      send.sendNowait(2);
      expect(stats(send).currentBufferUsed).toBe(2);
      expect(receive.receiveNowait()).toBe(1);
      expect(receive.receiveNowait()).toBe(2);
    });
  });

  test("buffer full and nobody waiting → WouldBlock, and the value is not buffered", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      send.sendNowait(1);
      expect(() => send.sendNowait(2)).toThrow(WouldBlock);
      expect(stats(send).currentBufferUsed).toBe(1);
      expect(receive.receiveNowait()).toBe(1);
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
    });
  });

  test("unbuffered with no receiver waiting → WouldBlock", async () => {
    await runVirtual(async () => {
      const [send] = openMemoryChannel<number>(0);
      expect(() => send.sendNowait(1)).toThrow(WouldBlock);
    });
  });

  test("a freed slot belongs to the blocked sender: sendNowait still gets WouldBlock", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      send.sendNowait(1);
      await openNursery(async (nursery) => {
        nursery.startSoon(() => send.send(2));
        await waitAllTasksBlocked();
        expect(receive.receiveNowait()).toBe(1);
        expect(() => send.sendNowait(3)).toThrow(WouldBlock);
        expect(await receive.receive()).toBe(2);
      });
    });
  });
});

describe("receiveNowait", () => {
  test("own handle closed → ClosedResourceError, even with values buffered", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      const clone = receive.clone();
      send.sendNowait(1);
      receive.close();
      expect(() => receive.receiveNowait()).toThrow(ClosedResourceError);
      await expect(receive.receive()).rejects.toBeInstanceOf(ClosedResourceError);
      // the buffered value is still there for the clone
      expect(clone.receiveNowait()).toBe(1);
      // closed beats EndOfChannel too
      send.close();
      expect(() => receive.receiveNowait()).toThrow(ClosedResourceError);
      expect(() => clone.receiveNowait()).toThrow(EndOfChannel);
    });
  });

  test("a blocked sender's value is moved into the buffer and that sender is woken", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<string>(1);
      send.sendNowait("a");
      let sent = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await send.send("b");
          sent = true;
        });
        await waitAllTasksBlocked();
        expect(stats(send).tasksWaitingSend).toBe(1);
        expect(receive.receiveNowait()).toBe("a");
        // "b" now waits in the buffer, and its sender is no longer blocked
        expect(stats(send)).toMatchObject({ currentBufferUsed: 1, tasksWaitingSend: 0 });
        await waitAllTasksBlocked();
        expect(sent).toBe(true);
        expect(receive.receiveNowait()).toBe("b");
      });
    });
  });

  test("on an unbuffered channel a blocked sender's value is taken at once and the sender woken", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const outcome: Outcome<void>[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => void outcome.push(await settle(send.send(42))));
        await waitAllTasksBlocked();
        expect(receive.receiveNowait()).toBe(42);
        expect(stats(send)).toMatchObject({ currentBufferUsed: 0, tasksWaitingSend: 0 });
      });
      expect(outcome).toEqual([{ ok: true, value: undefined }]);
    });
  });

  test("buffer empty and no open send handle → EndOfChannel", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(3);
      send.close();
      expect(() => receive.receiveNowait()).toThrow(EndOfChannel);
      await expect(receive.receive()).rejects.toBeInstanceOf(EndOfChannel);
      // and it stays that way
      expect(() => receive.receiveNowait()).toThrow(EndOfChannel);
    });
  });

  test("buffer empty with a send handle open → WouldBlock", async () => {
    await runVirtual(async () => {
      const [, receive] = openMemoryChannel<number>(3);
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
      const [, unbuffered] = openMemoryChannel<number>(0);
      expect(() => unbuffered.receiveNowait()).toThrow(WouldBlock);
    });
  });

  test("undefined and null are ordinary values, not 'nothing there'", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<undefined | null>(2);
      send.sendNowait(undefined);
      send.sendNowait(null);
      expect(receive.receiveNowait()).toBeUndefined();
      expect(await receive.receive()).toBeNull();
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
      await openNursery(async (nursery) => {
        send.sendNowait(undefined);
        send.sendNowait(undefined);
        nursery.startSoon(() => send.send(undefined));
        await waitAllTasksBlocked();
        expect(stats(send).tasksWaitingSend).toBe(1);
        expect(drain(receive)).toEqual([undefined, undefined, undefined]);
      });
    });
  });

  test("for await yields the values in order and ends at EndOfChannel", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const got: number[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < 5; i++) await send.send(i);
          send.close();
        });
        for await (const value of receive) got.push(value);
      });
      expect(got).toEqual([0, 1, 2, 3, 4]);
    });
  });

  test("for await propagates errors other than EndOfChannel (handle closed while iterating)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      send.sendNowait(1);
      send.sendNowait(2);
      const got: number[] = [];
      const error = await rejection(
        (async () => {
          for await (const value of receive) {
            got.push(value);
            receive.close();
          }
        })(),
      );
      expect(error).toBeInstanceOf(ClosedResourceError);
      expect(got).toEqual([1]);
    });
  });

  test("breaking out of for await leaves the handle open", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      for (const v of [1, 2, 3]) send.sendNowait(v);
      for await (const value of receive) {
        expect(value).toBe(1);
        break;
      }
      expect(stats(receive).openReceiveChannels).toBe(1);
      expect(receive.receiveNowait()).toBe(2);
    });
  });
});

describe("closing", () => {
  test("closing a send handle wakes only the senders blocked on that handle, with ClosedResourceError", async () => {
    await runVirtual(async () => {
      const [send1, receive] = openMemoryChannel<string>(0);
      const send2 = send1.clone();
      const outcomes = new Map<string, Outcome<void>>();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => void outcomes.set("s1", await settle(send1.send("nope"))));
        nursery.startSoon(async () => void outcomes.set("s2", await settle(send2.send("ok"))));
        await waitAllTasksBlocked();
        send1.close();
        await waitAllTasksBlocked();
        expect(outcomes.get("s1")).toMatchObject({ ok: false });
        expect((outcomes.get("s1") as { error: unknown }).error).toBeInstanceOf(
          ClosedResourceError,
        );
        // the clone's sender is still blocked
        expect(outcomes.has("s2")).toBe(false);
        expect(stats(receive).tasksWaitingSend).toBe(1);
        expect(await receive.receive()).toBe("ok");
      });
      expect(outcomes.get("s2")).toEqual({ ok: true, value: undefined });
    });
  });

  test("closing a receive handle wakes only the receivers blocked on that handle, with ClosedResourceError", async () => {
    await runVirtual(async () => {
      const [send, receive1] = openMemoryChannel<string>(0);
      const receive2 = receive1.clone();
      const outcomes = new Map<string, Outcome<string>>();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => void outcomes.set("r1", await settle(receive1.receive())));
        nursery.startSoon(async () => void outcomes.set("r2", await settle(receive2.receive())));
        await waitAllTasksBlocked();
        receive1.close();
        await waitAllTasksBlocked();
        expect((outcomes.get("r1") as { error: unknown }).error).toBeInstanceOf(
          ClosedResourceError,
        );
        expect(outcomes.has("r2")).toBe(false);
        expect(stats(send).tasksWaitingReceive).toBe(1);
        await send.send("ok");
      });
      expect(outcomes.get("r2")).toEqual({ ok: true, value: "ok" });
    });
  });

  test("a closed handle stays closed: send, sendNowait, receive, receiveNowait keep throwing ClosedResourceError", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(3);
      const [send2, receive2] = [send.clone(), receive.clone()];
      send.close();
      receive.close();
      for (let i = 0; i < 2; i++) {
        expect(() => send.sendNowait(1)).toThrow(ClosedResourceError);
        await expect(send.send(1)).rejects.toBeInstanceOf(ClosedResourceError);
        expect(() => receive.receiveNowait()).toThrow(ClosedResourceError);
        await expect(receive.receive()).rejects.toBeInstanceOf(ClosedResourceError);
      }
      send2.close();
      receive2.close();
    });
  });

  test("closing the last send handle: receivers drain the buffer, then get EndOfChannel", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<string>(3);
      send.sendNowait("a");
      send.sendNowait("b");
      await send.aclose();
      expect(stats(receive).openSendChannels).toBe(0);
      expect(await receive.receive()).toBe("a");
      expect(receive.receiveNowait()).toBe("b");
      await expect(receive.receive()).rejects.toBeInstanceOf(EndOfChannel);
      expect(() => receive.receiveNowait()).toThrow(EndOfChannel);
    });
  });

  test("closing the last send handle wakes receivers blocked on every receive clone with EndOfChannel", async () => {
    await runVirtual(async () => {
      const [send, receive1] = openMemoryChannel<number>(0);
      const receive2 = receive1.clone();
      const outcomes: Outcome<number>[] = [];
      await openNursery(async (nursery) => {
        for (const receive of [receive1, receive2, receive1]) {
          nursery.startSoon(async () => void outcomes.push(await settle(receive.receive())));
        }
        await waitAllTasksBlocked();
        send.close();
        expect(stats(send).tasksWaitingReceive).toBe(0);
      });
      expect(outcomes).toHaveLength(3);
      for (const outcome of outcomes) {
        expect(outcome.ok).toBe(false);
        expect((outcome as { error: unknown }).error).toBeInstanceOf(EndOfChannel);
      }
    });
  });

  test("closing a send handle that is not the last does not end the channel", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const clone = send.clone();
      let got: Outcome<number> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          got = await settle(receive.receive());
        });
        await waitAllTasksBlocked();
        send.close();
        await waitAllTasksBlocked();
        expect(got).toBeUndefined();
        clone.sendNowait(9);
      });
      expect(got).toEqual({ ok: true, value: 9 });
    });
  });

  test("closing the last receive handle: blocked senders on every clone get BrokenResourceError and the buffer is dropped", async () => {
    await runVirtual(async () => {
      const [send1, receive] = openMemoryChannel<number>(2);
      const send2 = send1.clone();
      send1.sendNowait(1);
      send1.sendNowait(2);
      const outcomes: Outcome<void>[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => void outcomes.push(await settle(send1.send(3))));
        nursery.startSoon(async () => void outcomes.push(await settle(send2.send(4))));
        await waitAllTasksBlocked();
        expect(stats(receive).tasksWaitingSend).toBe(2);
        receive.close();
        expect(stats(send1)).toMatchObject({
          currentBufferUsed: 0,
          tasksWaitingSend: 0,
          openReceiveChannels: 0,
        });
      });
      expect(outcomes).toHaveLength(2);
      for (const outcome of outcomes) {
        expect((outcome as { error: unknown }).error).toBeInstanceOf(BrokenResourceError);
      }
      // and it is permanent
      expect(() => send2.sendNowait(5)).toThrow(BrokenResourceError);
      await expect(send2.send(5)).rejects.toBeInstanceOf(BrokenResourceError);
    });
  });

  test("closing a receive handle that is not the last keeps the buffer and the senders", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(10);
      const receive2 = receive.clone();
      const receive3 = receive.clone();
      send.sendNowait(1);
      await receive.aclose();
      {
        using _r2 = receive2;
      }
      expect(() => receive.clone()).toThrow(ClosedResourceError);
      expect(() => receive2.clone()).toThrow(ClosedResourceError);
      send.sendNowait(2); // receive3 is still open
      expect(drain(receive3)).toEqual([1, 2]);
      await receive3.aclose();
      expect(() => send.sendNowait(3)).toThrow(BrokenResourceError);
    });
  });

  test("close() is synchronous and no checkpoint: no Cancelled, no other task runs", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      const thrown = await inCancelledScope(async () => {
        expect(send.close()).toBeUndefined();
        expect(receive.close()).toBeUndefined();
      });
      expect(thrown).toBeUndefined();
      const [send2, receive2] = openMemoryChannel<number>(1);
      expect(
        await letsOthersRun(async () => {
          send2.close();
          receive2.close();
        }),
      ).toBe(false);
    });
  });

  test("close() is idempotent: a second close does not count the handle twice", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      const send2 = send.clone();
      const receive2 = receive.clone();
      send.close();
      send.close();
      await send.aclose();
      receive.close();
      receive.close();
      expect(stats(send2)).toMatchObject({ openSendChannels: 1, openReceiveChannels: 1 });
      send2.sendNowait(1);
      expect(receive2.receiveNowait()).toBe(1);
    });
  });

  test("aclose() is a checkpoint: a schedule point, and in a cancelled scope it closes, then throws Cancelled", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      expect(await letsOthersRun(() => send.aclose())).toBe(true);
      expect(await letsOthersRun(() => receive.aclose())).toBe(true);

      const [send2, receive2] = openMemoryChannel<number>(1);
      expect(await inCancelledScope(() => send2.aclose())).toBeInstanceOf(Cancelled);
      expect(await inCancelledScope(() => receive2.aclose())).toBeInstanceOf(Cancelled);
      expect(stats(send2)).toMatchObject({ openSendChannels: 0, openReceiveChannels: 0 });
      expect(() => send2.sendNowait(1)).toThrow(ClosedResourceError);
    });
  });
});

describe("cancellation", () => {
  test("a cancelled receive takes nothing: a later send is buffered, not lost", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<string>(1);
      const result = await moveOnAfter(10, () => receive.receive());
      expect(result).toBeUndefined();
      expect(currentTime()).toBe(10);
      expect(stats(send).tasksWaitingReceive).toBe(0);
      await send.send("after the timeout");
      expect(stats(send).currentBufferUsed).toBe(1);
      expect(receive.receiveNowait()).toBe("after the timeout");
    });
  });

  test("a cancelled receive on an unbuffered channel leaves no waiter behind: sendNowait gets WouldBlock", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      await moveOnAfter(5, () => receive.receive());
      expect(() => send.sendNowait(1)).toThrow(WouldBlock);
    });
  });

  test("a cancelled send sent nothing (blocked on a full buffer)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      send.sendNowait(1);
      let thrown: unknown;
      await moveOnAfter(10, async () => {
        try {
          await send.send(2);
        } catch (error) {
          thrown = error;
          throw error;
        }
      });
      expect(thrown).toBeInstanceOf(Cancelled);
      expect(stats(send)).toMatchObject({ tasksWaitingSend: 0, currentBufferUsed: 1 });
      expect(drain(receive)).toEqual([1]);
    });
  });

  test("a cancelled send sent nothing (unbuffered, no receiver)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      await moveOnAfter(10, () => send.send(1));
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
      expect(stats(send).tasksWaitingSend).toBe(0);
    });
  });

  test("a value handed to a blocked receiver before its scope is cancelled is received, not lost", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const scope = new CancelScope();
      let got: Outcome<number> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await scope.run(async () => {
            got = await settle(receive.receive());
          });
        });
        await waitAllTasksBlocked();
        send.sendNowait(1);
        scope.cancel();
      });
      expect(got).toEqual({ ok: true, value: 1 });
      expect(stats(send).currentBufferUsed).toBe(0);
    });
  });

  test("a receiver cancelled before the send does not get the value: it is buffered", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      const scope = new CancelScope();
      let got: Outcome<number> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await scope.run(async () => {
            got = await settle(receive.receive());
          });
        });
        await waitAllTasksBlocked();
        scope.cancel();
        send.sendNowait(1);
      });
      expect(got?.ok).toBe(false);
      expect((got as { error: unknown }).error).toBeInstanceOf(Cancelled);
      expect(receive.receiveNowait()).toBe(1);
    });
  });

  test("a blocked sender whose value was taken before its scope was cancelled has sent it (send returns)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const scope = new CancelScope();
      let outcome: Outcome<void> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await scope.run(async () => {
            outcome = await settle(send.send(1));
          });
        });
        await waitAllTasksBlocked();
        expect(receive.receiveNowait()).toBe(1);
        scope.cancel();
      });
      expect(outcome).toEqual({ ok: true, value: undefined });
    });
  });
});

describe("every awaited send/receive is a full checkpoint, even when it does not block", () => {
  test("in a cancelled scope, send with room in the buffer throws Cancelled and buffers nothing", async () => {
    await runVirtual(async () => {
      const [send] = openMemoryChannel<number>(5);
      expect(await inCancelledScope(() => send.send(1))).toBeInstanceOf(Cancelled);
      expect(stats(send)).toMatchObject({ currentBufferUsed: 0, peakBufferUsed: 0 });
    });
  });

  test("in a cancelled scope, send to a waiting receiver throws Cancelled and the receiver keeps waiting", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      let got: number | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          got = await receive.receive();
        });
        await waitAllTasksBlocked();
        expect(await inCancelledScope(() => send.send(1))).toBeInstanceOf(Cancelled);
        expect(stats(send).tasksWaitingReceive).toBe(1);
        await send.send(2);
      });
      expect(got).toBe(2);
    });
  });

  test("in a cancelled scope, receive with a buffered value throws Cancelled and takes nothing", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      send.sendNowait(1);
      expect(await inCancelledScope(() => receive.receive())).toBeInstanceOf(Cancelled);
      expect(stats(send).currentBufferUsed).toBe(1);
      expect(receive.receiveNowait()).toBe(1);
    });
  });

  test("in a cancelled scope, receive from a blocked sender throws Cancelled and the sender stays blocked", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      let sent = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await send.send(1);
          sent = true;
        });
        await waitAllTasksBlocked();
        expect(await inCancelledScope(() => receive.receive())).toBeInstanceOf(Cancelled);
        await waitAllTasksBlocked();
        expect(sent).toBe(false);
        expect(stats(send).tasksWaitingSend).toBe(1);
        expect(await receive.receive()).toBe(1);
      });
      expect(sent).toBe(true);
    });
  });

  test("in a cancelled scope, receive on an ended channel throws Cancelled (the cancel point comes first)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      send.close();
      expect(await inCancelledScope(() => receive.receive())).toBeInstanceOf(Cancelled);
    });
  });

  test("a receive that took a buffered value returns it even if its scope is cancelled during the schedule point", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      send.sendNowait(1);
      const scope = new CancelScope();
      let got: Outcome<number> | undefined;
      let afterwards: unknown;
      await openNursery(async (nursery) => {
        // runs in the next batch, while the receive below is at its schedule point
        nursery.startSoon(async () => scope.cancel());
        await scope.run(async () => {
          got = await settle(receive.receive());
          afterwards = (await settle(receive.receive())).ok ? "no" : "Cancelled at the next one";
        });
      });
      expect(scope.cancelCalled).toBe(true);
      expect(got).toEqual({ ok: true, value: 1 });
      expect(afterwards).toBe("Cancelled at the next one");
      expect(stats(send).currentBufferUsed).toBe(0);
    });
  });

  test("a send that buffered its value returns normally even if its scope is cancelled during the schedule point", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      const scope = new CancelScope();
      let outcome: Outcome<void> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => scope.cancel());
        await scope.run(async () => {
          outcome = await settle(send.send(1));
        });
      });
      expect(scope.cancelCalled).toBe(true);
      expect(outcome).toEqual({ ok: true, value: undefined });
      expect(receive.receiveNowait()).toBe(1);
    });
  });

  test("a send that does not block is a schedule point", async () => {
    await runVirtual(async () => {
      const [send] = openMemoryChannel<number>(Infinity);
      expect(await letsOthersRun(() => send.send(1))).toBe(true);
    });
  });

  test("a receive that does not block is a schedule point", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      send.sendNowait(1);
      expect(await letsOthersRun(() => receive.receive())).toBe(true);
    });
  });

  test("sendNowait and receiveNowait are no checkpoints", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      const thrown = await inCancelledScope(async () => {
        send.sendNowait(1);
        expect(receive.receiveNowait()).toBe(1);
      });
      expect(thrown).toBeUndefined();
      expect(
        await letsOthersRun(async () => {
          send.sendNowait(2);
          receive.receiveNowait();
        }),
      ).toBe(false);
    });
  });
});

describe("statistics", () => {
  test("both handles report the same fields: buffer, size, open counts, waiting tasks", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(2);
      expect(stats(send)).toEqual(stats(receive));
      expect(stats(send)).toEqual({
        currentBufferUsed: 0,
        maxBufferSize: 2,
        openSendChannels: 1,
        openReceiveChannels: 1,
        tasksWaitingSend: 0,
        tasksWaitingReceive: 0,
        peakBufferUsed: 0,
      });
      send.sendNowait(1);
      expect(stats(receive).currentBufferUsed).toBe(1);

      const send2 = send.clone();
      expect(stats(send).openSendChannels).toBe(2);
      await send.aclose();
      expect(stats(send2).openSendChannels).toBe(1);
      // a closed handle still reports the channel's statistics
      expect(stats(send)).toEqual(stats(send2));

      const receive2 = receive.clone();
      expect(stats(send2).openReceiveChannels).toBe(2);
      await receive2.aclose();
      expect(stats(send2).openReceiveChannels).toBe(1);

      await openNursery(async (nursery) => {
        send2.sendNowait(2); // the buffer is full now
        expect(stats(send2).currentBufferUsed).toBe(2);
        nursery.startSoon(() => send2.send(3));
        nursery.startSoon(() => send2.send(4));
        await waitAllTasksBlocked();
        expect(stats(send2).tasksWaitingSend).toBe(2);
        nursery.cancelScope.cancel();
      });
      expect(stats(send2).tasksWaitingSend).toBe(0);
      expect(drain(receive)).toEqual([1, 2]);

      await openNursery(async (nursery) => {
        nursery.startSoon(() => receive.receive());
        nursery.startSoon(() => receive.receive());
        await waitAllTasksBlocked();
        expect(stats(send2).tasksWaitingReceive).toBe(2);
        nursery.cancelScope.cancel();
      });
      expect(stats(send2).tasksWaitingReceive).toBe(0);
    });
  });

  test("peakBufferUsed never decreases", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      const peaks: number[] = [];
      const observe = (): void => void peaks.push(stats(send).peakBufferUsed);
      for (let i = 0; i < 3; i++) {
        send.sendNowait(i);
        observe();
      }
      drain(receive);
      observe();
      send.sendNowait(9);
      observe();
      receive.close();
      observe(); // the buffer was dropped; the peak stays
      expect(stats(send).currentBufferUsed).toBe(0);
      expect(peaks).toEqual([1, 2, 3, 3, 3, 3]);
    });
  });

  test("peakBufferUsed follows the buffer, up to maxBufferSize", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(3);
      for (let i = 0; i < 3; i++) send.sendNowait(i);
      expect(stats(send).peakBufferUsed).toBe(3);
      drain(receive);
      send.sendNowait(1);
      expect(stats(send)).toMatchObject({ currentBufferUsed: 1, peakBufferUsed: 3 });
    });
  });

  test("peakBufferUsed never exceeds maxBufferSize (a blocked sender's value handed over does not count)", async () => {
    // The buffer of an unbuffered channel never holds a value a user could
    // see; a channel of size 1 never holds 2.
    await runVirtual(async () => {
      for (const size of [0, 1]) {
        const [send, receive] = openMemoryChannel<number>(size);
        for (let i = 0; i < size; i++) send.sendNowait(i);
        await openNursery(async (nursery) => {
          nursery.startSoon(() => send.send(99));
          await waitAllTasksBlocked();
          receive.receiveNowait();
        });
        expect(stats(send).currentBufferUsed).toBeLessThanOrEqual(size);
        expect(stats(send).peakBufferUsed).toBeLessThanOrEqual(size);
      }
    });
  });
});

describe("buffer sizes, order and clones", () => {
  test("unbuffered (0): send waits for a receiver", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      let sentAt: number | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await send.send(1);
          sentAt = currentTime();
        });
        await sleep(50);
        expect(sentAt).toBeUndefined();
        expect(stats(send).tasksWaitingSend).toBe(1);
        expect(await receive.receive()).toBe(1);
      });
      expect(sentAt).toBe(50);
    });
  });

  test("unbuffered (0): a receive waits for a sender, and both sides checkpoint", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(20);
          await send.send(5);
        });
        expect(await receive.receive()).toBe(5);
        expect(currentTime()).toBe(20);
      });
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
    });
  });

  test("Infinity never blocks a sender", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      for (let i = 0; i < 10_000; i++) send.sendNowait(i);
      await send.send(10_000);
      expect(stats(send)).toMatchObject({
        currentBufferUsed: 10_001,
        peakBufferUsed: 10_001,
        maxBufferSize: Infinity,
        tasksWaitingSend: 0,
      });
      send.close();
      const got: number[] = [];
      for await (const value of receive) got.push(value);
      expect(got).toEqual(Array.from({ length: 10_001 }, (_, i) => i));
      expect(currentTime()).toBe(0);
    });
  });

  test("values come out in the order they were sent (FIFO buffer, across the ring buffer's growth)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(100);
      const got: number[] = [];
      let next = 0;
      // interleave pushes and shifts so the ring buffer wraps and grows
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 7; i++) send.sendNowait(next++);
        for (let i = 0; i < 5; i++) got.push(receive.receiveNowait());
      }
      got.push(...drain(receive));
      expect(got).toEqual(Array.from({ length: next }, (_, i) => i));
    });
  });

  test("blocked senders are served FIFO, in the order they blocked", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<string>(0);
      const got: string[] = [];
      await openNursery(async (nursery) => {
        for (const name of ["a", "b", "c", "d"]) {
          nursery.startSoon(() => send.send(name));
          await waitAllTasksBlocked();
        }
        for (let i = 0; i < 4; i++) got.push(await receive.receive());
      });
      expect(got).toEqual(["a", "b", "c", "d"]);
    });
  });

  test("blocked receivers are served FIFO, in the order they blocked", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const got: [string, number][] = [];
      await openNursery(async (nursery) => {
        for (const name of ["a", "b", "c"]) {
          const handle = name === "b" ? receive.clone() : receive;
          nursery.startSoon(async () => void got.push([name, await handle.receive()]));
          await waitAllTasksBlocked();
        }
        for (let i = 1; i <= 3; i++) send.sendNowait(i);
      });
      expect(got).toEqual([
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ]);
    });
  });

  test("clone() of a closed handle throws ClosedResourceError", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      send.close();
      receive.close();
      expect(() => send.clone()).toThrow(ClosedResourceError);
      expect(() => receive.clone()).toThrow(ClosedResourceError);
      expect(stats(send)).toMatchObject({ openSendChannels: 0, openReceiveChannels: 0 });
    });
  });

  test("clones share the channel: buffer, statistics and values", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(5);
      const send2 = send.clone();
      const receive2 = receive.clone();
      send.sendNowait(1);
      send2.sendNowait(2);
      expect(stats(send2)).toEqual(stats(receive));
      expect(stats(receive2)).toMatchObject({
        currentBufferUsed: 2,
        openSendChannels: 2,
        openReceiveChannels: 2,
      });
      expect(receive2.receiveNowait()).toBe(1);
      expect(receive.receiveNowait()).toBe(2);
      // a clone of a clone is a third handle
      const send3 = send2.clone();
      expect(stats(send).openSendChannels).toBe(3);
      send3.sendNowait(3);
      expect(receive.receiveNowait()).toBe(3);
    });
  });

  test("EndOfChannel comes only when every send clone is closed", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const clones = [send.clone(), send.clone()];
      send.close();
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
      clones[0]!.close();
      expect(() => receive.receiveNowait()).toThrow(WouldBlock);
      clones[1]!.close();
      expect(() => receive.receiveNowait()).toThrow(EndOfChannel);
    });
  });

  test("many producers, each with its own clone, one consumer: every value arrives once (Trio's multiple producers)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const got: number[] = [];
      await openNursery(async (nursery) => {
        {
          using original = send;
          for (let i = 0; i < 10; i++) {
            const clone = original.clone();
            nursery.startSoon(async () => {
              using mine = clone;
              for (let j = 3 * i; j < 3 * (i + 1); j++) await mine.send(j);
            });
          }
        }
        for await (const value of receive) got.push(value);
      });
      expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    });
  });

  test("many consumers on one handle: each value goes to exactly one of them (Trio's multiple consumers)", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      const received: number[] = [];
      const successful = new Set<number>();
      await openNursery(async (nursery) => {
        for (let i = 0; i < 5; i++) {
          nursery.startSoon(async () => {
            for await (const value of receive) {
              successful.add(i);
              received.push(value);
            }
          });
        }
        await waitAllTasksBlocked();
        for (let i = 0; i < 10; i++) await send.send(i);
        send.close();
      });
      expect(successful).toEqual(new Set([0, 1, 2, 3, 4]));
      expect(received.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    });
  });
});

describe("explicit resource management", () => {
  test("`using` closes both handles at the end of the block", async () => {
    await runVirtual(async () => {
      let sendHandle: MemorySendChannel<number> | undefined;
      let receiveHandle: MemoryReceiveChannel<number> | undefined;
      {
        using send = openMemoryChannel<number>(1)[0];
        sendHandle = send;
        expect(stats(send).openSendChannels).toBe(1);
      }
      expect(() => sendHandle!.sendNowait(1)).toThrow(ClosedResourceError);
      {
        using receive = openMemoryChannel<number>(1)[1];
        receiveHandle = receive;
      }
      expect(() => receiveHandle!.receiveNowait()).toThrow(ClosedResourceError);
    });
  });

  test("`await using` closes both handles at the end of the block, even when it throws", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(1);
      const boom = new Error("boom");
      const error = await rejection(
        (async () => {
          await using s = send;
          await using r = receive;
          s.sendNowait(1);
          expect(r.receiveNowait()).toBe(1);
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(stats(send)).toMatchObject({ openSendChannels: 0, openReceiveChannels: 0 });
      expect(() => send.sendNowait(1)).toThrow(ClosedResourceError);
      expect(() => receive.receiveNowait()).toThrow(ClosedResourceError);
    });
  });

  test("`await using` a send handle ends the channel for the receivers", async () => {
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      const got: number[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await using s = send;
          for (let i = 0; i < 3; i++) await s.send(i);
        });
        for await (const value of receive) got.push(value);
      });
      expect(got).toEqual([0, 1, 2]);
    });
  });
});

describe("async iteration", () => {
  test("tasks sharing one iterator each receive in their own task; every value arrives once and the loops end", async () => {
    const got = new Map<string, number[]>([
      ["w1", []],
      ["w2", []],
      ["w3", []],
    ]);
    await runVirtual(() =>
      openNursery(async (nursery) => {
        const [send, receive] = openMemoryChannel<number>(0);
        const shared = receive[Symbol.asyncIterator]();
        for (const [name, values] of got) {
          nursery.startSoon(
            async () => {
              for (let next = await shared.next(); next.done !== true; next = await shared.next()) {
                values.push(next.value);
                await sleep(1); // work on the item
              }
            },
            { name },
          );
        }
        for (let i = 0; i < 30; i++) await send.send(i);
        send.close();
      }),
    );
    const all = [...got.values()].flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const values of got.values()) expect(values.length).toBeGreaterThan(0);
  });

  test("the iterator is itself async-iterable, as the async generator it replaces was: workers can for-await over a shared one", async () => {
    const got: number[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        const [send, receive] = openMemoryChannel<number>(0);
        const shared = receive[Symbol.asyncIterator]() as AsyncIterableIterator<number>;
        for (let w = 0; w < 2; w++) {
          nursery.startSoon(async () => {
            for await (const value of shared) got.push(value);
          });
        }
        for (let i = 0; i < 4; i++) await send.send(i);
        send.close();
      }),
    );
    expect(got.sort()).toEqual([0, 1, 2, 3]);
  });

  test("a for-await loop that breaks leaves the channel open for the next loop", async () => {
    const seen: number[] = [];
    await runVirtual(async () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      for (let i = 0; i < 4; i++) send.sendNowait(i);
      send.close();
      for await (const value of receive) {
        seen.push(value);
        if (value === 1) break;
      }
      for await (const value of receive) seen.push(value);
    });
    expect(seen).toEqual([0, 1, 2, 3]);
  });
});
