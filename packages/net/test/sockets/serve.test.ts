/**
 * serveListeners and serveTcp (SEMANTICS.md @weft/net; Trio's
 * test_highlevel_serve_listeners.py). The accept loop's rules are checked with
 * fake listeners over memory streams on a MockClock, so retry delays are exact
 * virtual times; serveTcp is then run for real on 127.0.0.1.
 */
import { fileURLToPath } from "node:url";
import {
  BrokenResourceError,
  ClosedResourceError,
  capture,
  checkpoint,
  currentTime,
  Event,
  ExceptionGroup,
  failAfter,
  isCancelled,
  lowlevel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
  type Nursery,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
  sleepForever,
  type Task,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { memoryStreamPair } from "@weft/testing/streams";
import { afterEach, describe, expect, test, vi } from "vitest";
import {
  ACCEPT_RETRY_DELAY_MS,
  type AsyncResource,
  acloseForcefully,
  type Listener,
  openProcess,
  openTcpListeners,
  openTcpStream,
  type SocketListener,
  type SocketStream,
  type Stream,
  serveListeners,
  serveTcp,
} from "../../src/index.ts";
import { errorOf, receiveExactly } from "../support/io.ts";
import { NODE, readUntil } from "../support/processes.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const mockClock = () => ({ clock: new MockClock({ autojumpThreshold: 0 }) });

afterEach(() => {
  vi.restoreAllMocks();
});

/** The server side of a fake connection: records how it was closed. */
class ServerStream implements AsyncResource {
  readonly inner: Stream;
  closes = 0;
  /** The close ran in a cancelled scope (`acloseForcefully`). */
  closedForcefully = false;

  constructor(inner: Stream) {
    this.inner = inner;
  }

  async aclose(): Promise<void> {
    this.closes++;
    try {
      await checkpoint();
    } catch (error) {
      if (isCancelled(error)) this.closedForcefully = true;
      throw error;
    } finally {
      // Close the memory stream at once, as a socket's destroy() would.
      await acloseForcefully(this.inner);
    }
  }
}

type Incoming = { stream: ServerStream } | { error: unknown };

/**
 * A `Listener` whose connections and accept errors are scripted: `connect()`
 * queues a memory connection, `failNext()` an error; `accept()` takes them in
 * order and otherwise waits.
 */
class FakeListener implements Listener<ServerStream> {
  /** `currentTime()` of every `accept()` call. */
  readonly acceptTimes: number[] = [];
  readonly streams: ServerStream[] = [];
  closed = false;
  readonly #send: MemorySendChannel<Incoming>;
  readonly #receive: MemoryReceiveChannel<Incoming>;

  constructor() {
    const [send, receive] = openMemoryChannel<Incoming>(Number.POSITIVE_INFINITY);
    this.#send = send;
    this.#receive = receive;
  }

  /** Queues a connection; returns the client's end. */
  connect(): Stream {
    const [client, server] = memoryStreamPair();
    const stream = new ServerStream(server);
    this.streams.push(stream);
    this.#send.sendNowait({ stream });
    return client;
  }

  failNext(error: unknown): void {
    this.#send.sendNowait({ error });
  }

  async accept(): Promise<ServerStream> {
    this.acceptTimes.push(currentTime());
    if (this.closed) throw new ClosedResourceError("fake listener closed");
    const next = await this.#receive.receive();
    if ("error" in next) throw next.error;
    return next.stream;
  }

  async aclose(): Promise<void> {
    this.closed = true;
    await checkpoint();
  }
}

/** The errors inside `error` (itself if it is not an ExceptionGroup), Cancelled left out. */
function leaves(error: unknown): unknown[] {
  if (error instanceof ExceptionGroup) return (error.errors as unknown[]).flatMap(leaves);
  return isCancelled(error) ? [] : [error];
}

/** `thrown` carries exactly `error` (nurseries wrap it in an ExceptionGroup; Cancelled aside). */
function expectOnly(thrown: unknown, error: unknown): void {
  const errors = leaves(thrown);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBe(error);
}

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const retryLine = (error: Error) =>
  `weft serveListeners: accept failed (${error.message}); retrying in 100 ms`;

describe("serveListeners: accept errors", () => {
  const capacityErrors: [string, () => Error][] = [
    ["EMFILE", () => withCode("accept EMFILE", "EMFILE")],
    ["ENFILE", () => withCode("accept ENFILE", "ENFILE")],
    ["ENOMEM", () => withCode("accept ENOMEM", "ENOMEM")],
    ["ENOBUFS", () => withCode("accept ENOBUFS", "ENOBUFS")],
    [
      "EMFILE as a cause",
      () =>
        new BrokenResourceError("accept failed: accept EMFILE", {
          cause: withCode("accept EMFILE", "EMFILE"),
        }),
    ],
  ];

  test.each(capacityErrors)(
    "%s is logged and accept is retried exactly 100 ms later",
    async (_, make) => {
      const log = vi.spyOn(console, "error").mockImplementation(() => {});
      await run(async () => {
        const listener = new FakeListener();
        const error = make();
        listener.failNext(error);
        listener.connect();
        const handled: number[] = [];
        const done = new Event();
        await openNursery(async (nursery) => {
          await nursery.start((taskStatus) =>
            serveListeners(
              async () => {
                handled.push(currentTime());
                done.set();
              },
              [listener],
              { taskStatus },
            ),
          );
          await done.wait();
          nursery.cancelScope.cancel("test over");
        });
        expect(ACCEPT_RETRY_DELAY_MS).toBe(100);
        expect(listener.acceptTimes).toEqual([0, 100, 100]);
        expect(handled).toEqual([100]);
        expect(log.mock.calls).toEqual([[retryLine(error)]]);
        expect(listener.closed).toBe(true);
      }, mockClock());
    },
  );

  test("consecutive capacity errors: one log line and one 100 ms wait each", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    await run(async () => {
      const listener = new FakeListener();
      const errors = [withCode("accept EMFILE", "EMFILE"), withCode("accept ENOBUFS", "ENOBUFS")];
      for (const error of errors) listener.failNext(error);
      listener.connect();
      const done = new Event();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => serveListeners(async () => done.set(), [listener]));
        await done.wait();
        nursery.cancelScope.cancel("test over");
      });
      expect(listener.acceptTimes).toEqual([0, 100, 200, 200]);
      expect(log.mock.calls).toEqual(errors.map((e) => [retryLine(e)]));
    }, mockClock());
  });

  test("a capacity error on one listener does not hold up the others", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    await run(async () => {
      const [a, b] = [new FakeListener(), new FakeListener()];
      a.failNext(withCode("accept EMFILE", "EMFILE"));
      b.connect();
      const handled: number[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          serveListeners(async () => {
            handled.push(currentTime());
          }, [a, b]),
        );
        await sleep(150);
        a.connect();
        await sleep(50);
        nursery.cancelScope.cancel("test over");
      });
      expect(handled).toEqual([0, 150]);
      expect(a.acceptTimes).toEqual([0, 100, 150]);
      expect(b.acceptTimes).toEqual([0, 0]);
    }, mockClock());
  });

  test.each([
    ["a plain Error", () => new Error("boom")],
    [
      "a BrokenResourceError without a capacity cause",
      () =>
        new BrokenResourceError("listener broke", { cause: withCode("accept EINVAL", "EINVAL") }),
    ],
    ["a ClosedResourceError", () => new ClosedResourceError("closed elsewhere")],
    [
      "an error code that is not a capacity one",
      () => withCode("accept ECONNABORTED", "ECONNABORTED"),
    ],
  ])("%s from accept ends serveListeners with it and closes every listener", async (_, make) => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    await run(async () => {
      const [a, b] = [new FakeListener(), new FakeListener()];
      // b has a connection whose handler never returns: it is cancelled and its stream closed.
      b.connect();
      const handlerCancelled = new Event();
      const started = new Event();
      const error = make();
      const thrown = await errorOf(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(() =>
            serveListeners(async () => {
              started.set();
              try {
                await sleepForever();
              } finally {
                handlerCancelled.set();
              }
            }, [a, b]),
          );
          await started.wait();
          a.failNext(error);
        }),
      );
      expectOnly(thrown, error);
      expect(a.closed).toBe(true);
      expect(b.closed).toBe(true);
      expect(handlerCancelled.isSet()).toBe(true);
      expect(b.streams[0]!.closes).toBe(1);
      expect(currentTime()).toBe(0);
    }, mockClock());
    expect(log).not.toHaveBeenCalled();
  });

  test("a capacity error then a fatal one: retried once, then the server ends", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    await run(async () => {
      const listener = new FakeListener();
      const fatal = new Error("fatal");
      listener.failNext(withCode("accept ENOMEM", "ENOMEM"));
      listener.failNext(fatal);
      const thrown = await errorOf(() => serveListeners(async () => {}, [listener]));
      expectOnly(thrown, fatal);
      expect(listener.acceptTimes).toEqual([0, 100]);
      expect(currentTime()).toBe(100);
      expect(listener.closed).toBe(true);
    }, mockClock());
  });
});

describe("serveListeners: start, handlers and streams", () => {
  test("taskStatus.started receives the listeners (via nursery.start)", async () => {
    await run(async () => {
      const listeners = [new FakeListener(), new FakeListener()];
      await openNursery(async (nursery) => {
        const started = await nursery.start<Listener<ServerStream>[]>((taskStatus) =>
          serveListeners(async () => {}, listeners, { taskStatus }),
        );
        expect(started).toHaveLength(2);
        expect(started[0]).toBe(listeners[0]);
        expect(started[1]).toBe(listeners[1]);
        nursery.cancelScope.cancel("test over");
      });
      for (const listener of listeners) expect(listener.closed).toBe(true);
    }, mockClock());
  });

  test("each connection gets its own handler task in the server's nursery by default", async () => {
    await run(async () => {
      const listener = new FakeListener();
      const handlerTasks: Task[] = [];
      const handlerCancelled: boolean[] = [];
      let serverTask: Task | null = null;
      const bothRunning = new Event();
      await openNursery(async (nursery) => {
        await nursery.start((taskStatus) => {
          serverTask = lowlevel.currentTask();
          return serveListeners(
            async () => {
              handlerTasks.push(lowlevel.currentTask());
              if (handlerTasks.length === 2) bothRunning.set();
              try {
                await sleepForever();
              } catch (error) {
                handlerCancelled.push(isCancelled(error));
                throw error;
              }
            },
            [listener],
            { taskStatus },
          );
        });
        listener.connect();
        listener.connect();
        await bothRunning.wait();
        nursery.cancelScope.cancel("stop the server");
      });
      expect(handlerTasks[0]).not.toBe(handlerTasks[1]);
      for (const task of handlerTasks) {
        // The nursery serveListeners opened, in the task that called it.
        expect(task.parentNursery!.parentTask).toBe(serverTask);
      }
      // Stopping the server stops its handlers and closes their streams.
      expect(handlerCancelled).toEqual([true, true]);
      for (const stream of listener.streams) expect(stream.closes).toBe(1);
    }, mockClock());
  });

  test("with handlerNursery, handlers run there and outlive the server", async () => {
    await run(async () => {
      const listener = new FakeListener();
      let handlerTask: Task | null = null;
      let handlerNursery: Nursery | null = null;
      let handlerCancelled = false;
      const running = new Event();
      const release = new Event();
      await openNursery(async (handlers) => {
        handlerNursery = handlers;
        await openNursery(async (server) => {
          await server.start((taskStatus) =>
            serveListeners(
              async () => {
                handlerTask = lowlevel.currentTask();
                running.set();
                try {
                  await release.wait();
                } catch (error) {
                  handlerCancelled = isCancelled(error);
                  throw error;
                }
              },
              [listener],
              { handlerNursery: handlers, taskStatus },
            ),
          );
          listener.connect();
          await running.wait();
          server.cancelScope.cancel("stop the server");
        });
        // The server is gone, the handler still runs with its stream open.
        expect(listener.closed).toBe(true);
        expect(handlerTask!.parentNursery).toBe(handlerNursery);
        expect(handlers.childTasks.has(handlerTask!)).toBe(true);
        expect(listener.streams[0]!.closes).toBe(0);
        release.set();
      });
      expect(handlerCancelled).toBe(false);
      expect(listener.streams[0]!.closes).toBe(1);
      expect(listener.streams[0]!.closedForcefully).toBe(true);
    }, mockClock());
  });

  test("the stream is closed forcefully when the handler returns: the client sees EOF", async () => {
    await run(async () => {
      const listener = new FakeListener();
      const client = listener.connect();
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          serveListeners(
            async (stream: ServerStream) => {
              await stream.inner.sendAll(bytes("bye"));
            },
            [listener],
          ),
        );
        expect(text(await client.receiveSome())).toBe("bye");
        expect((await client.receiveSome()).length).toBe(0);
        nursery.cancelScope.cancel("test over");
      });
      expect(listener.streams[0]!.closes).toBe(1);
      expect(listener.streams[0]!.closedForcefully).toBe(true);
    }, mockClock());
  });

  test("a handler's error closes its stream and propagates out of serveListeners", async () => {
    await run(async () => {
      const [a, b] = [new FakeListener(), new FakeListener()];
      const failure = new Error("handler failed");
      a.connect();
      const thrown = await errorOf(() =>
        serveListeners(async () => {
          throw failure;
        }, [a, b]),
      );
      expectOnly(thrown, failure);
      expect(a.streams[0]!.closes).toBe(1);
      expect(a.streams[0]!.closedForcefully).toBe(true);
      // The error cancelled the server: both listeners are closed.
      expect(a.closed).toBe(true);
      expect(b.closed).toBe(true);
    }, mockClock());
  });

  test("with handlerNursery, a handler's error goes to that nursery (and cancels the server in it)", async () => {
    await run(async () => {
      const listener = new FakeListener();
      const failure = new Error("handler failed");
      const thrown = await errorOf(() =>
        openNursery(async (nursery) => {
          await nursery.start((taskStatus) =>
            serveListeners(
              async () => {
                throw failure;
              },
              [listener],
              { handlerNursery: nursery, taskStatus },
            ),
          );
          listener.connect();
        }),
      );
      expectOnly(thrown, failure);
      expect(listener.streams[0]!.closes).toBe(1);
      expect(listener.closed).toBe(true);
    }, mockClock());
  });

  test("a handlerNursery that has closed: serving ends with its error and the accepted stream is closed", async () => {
    await run(async () => {
      const listener = new FakeListener();
      let finished: Nursery | null = null;
      await openNursery(async (nursery) => {
        finished = nursery;
      });
      listener.connect();
      const thrown = await errorOf(() =>
        serveListeners(async () => {}, [listener], { handlerNursery: finished! }),
      );
      expect((leaves(thrown)[0] as Error).message).toMatch(/nursery is closed/);
      expect(listener.closed).toBe(true);
      // Nobody else holds the accepted connection: left open it would leak a socket.
      expect(listener.streams[0]!.closes).toBe(1);
    }, mockClock());
  });

  test("an empty listener list: started([]), then an Error saying there is nothing to serve", async () => {
    await run(async () => {
      await expect(serveListeners(async () => {}, [])).rejects.toThrow(/no listeners/);
      let started: unknown = null;
      const thrown = await errorOf(() =>
        openNursery(async (nursery) => {
          started = await nursery.start((taskStatus) =>
            serveListeners(async () => {}, [], { taskStatus }),
          );
        }),
      );
      expect(started).toEqual([]);
      expect(leaves(thrown).map((e) => (e as Error).message)).toEqual([
        "serveListeners: no listeners to serve",
      ]);
    }, mockClock());
  });

  test("bad arguments → TypeError", async () => {
    await run(async () => {
      const listener = new FakeListener();
      for (const handler of [null, 5, "handler", {}]) {
        await expect(
          serveListeners(handler as unknown as () => Promise<void>, [listener]),
        ).rejects.toThrow(new TypeError("handler must be a function"));
      }
      for (const listeners of [null, undefined, "x", listener, new Set([listener])]) {
        await expect(
          serveListeners(async () => {}, listeners as unknown as FakeListener[]),
        ).rejects.toThrow(new TypeError("listeners must be an array of listeners"));
      }
      for (const element of [null, undefined, {}, { accept: 5 }, "listener"]) {
        await expect(
          serveListeners(async () => {}, [listener, element as unknown as FakeListener]),
        ).rejects.toThrow(/^listeners\[1\] must be a Listener \(an accept method\), got /);
      }
      for (const options of [null, 5, "x"]) {
        await expect(
          serveListeners(async () => {}, [listener], options as unknown as object),
        ).rejects.toThrow(/^options must be an object, got /);
      }
      // Nothing was started or closed by a rejected call.
      expect(listener.acceptTimes).toEqual([]);
      expect(listener.closed).toBe(false);
      await expect(serveTcp(5 as unknown as () => Promise<void>, 0)).rejects.toThrow(
        new TypeError("handler must be a function"),
      );
      await expect(serveTcp(async () => {}, -1)).rejects.toThrow(RangeError);
      await expect(
        serveTcp(async () => {}, 0, null as unknown as { host: string }),
      ).rejects.toThrow(/^options must be an object, got /);
    });
  });
});

/** TCP handles of this process, after letting libuv finish closing the ones closed so far. */
async function tcpHandles(): Promise<{ sockets: number; servers: number }> {
  // A closed handle leaves the list one or two event-loop turns after close()
  // (its file descriptor is closed at once): turns of the loop, not a timer.
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((name) => name === "TCPSocketWrap").length,
    servers: info.filter((name) => name === "TCPServerWrap").length,
  };
}

async function echo(stream: SocketStream): Promise<void> {
  for await (const chunk of stream) await stream.sendAll(chunk);
}

describe("serveTcp on 127.0.0.1", () => {
  test("echoes for 200 concurrent clients × 10 messages; cancelling closes everything", async () => {
    const before = await tcpHandles();
    let served = 0;
    await run(async () => {
      await openNursery(async (nursery) => {
        const listeners = await nursery.start<SocketListener[]>((taskStatus) =>
          serveTcp(
            async (stream) => {
              served++;
              await echo(stream);
            },
            0,
            { host: "127.0.0.1", taskStatus },
          ),
        );
        expect(listeners).toHaveLength(1);
        const port = listeners[0]!.localAddress.port;
        expect(listeners[0]!.localAddress.address).toBe("127.0.0.1");
        await openNursery(async (clients) => {
          for (let c = 0; c < 200; c++) {
            clients.startSoon(async () => {
              const client = await openTcpStream("127.0.0.1", port);
              try {
                for (let i = 0; i < 10; i++) {
                  const message = bytes(`client ${c} message ${i}\n`);
                  await client.sendAll(message);
                  expect(await receiveExactly(client, message.length)).toEqual(message);
                }
                await client.sendEof();
                expect((await client.receiveSome()).length).toBe(0);
              } finally {
                await client.aclose();
              }
            });
          }
        });
        nursery.cancelScope.cancel("test over");
      });
    });
    expect(served).toBe(200);
    expect(await tcpHandles()).toEqual(before);
  });

  test("cancelling the server with connections open closes them: clients see EOF", async () => {
    const before = await tcpHandles();
    await run(async () => {
      const clients: SocketStream[] = [];
      let handlersCancelled = 0;
      await openNursery(async (nursery) => {
        const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
          serveTcp(
            async (stream) => {
              await stream.sendAll(bytes("hello"));
              try {
                await stream.receiveSome();
              } catch (error) {
                if (isCancelled(error)) handlersCancelled++;
                throw error;
              }
            },
            0,
            { host: "127.0.0.1", taskStatus },
          ),
        );
        for (let i = 0; i < 20; i++) {
          const client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
          clients.push(client);
          // Once the greeting arrived, the handler is waiting in receiveSome.
          expect(text(await receiveExactly(client, 5))).toBe("hello");
        }
        expect((await tcpHandles()).servers).toBe(before.servers + 1);
        nursery.cancelScope.cancel("stop the server");
      });
      expect(handlersCancelled).toBe(20);
      for (const client of clients) {
        expect((await client.receiveSome()).length).toBe(0);
        await client.aclose();
      }
    });
    expect(await tcpHandles()).toEqual(before);
  });

  test("clients see the handler's last bytes, then EOF, when the handler returns", async () => {
    const before = await tcpHandles();
    await run(async () => {
      await openNursery(async (nursery) => {
        const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
          serveTcp(
            async (stream) => {
              await stream.sendAll(bytes("bye"));
            },
            0,
            { host: "127.0.0.1", taskStatus },
          ),
        );
        for (let i = 0; i < 5; i++) {
          const client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
          try {
            expect(text(await receiveExactly(client, 3))).toBe("bye");
            expect((await client.receiveSome()).length).toBe(0);
          } finally {
            await client.aclose();
          }
        }
        nursery.cancelScope.cancel("test over");
      });
    });
    expect(await tcpHandles()).toEqual(before);
  });

  test("a busy port makes serveTcp fail before started, with EADDRINUSE", async () => {
    await run(async () => {
      const [holder] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const port = holder!.localAddress.port;
        const thrown = await errorOf(() =>
          openNursery(async (nursery) => {
            await nursery.start((taskStatus) =>
              serveTcp(async () => {}, port, { host: "127.0.0.1", taskStatus }),
            );
          }),
        );
        const [error] = leaves(thrown) as Error[];
        expect(error!.message).toContain(`127.0.0.1:${port}`);
        expect(error!.cause).toMatchObject({ code: "EADDRINUSE" });
      } finally {
        await holder!.aclose();
      }
    });
  });
});

describe.skipIf(process.platform === "win32")("serveTcp out of file descriptors", () => {
  /** The server program: serveTcp with handlers that hold their connections, its table then filled. */
  const FIXTURE = fileURLToPath(new URL("../fixtures/out-of-descriptors.ts", import.meta.url));
  /** Descriptors the server leaves free; more clients than that connect at once. */
  const FREE = 4;
  const CLIENTS = 20;

  /** How many times `marker` occurs in `text`. */
  const occurrences = (text: string, marker: string) => text.split(marker).length - 1;

  test("the shortage is logged and accept retried (Node closed, unseen, what it had no descriptor for); serving resumes once descriptors are freed", async () => {
    await run(async () => {
      // In a child process under ulimit -n 128, so that our own table stays untouched.
      const server = await openProcess(
        "/bin/sh",
        ["-c", `ulimit -n 128 && exec "$0" --conditions=weft-source "$1" ${FREE}`, NODE, FIXTURE],
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const clients: SocketStream[] = [];
      try {
        let out = await readUntil(server.stdout, "\n");
        const port = Number(/port (\d+)/.exec(out)![1]);
        let served = 0;
        let closedUnseen = 0;
        await openNursery(async (nursery) => {
          for (let i = 0; i < CLIENTS; i++) {
            nursery.startSoon(async () => {
              const client = await openTcpStream("127.0.0.1", port);
              clients.push(client);
              const reply = await capture(() => client.receiveSome());
              if (reply.isOk() && reply.value.length > 0) served++;
              else closedUnseen++; // end of file (or a reset) without a byte
            });
          }
        });
        // About FREE were served (Node may free a descriptor of its own after
        // the table was filled). Node cannot leave connections in the kernel's
        // queue: those it had no descriptor for, it closed. That is the
        // documented trade-off...
        expect(served).toBeGreaterThan(0);
        expect(closedUnseen).toBeGreaterThan(0);
        expect(served + closedUnseen).toBe(CLIENTS);
        // ... but it is not silent: serveListeners logs the shortage and retries.
        const log = await failAfter(10_000, () => readUntil(server.stderr, "retrying in 100 ms"));
        expect(log).toMatch(
          /weft serveListeners: accept failed \(.*out of file descriptors \(EMFILE\)/,
        );
        // Closing the served clients frees the server's descriptors...
        for (const client of clients.splice(0)) await client.aclose();
        while (occurrences(out, "closed\n") < served) {
          out += text(await failAfter(10_000, () => server.stdout.receiveSome()));
        }
        // ... and the next client is served.
        const late = await openTcpStream("127.0.0.1", port);
        clients.push(late);
        expect(text(await failAfter(10_000, () => receiveExactly(late, 6)))).toBe("hello\n");
      } finally {
        for (const client of clients) await client.aclose();
        server.kill();
        await server.aclose();
      }
    });
  });
});
