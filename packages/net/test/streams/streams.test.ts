/**
 * StapledStream, acloseForcefully and ConflictDetector: behaviour ported from
 * Trio's src/trio/_tests/test_highlevel_generic.py.
 */
import {
  BusyResourceError,
  Cancelled,
  CancelScope,
  checkpoint,
  Event,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import {
  acloseForcefully,
  ConflictDetector,
  type ReceiveStream,
  type SendStream,
  StapledStream,
  WebReceiveStream,
} from "../../src/index.ts";

// These tests run on the system clock and never wait for real time.
const bytes = (s: string) => new TextEncoder().encode(s);

class RecordSendStream implements SendStream {
  readonly log: string[];
  constructor(log: string[]) {
    this.log = log;
  }
  async sendAll(data: Uint8Array): Promise<void> {
    this.log.push(`sendAll ${new TextDecoder().decode(data)}`);
  }
  async waitSendAllMightNotBlock(): Promise<void> {
    this.log.push("waitSendAllMightNotBlock");
  }
  async aclose(): Promise<void> {
    this.log.push("send aclose");
  }
}

class RecordReceiveStream implements ReceiveStream {
  chunks = [bytes("ab"), bytes("c")];
  readonly log: string[];
  constructor(log: string[]) {
    this.log = log;
  }
  async receiveSome(maxBytes?: number): Promise<Uint8Array> {
    this.log.push(`receiveSome ${maxBytes}`);
    return this.chunks.shift() ?? new Uint8Array(0);
  }
  async aclose(): Promise<void> {
    this.log.push("receive aclose");
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    throw new Error("not used");
  }
}

describe("StapledStream", () => {
  test("forwards each operation to the right half", async () => {
    const log: string[] = [];
    const send = new RecordSendStream(log);
    const receive = new RecordReceiveStream(log);
    const stapled = new StapledStream(send, receive);
    expect(stapled.sendStream).toBe(send);
    expect(stapled.receiveStream).toBe(receive);
    await stapled.sendAll(bytes("foo"));
    await stapled.waitSendAllMightNotBlock();
    expect(await stapled.receiveSome(1234)).toEqual(bytes("ab"));
    await stapled.sendEof(); // no sendEof on the send stream: aclose
    await stapled.aclose();
    expect(log).toEqual([
      "sendAll foo",
      "waitSendAllMightNotBlock",
      "receiveSome 1234",
      "send aclose",
      "send aclose",
      "receive aclose",
    ]);
  });

  test("sendEof calls the send stream's own sendEof if it has one", async () => {
    const log: string[] = [];
    const send = Object.assign(new RecordSendStream(log), {
      async sendEof() {
        log.push("sendEof");
      },
    });
    await new StapledStream(send, new RecordReceiveStream(log)).sendEof();
    expect(log).toEqual(["sendEof"]);
  });

  test("async iteration yields chunks until EOF", async () => {
    const log: string[] = [];
    const chunks: string[] = [];
    for await (const chunk of new StapledStream(
      new RecordSendStream(log),
      new RecordReceiveStream(log),
    )) {
      chunks.push(new TextDecoder().decode(chunk));
    }
    expect(chunks).toEqual(["ab", "c"]);
  });

  test("aclose closes the receive side even if closing the send side throws", async () => {
    const log: string[] = [];
    const send = new RecordSendStream(log);
    send.aclose = async () => {
      log.push("send aclose");
      throw new Error("boom");
    };
    const stapled = new StapledStream(send, new RecordReceiveStream(log));
    await expect(stapled.aclose()).rejects.toThrow("boom");
    expect(log).toEqual(["send aclose", "receive aclose"]);
  });

  test("`await using` closes both halves at the end of the block, even when it throws", async () => {
    const log: string[] = [];
    {
      await using stapled = new StapledStream(
        new RecordSendStream(log),
        new RecordReceiveStream(log),
      );
      await stapled.sendAll(bytes("foo"));
    }
    expect(log).toEqual(["sendAll foo", "send aclose", "receive aclose"]);
    log.length = 0;
    const boom = new Error("boom");
    await expect(
      (async () => {
        await using _stapled = new StapledStream(
          new RecordSendStream(log),
          new RecordReceiveStream(log),
        );
        throw boom;
      })(),
    ).rejects.toBe(boom);
    expect(log).toEqual(["send aclose", "receive aclose"]);
  });
});

describe("WebReceiveStream", () => {
  test("`await using` cancels the body at the end of the block, even when it throws", async () => {
    await run(async () => {
      const cancelled: string[] = [];
      const body = (name: string) =>
        new ReadableStream<Uint8Array>({
          pull: (controller) => controller.enqueue(bytes(name)),
          cancel: () => {
            cancelled.push(name);
          },
        });
      let web: WebReceiveStream | null = null;
      {
        await using stream = new WebReceiveStream(body("first"));
        web = stream;
        expect(await stream.receiveSome()).toEqual(bytes("first"));
      }
      expect(cancelled).toEqual(["first"]);
      expect((await web.receiveSome()).length).toBe(0); // the rest is not read

      const boom = new Error("boom");
      await expect(
        (async () => {
          await using _stream = new WebReceiveStream(body("second"));
          throw boom;
        })(),
      ).rejects.toBe(boom);
      expect(cancelled).toEqual(["first", "second"]);
    });
  });
});

describe("acloseForcefully", () => {
  test("runs aclose in a cancelled scope: a blocking close is cut short", async () => {
    const log: string[] = [];
    await run(async () => {
      await acloseForcefully({
        async aclose() {
          log.push("closing");
          try {
            await sleep(1000);
          } catch (error) {
            log.push(error instanceof Cancelled ? "cancelled" : "other");
            throw error;
          }
          log.push("not reached");
        },
      });
      log.push("done");
    });
    expect(log).toEqual(["closing", "cancelled", "done"]);
  });

  test("other errors from aclose propagate", async () => {
    await expect(
      run(() =>
        acloseForcefully({
          async aclose() {
            throw new Error("close failed");
          },
        }),
      ),
    ).rejects.toThrow("close failed");
  });

  test("works inside an outer cancelled scope too", async () => {
    let closed = false;
    await run(async () => {
      const outer = new CancelScope();
      outer.cancel();
      await outer.run(async () => {
        await acloseForcefully({
          async aclose() {
            closed = true;
            await checkpoint();
          },
        });
      });
    });
    expect(closed).toBe(true);
  });
});

describe("ConflictDetector", () => {
  test("a second concurrent user gets BusyResourceError; sequential use is fine", async () => {
    const results: string[] = [];
    await run(() =>
      openNursery(async (nursery) => {
        const detector = new ConflictDetector("busy!");
        const release = new Event();
        const use = async (name: string) => {
          try {
            await detector.run(async () => {
              await release.wait();
              results.push(`${name} ok`);
            });
          } catch (error) {
            expect(error).toBeInstanceOf(BusyResourceError);
            results.push(`${name} ${(error as Error).message}`);
          }
        };
        nursery.startSoon(() => use("a"));
        nursery.startSoon(() => use("b"));
        await checkpoint();
        await checkpoint();
        release.set();
        await checkpoint();
        await checkpoint();
        await use("c");
        expect(detector.held).toBe(false);
      }),
    );
    expect(results).toEqual(["b busy!", "a ok", "c ok"]);
  });

  test("releases after an error; runSync and acquire/release", () => {
    const detector = new ConflictDetector();
    expect(() =>
      detector.runSync(() => {
        throw new Error("x");
      }),
    ).toThrow("x");
    expect(detector.held).toBe(false);
    detector.acquire();
    expect(() => detector.runSync(() => 1)).toThrow(BusyResourceError);
    detector.release();
    expect(detector.runSync(() => 1)).toBe(1);
  });
});
