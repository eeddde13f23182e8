/**
 * Memory and lockstep streams: behaviour ported from Trio's
 * src/trio/testing/_memory_streams.py and src/trio/_tests/test_testing.py.
 */
import {
  BrokenResourceError,
  BusyResourceError,
  CancelScope,
  ClosedResourceError,
  checkpoint,
  openNursery,
  run,
  sleep,
  WouldBlock,
} from "@weft/core";
import type { ReceiveStream, SendStream } from "@weft/net";
import { describe, expect, test } from "vitest";
import { rejection } from "../../core/test/support/helpers.ts";
import { assertCheckpoints, MockClock, seededRandom, waitAllTasksBlocked } from "../src/index.ts";
import {
  lockstepStreamOneWayPair,
  lockstepStreamPair,
  MemoryReceiveStream,
  MemorySendStream,
  memoryStreamOneWayPair,
  memoryStreamPair,
  memoryStreamPump,
} from "../src/streams.ts";

const autojump = () => new MockClock({ autojumpThreshold: 0 });
const inRun = (fn: () => Promise<void>) => run(fn, { clock: autojump() });
const b = (s: string) => new TextEncoder().encode(s);
const str = (data: Uint8Array) => new TextDecoder().decode(data);

const rng = seededRandom;

describe("MemorySendStream", () => {
  test("sendAll buffers data; getData / getDataNowait take it in order", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      await assertCheckpoints(() => s.sendAll(b("abc")));
      await s.sendAll(b("def"));
      expect(str(s.getDataNowait(2))).toBe("ab");
      expect(str(await s.getData())).toBe("cdef");
      expect(() => s.getDataNowait()).toThrow(WouldBlock);
      await s.sendAll(new Uint8Array(0)); // empty sendAll is legal
      expect(() => s.getDataNowait()).toThrow(WouldBlock);
    });
  });

  test("sendAll copies the data it is given", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      const data = b("xyz");
      await s.sendAll(data);
      data[0] = 0;
      expect(str(s.getDataNowait())).toBe("xyz");
    });
  });

  test("getData waits for data; maxBytes < 1 is a RangeError", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(5);
          await s.sendAll(b("late"));
        });
        expect(str(await s.getData())).toBe("late");
      });
      await expect(s.getData(0)).rejects.toBeInstanceOf(RangeError);
      expect(() => s.getDataNowait(-1)).toThrow(RangeError);
    });
  });

  test("two concurrent getData calls: BusyResourceError", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(str(await s.getData())).toBe("x");
        });
        await waitAllTasksBlocked();
        await expect(s.getData()).rejects.toBeInstanceOf(BusyResourceError);
        await s.sendAll(b("x"));
      });
    });
  });

  test("hooks run, from options or assigned later", async () => {
    const log: string[] = [];
    await inRun(async () => {
      const s = new MemorySendStream({
        sendAllHook: async () => {
          log.push("sendAll");
        },
        closeHook: () => log.push("close"),
      });
      s.waitSendAllMightNotBlockHook = async () => {
        log.push("wait");
      };
      await s.sendAll(b("1"));
      await assertCheckpoints(() => s.waitSendAllMightNotBlock());
      s.sendAllHook = null;
      await s.sendAll(b("2"));
      await s.aclose();
    });
    expect(log).toEqual(["sendAll", "wait", "close"]);
  });

  test("concurrent sendAll or waitSendAllMightNotBlock: BusyResourceError", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      const errors: unknown[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(() => s.sendAll(b("1")));
        nursery.startSoon(async () => {
          errors.push(await rejection(s.sendAll(b("2"))));
        });
        nursery.startSoon(async () => {
          errors.push(await rejection(s.waitSendAllMightNotBlock()));
        });
      });
      expect(errors).toHaveLength(2);
      for (const error of errors) expect(error).toBeInstanceOf(BusyResourceError);
      expect(str(s.getDataNowait())).toBe("1");
    });
  });

  test("after aclose: operations fail with ClosedResourceError, getData drains then returns EOF", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      await s.sendAll(b("left"));
      await s.aclose();
      await expect(s.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await expect(s.waitSendAllMightNotBlock()).rejects.toBeInstanceOf(ClosedResourceError);
      expect(str(await s.getData())).toBe("left");
      expect(await s.getData()).toHaveLength(0);
      expect(s.getDataNowait()).toHaveLength(0);
      await s.aclose(); // idempotent
    });
  });

  test("aclose in a cancelled scope still closes", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => s.aclose());
      expect(scope.cancelledCaught).toBe(true);
      await expect(s.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });

  test("`await using` closes it at the end of the block, even when it throws", async () => {
    await inRun(async () => {
      let sender: MemorySendStream | null = null;
      {
        await using s = new MemorySendStream();
        sender = s;
        await s.sendAll(b("left"));
      }
      await expect(sender.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      expect(str(await sender.getData())).toBe("left");
      expect(await sender.getData()).toHaveLength(0);

      const boom = new Error("boom");
      const opened: { sender?: MemorySendStream } = {};
      const error = await rejection(
        (async () => {
          await using s = new MemorySendStream();
          opened.sender = s;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      await expect(opened.sender!.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });
});

describe("MemoryReceiveStream", () => {
  test("putData / receiveSome with maxBytes / putEof", async () => {
    await inRun(async () => {
      const r = new MemoryReceiveStream();
      r.putData(b("abc"));
      r.putData(b("def"));
      expect(str(await assertCheckpoints(() => r.receiveSome(2)))).toBe("ab");
      expect(str(await r.receiveSome(3))).toBe("cde");
      expect(str(await r.receiveSome())).toBe("f");
      r.putEof();
      expect(await r.receiveSome()).toHaveLength(0);
      expect(await r.receiveSome()).toHaveLength(0);
      expect(() => r.putData(b("x"))).toThrow(ClosedResourceError);
    });
  });

  test("receiveSome waits for data and is cancellable", async () => {
    await inRun(async () => {
      const r = new MemoryReceiveStream();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(3);
          r.putData(b("hi"));
        });
        expect(str(await r.receiveSome())).toBe("hi");
      });
      const scope = new CancelScope({ relativeDeadline: 10 });
      await scope.run(() => r.receiveSome());
      expect(scope.cancelledCaught).toBe(true);
      r.putData(b("still works"));
      expect(str(await r.receiveSome())).toBe("still works");
    });
  });

  test("maxBytes < 1 (or not an integer) is a RangeError", async () => {
    await inRun(async () => {
      const r = new MemoryReceiveStream();
      r.putData(b("x"));
      await expect(r.receiveSome(0)).rejects.toBeInstanceOf(RangeError);
      await expect(r.receiveSome(-1)).rejects.toBeInstanceOf(RangeError);
      await expect(r.receiveSome(1.5)).rejects.toBeInstanceOf(RangeError);
      expect(str(await r.receiveSome(1))).toBe("x");
    });
  });

  test("concurrent receiveSome: BusyResourceError", async () => {
    await inRun(async () => {
      const r = new MemoryReceiveStream();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(str(await r.receiveSome())).toBe("x");
        });
        await waitAllTasksBlocked();
        await expect(r.receiveSome()).rejects.toBeInstanceOf(BusyResourceError);
        r.putData(b("x"));
      });
    });
  });

  test("hooks; closing wakes a blocked receiver with ClosedResourceError and discards data", async () => {
    const log: string[] = [];
    await inRun(async () => {
      const r = new MemoryReceiveStream({
        receiveSomeHook: async () => {
          log.push("receive");
        },
      });
      r.closeHook = () => log.push("close");
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(await rejection(r.receiveSome())).toBeInstanceOf(ClosedResourceError);
        });
        await waitAllTasksBlocked();
        await r.aclose();
      });
      expect(() => r.putData(b("x"))).toThrow(ClosedResourceError);
      await expect(r.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
    });
    expect(log).toEqual(["receive", "close"]);
  });

  test("aclose in a cancelled scope still closes", async () => {
    await inRun(async () => {
      const r = new MemoryReceiveStream();
      r.putData(b("x"));
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => r.aclose());
      await expect(r.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });

  test("`await using` closes it at the end of the block, even when it throws", async () => {
    await inRun(async () => {
      let receiver: MemoryReceiveStream | null = null;
      {
        await using r = new MemoryReceiveStream();
        receiver = r;
        r.putData(b("abc"));
        expect(str(await r.receiveSome(1))).toBe("a");
      }
      await expect(receiver.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);

      const boom = new Error("boom");
      const opened: { receiver?: MemoryReceiveStream } = {};
      const error = await rejection(
        (async () => {
          await using r = new MemoryReceiveStream();
          opened.receiver = r;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      await expect(opened.receiver!.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });

  test("async iteration yields chunks until EOF", async () => {
    await inRun(async () => {
      const r = new MemoryReceiveStream();
      r.putData(b("a"));
      const chunks: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(1);
          r.putData(b("b"));
          await sleep(1);
          r.putEof();
        });
        for await (const chunk of r) chunks.push(str(chunk));
      });
      expect(chunks).toEqual(["a", "b"]);
    });
  });
});

describe("memoryStreamPump", () => {
  test("moves data (up to maxBytes), reports whether it moved anything, passes EOF", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      const r = new MemoryReceiveStream();
      expect(memoryStreamPump(s, r)).toBe(false);
      await s.sendAll(b("12345"));
      expect(memoryStreamPump(s, r, 2)).toBe(true);
      expect(str(await r.receiveSome())).toBe("12");
      expect(memoryStreamPump(s, r)).toBe(true);
      expect(str(await r.receiveSome())).toBe("345");
      expect(memoryStreamPump(s, r)).toBe(false);
      await s.aclose();
      expect(memoryStreamPump(s, r)).toBe(true);
      expect(await r.receiveSome()).toHaveLength(0);
    });
  });

  test("a closed receive stream: BrokenResourceError", async () => {
    await inRun(async () => {
      const s = new MemorySendStream();
      const r = new MemoryReceiveStream();
      await s.sendAll(b("x"));
      await r.aclose();
      expect(() => memoryStreamPump(s, r)).toThrow(BrokenResourceError);
    });
  });
});

describe("memoryStreamOneWayPair", () => {
  test("data and EOF flow on their own", async () => {
    await inRun(async () => {
      const [s, r] = memoryStreamOneWayPair();
      await s.sendAll(b("abc"));
      await s.sendAll(b("def"));
      expect(str(await r.receiveSome(4))).toBe("abcd");
      expect(str(await r.receiveSome())).toBe("ef");
      await s.aclose();
      expect(await r.receiveSome()).toHaveLength(0);
    });
  });

  test("a stalled hook holds data back until pumped; trickling with maxBytes", async () => {
    await inRun(async () => {
      const [s, r] = memoryStreamOneWayPair();
      const hook = s.sendAllHook;
      s.sendAllHook = null;
      await s.sendAll(b("held"));
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(str(await r.receiveSome())).toBe("held");
        });
        await waitAllTasksBlocked();
        memoryStreamPump(s, r);
      });
      s.sendAllHook = async () => {
        while (memoryStreamPump(s, r, 1)) await sleep(1);
      };
      const received: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(() => s.sendAll(b("xyz")));
        for (let i = 0; i < 3; i++) received.push(str(await r.receiveSome()));
      });
      expect(received).toEqual(["x", "y", "z"]);
      s.sendAllHook = hook;
    });
  });

  test("closing the receive side: sendAll fails with BrokenResourceError", async () => {
    await inRun(async () => {
      const [s, r] = memoryStreamOneWayPair();
      await r.aclose();
      await expect(s.sendAll(b("x"))).rejects.toBeInstanceOf(BrokenResourceError);
    });
  });
});

describe("memoryStreamPair", () => {
  test("both directions; sendEof closes one direction only", async () => {
    await inRun(async () => {
      const [left, right] = memoryStreamPair();
      await left.sendAll(b("123"));
      expect(str(await right.receiveSome())).toBe("123");
      await right.sendAll(b("456"));
      expect(str(await left.receiveSome())).toBe("456");
      await left.sendEof();
      expect(await right.receiveSome()).toHaveLength(0);
      await right.sendAll(b("still"));
      expect(str(await left.receiveSome())).toBe("still");
      await expect(left.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await left.aclose();
      await expect(right.sendAll(b("x"))).rejects.toBeInstanceOf(BrokenResourceError);
      await expect(left.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });

  test("1 MiB of random chunks in both directions at once", async () => {
    const size = 1 << 20;
    const make = (seed: number) => {
      const random = rng(seed);
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 256);
      return data;
    };
    await inRun(async () => {
      const [left, right] = memoryStreamPair();
      const random = rng(42);
      const sender = async (stream: SendStream, data: Uint8Array) => {
        let i = 0;
        while (i < data.length) {
          const n = 1 + Math.floor(random() * 20_000);
          await stream.sendAll(data.subarray(i, i + n));
          i += n;
          if (random() < 0.1) await sleep(1);
        }
        await stream.aclose();
      };
      const receiver = async (stream: ReceiveStream, expected: Uint8Array) => {
        const got = new Uint8Array(size);
        let i = 0;
        while (true) {
          const chunk = await stream.receiveSome(1 + Math.floor(random() * 30_000));
          if (chunk.length === 0) break;
          got.set(chunk, i);
          i += chunk.length;
        }
        expect(i).toBe(size);
        expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);
      };
      const a = make(1);
      const c = make(2);
      await openNursery(async (nursery) => {
        nursery.startSoon(() => sender(left.sendStream, a));
        nursery.startSoon(() => receiver(right.receiveStream, a));
        nursery.startSoon(() => sender(right.sendStream, c));
        nursery.startSoon(() => receiver(left.receiveStream, c));
      });
    });
  });
});

describe("lockstep streams", () => {
  test("sendAll completes only when the receiver has taken all the data", async () => {
    await inRun(async () => {
      const [s, r] = lockstepStreamOneWayPair();
      const log: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await s.sendAll(b("abcd"));
          log.push("sent");
        });
        await waitAllTasksBlocked();
        log.push("blocked");
        expect(str(await r.receiveSome(3))).toBe("abc");
        await waitAllTasksBlocked();
        log.push("partly taken");
        expect(str(await r.receiveSome(3))).toBe("d");
        await waitAllTasksBlocked();
        log.push("taken");
      });
      expect(log).toEqual(["blocked", "partly taken", "sent", "taken"]);
    });
  });

  test("waitSendAllMightNotBlock waits for a receiver", async () => {
    await inRun(async () => {
      const [s, r] = lockstepStreamOneWayPair();
      const log: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await s.waitSendAllMightNotBlock();
          log.push("might not block");
          await s.sendAll(b("x"));
        });
        await waitAllTasksBlocked();
        log.push("receiving");
        expect(str(await r.receiveSome())).toBe("x");
      });
      expect(log).toEqual(["receiving", "might not block"]);
    });
  });

  test("busy, closed, broken, EOF and RangeError", async () => {
    await inRun(async () => {
      const [s, r] = lockstepStreamOneWayPair();
      await expect(r.receiveSome(0)).rejects.toBeInstanceOf(RangeError);
      await openNursery(async (nursery) => {
        nursery.startSoon(() => s.sendAll(b("1")));
        await waitAllTasksBlocked();
        await expect(s.sendAll(b("2"))).rejects.toBeInstanceOf(BusyResourceError);
        expect(str(await r.receiveSome())).toBe("1");
      });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(str(await r.receiveSome())).toBe("3");
        });
        await waitAllTasksBlocked();
        await expect(r.receiveSome()).rejects.toBeInstanceOf(BusyResourceError);
        await s.sendAll(b("3"));
      });
      // closing the sender: the receiver sees EOF, the sender ClosedResourceError
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(await r.receiveSome()).toHaveLength(0);
        });
        await waitAllTasksBlocked();
        await s.aclose();
      });
      await expect(s.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await expect(s.waitSendAllMightNotBlock()).rejects.toBeInstanceOf(ClosedResourceError);
      await r.aclose();
      await expect(r.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });

  test("closing the receiver breaks a blocked sendAll", async () => {
    await inRun(async () => {
      const [s, r] = lockstepStreamOneWayPair();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(await rejection(s.sendAll(b("x")))).toBeInstanceOf(BrokenResourceError);
        });
        await waitAllTasksBlocked();
        const scope = new CancelScope();
        scope.cancel();
        await scope.run(() => r.aclose()); // closes even when cancelled
      });
      await expect(s.sendAll(b("y"))).rejects.toBeInstanceOf(BrokenResourceError);
      await s.waitSendAllMightNotBlock(); // returns at once: the receiver is gone
    });
  });

  test("`await using` closes both ends at the end of the block, even when it throws", async () => {
    await inRun(async () => {
      const [send, receive] = lockstepStreamOneWayPair();
      {
        await using s = send;
        await using r = receive;
        await openNursery(async (nursery) => {
          nursery.startSoon(() => s.sendAll(b("x")));
          expect(str(await r.receiveSome())).toBe("x");
        });
      }
      await expect(send.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await expect(receive.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);

      const [send2, receive2] = lockstepStreamOneWayPair();
      const boom = new Error("boom");
      const error = await rejection(
        (async () => {
          await using _s = send2;
          await using _r = receive2;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      await expect(send2.sendAll(b("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await expect(receive2.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
    });
  });

  test("lockstepStreamPair carries data both ways", async () => {
    await inRun(async () => {
      const [left, right] = lockstepStreamPair();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await left.sendAll(b("ping"));
          expect(str(await left.receiveSome())).toBe("pong");
          await left.sendEof();
        });
        expect(str(await right.receiveSome())).toBe("ping");
        await right.sendAll(b("pong"));
        expect(await right.receiveSome()).toHaveLength(0);
        await checkpoint();
      });
    });
  });
});
