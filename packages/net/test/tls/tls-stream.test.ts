/**
 * TlsStream, TlsListener and openTlsOverTcpStream: over memory streams, lockstep
 * streams and real loopback TCP, with a CA and a "localhost" / 127.0.0.1 server
 * certificate generated once for this file.
 */
import {
  BrokenResourceError,
  BusyResourceError,
  Cancelled,
  CancelScope,
  ClosedResourceError,
  currentTime,
  DeadlockError,
  ExceptionGroup,
  isCancelled,
  openNursery,
  run,
} from "@weft/core";
import { MockClock, waitAllTasksBlocked } from "@weft/testing";
import {
  checkCancelledSendAll,
  checkTwoWayStream,
  lockstepStreamPair,
  memoryStreamPair,
} from "@weft/testing/streams";
import { beforeAll, describe, expect, test } from "vitest";
import type { SocketListener, SocketStream, Stream } from "../../src/index.ts";
import { openTlsOverTcpStream } from "../../src/tls/open-tls-over-tcp-stream.ts";
import { TlsListener } from "../../src/tls/tls-listener.ts";
import { type TlsConnectOptions, TlsStream } from "../../src/tls/tls-stream.ts";
import {
  cancelOnceBlocked,
  errorOf,
  filled,
  receiveExactly,
  withTcpListener,
} from "../support/io.ts";
import { type Pki, testPki } from "../support/pki.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let pki: Pki;

beforeAll(async () => {
  pki = await testPki();
});

const clientOptions = (extra?: TlsConnectOptions): TlsConnectOptions => ({
  serverName: "localhost",
  ca: pki.caCert,
  ...extra,
});
const serverOptions = () => ({ key: pki.serverKey, cert: pki.serverCert });

/** A client and a server TlsStream over `pair` (no handshake yet). */
function tlsPair<A extends Stream, B extends Stream>(
  pair: [A, B],
  extra?: { client?: TlsConnectOptions; server?: { alpnProtocols?: string[] } },
): [TlsStream<A>, TlsStream<B>] {
  return [
    new TlsStream(pair[0], clientOptions(extra?.client)),
    new TlsStream(pair[1], { ...serverOptions(), ...extra?.server, serverSide: true }),
  ];
}

async function handshakeBoth(a: TlsStream, b: TlsStream): Promise<void> {
  await openNursery(async (nursery) => {
    nursery.startSoon(() => a.doHandshake());
    nursery.startSoon(() => b.doHandshake());
  });
}

function leaves(error: unknown): unknown[] {
  return error instanceof ExceptionGroup ? (error.errors as unknown[]).flatMap(leaves) : [error];
}

async function expectBusy(fn: () => Promise<unknown>): Promise<void> {
  const errors = leaves(await errorOf(fn)).filter((e) => !isCancelled(e));
  expect(errors.length).toBe(1);
  expect(errors[0]).toBeInstanceOf(BusyResourceError);
}

/** A connected client/server TlsStream pair over loopback TCP, handshake done. */
async function tcpTlsPair(listener: TlsListener): Promise<[TlsStream, TlsStream]> {
  const port = (listener.transportListener as SocketListener).localAddress.port;
  let server: TlsStream | undefined;
  let client: TlsStream | undefined;
  await openNursery(async (nursery) => {
    nursery.startSoon(async () => {
      server = await listener.accept();
      await server.doHandshake();
    });
    client = await openTlsOverTcpStream("127.0.0.1", port, { ca: pki.caCert });
  });
  return [client!, server!];
}

describe("TlsStream over memory streams", () => {
  test("handshake, data both ways, connection details", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      expect(client.handshakeDone).toBe(false);
      expect(client.protocol).toBe(null);
      await handshakeBoth(client, server);
      expect(client.handshakeDone && server.handshakeDone).toBe(true);
      expect(client.serverSide).toBe(false);
      expect(server.serverSide).toBe(true);
      expect(client.protocol).toBe("TLSv1.3");
      expect(server.protocol).toBe("TLSv1.3");
      expect(client.peerCertificate?.subject).toBe("CN=localhost");
      expect(server.peerCertificate).toBe(null);
      expect(client.alpnProtocol).toBe(null);
      await openNursery(async (nursery) => {
        nursery.startSoon(() => client.sendAll(bytes("hello")));
        expect(text(await receiveExactly(server, 5))).toBe("hello");
      });
      await openNursery(async (nursery) => {
        nursery.startSoon(() => server.sendAll(bytes("world!")));
        expect(text(await receiveExactly(client, 6))).toBe("world!");
      });
      await client.aclose();
      await server.aclose();
    });
  });

  test("the first sendAll / receiveSome does the handshake; doHandshake is idempotent", async () => {
    await run(async () => {
      const [client, server] = tlsPair(lockstepStreamPair());
      await openNursery(async (nursery) => {
        nursery.startSoon(() => client.sendAll(bytes("ping")));
        // Two tasks asking for the handshake at once: one does it, one waits.
        nursery.startSoon(() => server.doHandshake());
        expect(text(await receiveExactly(server, 4))).toBe("ping");
      });
      await client.doHandshake();
      await server.doHandshake();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => server.sendAll(bytes("pong")));
        expect(text(await receiveExactly(client, 4))).toBe("pong");
      });
      // A lockstep transport takes the close_notify only from a reader.
      await openNursery(async (nursery) => {
        nursery.startSoon(() => client.aclose());
        expect((await server.receiveSome()).length).toBe(0);
      });
      await server.aclose();
    });
  });

  test("ALPN: the server picks from the client's list", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair(), {
        client: { alpnProtocols: ["h2", "http/1.1"] },
        server: { alpnProtocols: ["http/1.1"] },
      });
      await handshakeBoth(client, server);
      expect(client.alpnProtocol).toBe("http/1.1");
      expect(server.alpnProtocol).toBe("http/1.1");
      await client.aclose();
      await server.aclose();
    });
  });

  test("TLS over TLS (any Stream is a transport)", async () => {
    await run(async () => {
      const [outerClient, outerServer] = tlsPair(memoryStreamPair());
      const [client, server] = tlsPair([outerClient, outerServer]);
      await openNursery(async (nursery) => {
        nursery.startSoon(() => client.sendAll(bytes("nested")));
        expect(text(await receiveExactly(server, 6))).toBe("nested");
      });
      expect(outerClient.handshakeDone && client.handshakeDone).toBe(true);
      await client.aclose();
      await server.aclose();
      await expect(outerClient.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
    });
  });

  test("passes checkTwoWayStream (memory streams; clogged: lockstep streams), on a MockClock", async () => {
    // Autojumping at once whenever every task is blocked: waits on Node alone
    // must not count as blocked, or the suite's step timeouts would fire.
    await run(
      async () => {
        await checkTwoWayStream(
          async () => tlsPair(memoryStreamPair()),
          async () => {
            // Handshake first, as Trio does: otherwise the receiver that should
            // unclog a blocked waitSendAllMightNotBlock starts the handshake and
            // is itself stuck sending on the lockstep stream.
            const [client, server] = tlsPair(lockstepStreamPair());
            await handshakeBoth(client, server);
            return [client, server];
          },
        );
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  }, 30_000);

  test("passes checkCancelledSendAll (clogged: lockstep streams), on a MockClock", async () => {
    await run(
      async () => {
        await checkCancelledSendAll(async () => {
          const [client, server] = tlsPair(lockstepStreamPair());
          await handshakeBoth(client, server);
          return [client, server];
        });
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("close_notify: the peer's receiveSome returns EOF (every time)", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      await handshakeBoth(client, server);
      await client.sendAll(bytes("last words"));
      await client.aclose();
      expect(text(await receiveExactly(server, 10))).toBe("last words");
      expect((await server.receiveSome()).length).toBe(0);
      expect((await server.receiveSome(1)).length).toBe(0);
      for await (const _ of server) throw new Error("no data expected after EOF");
      await server.aclose();
    });
  });

  test("the answering close_notify after the peer hung up is not an error", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      await handshakeBoth(client, server);
      await client.aclose();
      expect((await server.receiveSome()).length).toBe(0);
      await server.aclose(); // its close_notify meets a closed transport
      await expect(server.receiveSome()).rejects.toThrow(ClosedResourceError);
    });
  });

  test("transport EOF without close_notify → BrokenResourceError (truncation)", async () => {
    await run(async () => {
      const [a, b] = memoryStreamPair();
      const [client, server] = tlsPair([a, b]);
      await handshakeBoth(client, server);
      await server.sendAll(bytes("partial"));
      await b.aclose(); // the server's transport hangs up without TLS saying goodbye
      expect(text(await receiveExactly(client, 7))).toBe("partial");
      const error = await errorOf(() => client.receiveSome());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect(String((error as Error).cause)).toMatch(/close_notify/);
      await expect(client.receiveSome()).rejects.toThrow(BrokenResourceError);
      await expect(client.sendAll(bytes("x"))).rejects.toThrow(BrokenResourceError);
      await client.aclose();
      await expect(client.receiveSome()).rejects.toThrow(ClosedResourceError);
      await server.aclose();
    });
  });

  test("httpsCompatible: transport EOF is EOF, and aclose sends no close_notify", async () => {
    await run(async () => {
      const [a, b] = memoryStreamPair();
      const client = new TlsStream(a, clientOptions({ httpsCompatible: true }));
      const server = new TlsStream(b, {
        ...serverOptions(),
        serverSide: true,
        httpsCompatible: true,
      });
      await handshakeBoth(client, server);
      await server.sendAll(bytes("body"));
      await server.aclose();
      expect(text(await receiveExactly(client, 4))).toBe("body");
      expect((await client.receiveSome()).length).toBe(0);
      await client.aclose();
    });
  });

  test("certificate verification fails without the CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)", async () => {
    await run(async () => {
      const [a, b] = memoryStreamPair();
      const server = new TlsStream(b, { ...serverOptions(), serverSide: true });
      let error: unknown;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          // The client hangs up during (or right after) the handshake.
          await expect(server.receiveSome()).rejects.toThrow(BrokenResourceError);
        });
        error = await errorOf(() => TlsStream.connect(a, { serverName: "localhost" }));
      });
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).cause).toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
      // connect closed the transport.
      await expect(a.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
      await server.aclose();
    });
  });

  test("a certificate for another name fails (ERR_TLS_CERT_ALTNAME_INVALID)", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair(), {
        client: { serverName: "example.com" },
      });
      let error: unknown;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          // Node's client rejects the certificate without telling the server:
          // the server learns of it when the client closes the connection.
          await expect(server.doHandshake()).rejects.toThrow(BrokenResourceError);
        });
        error = await errorOf(() => client.doHandshake());
        // Broken for good, but closable.
        await expect(client.sendAll(bytes("x"))).rejects.toThrow(BrokenResourceError);
        await expect(client.doHandshake()).rejects.toThrow(BrokenResourceError);
        await client.aclose();
      });
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).cause).toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
      await server.aclose();
    });
  });

  test("rejectUnauthorized: false accepts an unverifiable certificate", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair(), {
        client: { ca: undefined, serverName: undefined, rejectUnauthorized: false },
      });
      await handshakeBoth(client, server);
      expect(client.peerCertificate?.subject).toBe("CN=localhost");
      await client.aclose();
      await server.aclose();
    });
  });

  test("garbage from the peer → BrokenResourceError with Node's error as cause", async () => {
    await run(async () => {
      const [a, b] = memoryStreamPair();
      const server = new TlsStream(b, { ...serverOptions(), serverSide: true });
      await a.sendAll(bytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      const error = await errorOf(() => server.receiveSome());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).cause).toMatchObject({ code: expect.stringMatching(/^ERR_SSL_/) });
      await server.aclose();
      await a.aclose();
    });
  });

  test("cancelling a handshake leaves the stream broken but closable", async () => {
    await run(async () => {
      const [a, b] = memoryStreamPair();
      const client = new TlsStream(a, clientOptions());
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await waitAllTasksBlocked();
          nursery.cancelScope.cancel();
        });
        await client.doHandshake(); // nobody answers
      });
      expect(client.handshakeDone).toBe(false);
      await expect(client.receiveSome()).rejects.toThrow(BrokenResourceError);
      await client.aclose();
      await b.aclose();
    });
  });

  test("cancelling a receiveSome loses nothing: the stream still works", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      await handshakeBoth(client, server);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await waitAllTasksBlocked();
          nursery.cancelScope.cancel();
        });
        await client.receiveSome(); // nothing was sent
      });
      await server.sendAll(bytes("after"));
      expect(text(await receiveExactly(client, 5))).toBe("after");
      await client.aclose();
      await server.aclose();
    });
  });

  test("aclose in a cancelled scope closes without close_notify", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      await handshakeBoth(client, server);
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => client.aclose());
      await expect(client.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
      await expect(server.receiveSome()).rejects.toThrow(BrokenResourceError);
      await server.aclose();
    });
  });

  test("aclose does not hang on a peer that never reads (closeNotifyTimeout)", async () => {
    await run(
      async () => {
        const [a, b] = lockstepStreamPair();
        const client = new TlsStream(a, clientOptions({ closeNotifyTimeout: 5000 }));
        const server = new TlsStream(b, { ...serverOptions(), serverSide: true });
        await handshakeBoth(client, server);
        const start = currentTime();
        await client.aclose(); // the server never reads: the close_notify cannot go out
        expect(currentTime() - start).toBe(5000);
        await expect(client.receiveSome()).rejects.toThrow(ClosedResourceError);
        await server.aclose();
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("waiting for Node is neither a deadlock nor idleness on an autojumping MockClock", async () => {
    await run(
      async () => {
        const [client, server] = tlsPair(memoryStreamPair());
        await openNursery(async (nursery) => {
          nursery.startSoon(() => client.sendAll(bytes("tick")));
          expect(text(await receiveExactly(server, 4))).toBe("tick");
        });
        await client.aclose();
        await server.aclose();
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("a handshake nobody answers is a DeadlockError on a MockClock, not a hang", async () => {
    const error = await errorOf(() =>
      run(
        async () => {
          const [a] = memoryStreamPair();
          const client = new TlsStream(a, clientOptions());
          await openNursery(async (nursery) => {
            nursery.startSoon(() => client.doHandshake());
            nursery.startSoon(() => client.sendAll(bytes("x"))); // waits for the handshake
          });
        },
        { clock: new MockClock({ autojumpThreshold: 0 }) },
      ),
    );
    expect(error).toBeInstanceOf(DeadlockError);
  });

  test("concurrent receivers or senders → BusyResourceError; send and receive together are fine", async () => {
    await run(async () => {
      const [client, server] = tlsPair(lockstepStreamPair());
      await handshakeBoth(client, server);
      await expectBusy(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => client.receiveSome());
          nursery.startSoon(() => client.receiveSome());
        }),
      );
      // On a lockstep transport sendAll blocks until the peer reads.
      await expectBusy(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => client.sendAll(bytes("1")));
          nursery.startSoon(() => client.sendAll(bytes("2")));
        }),
      );
      const fresh = tlsPair(lockstepStreamPair());
      await handshakeBoth(...fresh);
      await expectBusy(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => fresh[0].sendAll(bytes("1")));
          nursery.startSoon(() => fresh[0].waitSendAllMightNotBlock());
        }),
      );
      for (const s of [client, server, ...fresh]) await s.aclose();
    });
  });

  test("bad arguments", async () => {
    const [a] = memoryStreamPair();
    expect(() => new TlsStream({} as never, clientOptions())).toThrow(TypeError);
    expect(() => new TlsStream(a, "x" as never)).toThrow(TypeError);
    expect(() => new TlsStream(a, undefined as never)).toThrow(TypeError);
    expect(() => new TlsStream(a, { ca: pki.caCert })).toThrow(/serverName/);
    expect(() => new TlsStream(a, { serverName: "" })).toThrow(TypeError);
    expect(() => new TlsStream(a, { serverSide: true })).toThrow(/cert/);
    expect(() => new TlsStream(a, { ...clientOptions(), serverSide: "yes" as never })).toThrow(
      TypeError,
    );
    expect(() => new TlsStream(a, clientOptions({ alpnProtocols: "h2" as never }))).toThrow(
      TypeError,
    );
    expect(() => new TlsStream(a, clientOptions({ closeNotifyTimeout: -1 }))).toThrow(RangeError);
    expect(() => new TlsStream(a, clientOptions({ httpsCompatible: 1 as never }))).toThrow(
      TypeError,
    );
    expect(() => new TlsListener({} as never, serverOptions())).toThrow(TypeError);
    await run(async () => {
      await expect(TlsStream.connect(a, null as never)).rejects.toThrow(TypeError);
      await expect(TlsStream.accept(5 as never, serverOptions())).rejects.toThrow(TypeError);
      await expect(openTlsOverTcpStream("127.0.0.1", -1)).rejects.toThrow(RangeError);
      await expect(openTlsOverTcpStream("127.0.0.1", 443, { alpnProtocols: [""] })).rejects.toThrow(
        TypeError,
      );
      const [client, server] = tlsPair(memoryStreamPair());
      await expect(client.receiveSome(0)).rejects.toThrow(RangeError);
      await expect(client.sendAll("x" as never)).rejects.toThrow(TypeError);
      await client.aclose();
      await server.aclose();
    });
  });
});

describe("TlsStream over loopback TCP", () => {
  test("TlsListener + openTlsOverTcpStream: echo, then close_notify", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const listener = new TlsListener(tcpListener, serverOptions());
        const port = tcpListener.localAddress.port;
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            const server = await listener.accept();
            try {
              for await (const chunk of server) await server.sendAll(chunk);
            } finally {
              await server.aclose();
            }
          });
          const client = await openTlsOverTcpStream("127.0.0.1", port, { ca: pki.caCert });
          try {
            expect(client.transport.remoteAddress.port).toBe(port);
            await client.sendAll(bytes("hello over TCP"));
            expect(text(await receiveExactly(client, 14))).toBe("hello over TCP");
          } finally {
            await client.aclose();
          }
        });
      });
    });
  });

  test("`await using` closes the listener and the stream at the end of the block: the peer gets close_notify", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        let listener: TlsListener | null = null;
        let client: TlsStream | null = null;
        let server: TlsStream | null = null;
        {
          await using tlsListener = new TlsListener(tcpListener, serverOptions());
          listener = tlsListener;
          [client, server] = await tcpTlsPair(tlsListener);
          await using stream = client;
          await stream.sendAll(bytes("last words"));
        }
        try {
          expect(text(await receiveExactly(server, 10))).toBe("last words");
          expect((await server.receiveSome()).length).toBe(0);
          await expect(client.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
          await expect(listener.accept()).rejects.toThrow(ClosedResourceError);
        } finally {
          await server.aclose();
        }
      });
    });
  });

  test("`await using` closes the listener and the stream when the block throws", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const boom = new Error("boom");
        const opened: { client?: TlsStream; server?: TlsStream } = {};
        const error = await errorOf(async () => {
          await using listener = new TlsListener(tcpListener, serverOptions());
          [opened.client, opened.server] = await tcpTlsPair(listener);
          await using _client = opened.client;
          throw boom;
        });
        expect(error).toBe(boom);
        try {
          expect((await opened.server!.receiveSome()).length).toBe(0);
          await expect(opened.client!.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
          await expect(tcpListener.accept()).rejects.toThrow(ClosedResourceError);
        } finally {
          await opened.server!.aclose();
        }
      });
    });
  });

  test("1 MB each way, sent and received concurrently", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const [client, server] = await tcpTlsPair(new TlsListener(tcpListener, serverOptions()));
        const size = 1_000_000;
        const data = new Uint8Array(size);
        for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 10)) % 256;
        await openNursery(async (nursery) => {
          for (const [from, to] of [
            [client, server],
            [server, client],
          ] as const) {
            nursery.startSoon(() => from.sendAll(data));
            nursery.startSoon(async () => {
              const got = await receiveExactly(to, size);
              expect(Buffer.compare(got, data)).toBe(0); // toEqual is slow on 1 MB
            });
          }
        });
        await client.aclose();
        await server.aclose();
      });
    });
  }, 20_000);

  test("passes checkTwoWayStream", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const listener = new TlsListener(tcpListener, serverOptions());
        await checkTwoWayStream(() => tcpTlsPair(listener));
      });
    });
  }, 30_000);

  test("a client that fails its handshake does not break the accept loop", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const listener = new TlsListener(tcpListener, serverOptions());
        const port = tcpListener.localAddress.port;
        const outcomes: string[] = [];
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            for (let i = 0; i < 2; i++) {
              const server = await listener.accept(); // no handshake here
              nursery.startSoon(async () => {
                try {
                  const got = await server.receiveSome();
                  outcomes.push(`data ${text(got)}`);
                } catch (error) {
                  outcomes.push(error instanceof BrokenResourceError ? "broken" : String(error));
                } finally {
                  await server.aclose();
                }
              });
            }
          });
          // Without the CA the client rejects the server and hangs up.
          const error = await errorOf(() => openTlsOverTcpStream("127.0.0.1", port));
          expect((error as Error).cause).toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
          const client = await openTlsOverTcpStream("localhost", port, { ca: pki.caCert });
          await client.sendAll(bytes("ok"));
          await client.aclose();
        });
        expect(outcomes.sort()).toEqual(["broken", "data ok"]);
      });
    });
  });
});

describe("TlsStream: a cancelled sendAll breaks sending (SEMANTICS.md, I/O resources)", () => {
  const MiB = 1024 * 1024;

  function expectPreviousSendCancelled(error: unknown): void {
    expect(error).toBeInstanceOf(BrokenResourceError);
    expect((error as Error).message).toMatch(/a previous sendAll was cancelled/);
    expect((error as Error).cause).toBeInstanceOf(Cancelled);
  }

  test("cancelled mid-write: later sendAll calls raise BrokenResourceError and send nothing; aclose closes", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const listener = new TlsListener(tcpListener, serverOptions());
        const [client, server] = await tcpTlsPair(listener);
        try {
          // The server does not read yet: 16 MiB is more than loopback buffers hold.
          const first = await cancelOnceBlocked(() => client.sendAll(filled(16 * MiB, 0x11)));
          expect(first).toEqual({ cancelled: true, error: null });
          for (const value of [0x22, 0x33]) {
            expectPreviousSendCancelled(await errorOf(() => client.sendAll(filled(MiB, value))));
          }
          expectPreviousSendCancelled(await errorOf(() => client.waitSendAllMightNotBlock()));
          await client.aclose();
          await expect(client.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
          // The server gets part of the cancelled data, then a truncated stream.
          const values = new Set<number>();
          const end = await errorOf(async () => {
            for await (const chunk of server) for (const b of chunk) values.add(b);
          });
          expect(end).toBeInstanceOf(BrokenResourceError);
          expect([...values].filter((v) => v !== 0x11)).toEqual([]);
        } finally {
          await client.aclose();
          await server.aclose();
        }
      });
    });
  });

  test("sendAll hands TLS 64 KiB at a time: the transport never gets more than one piece's ciphertext", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      await handshakeBoth(client, server);
      const transport = client.transport;
      const sizes: number[] = [];
      const transportSendAll = transport.sendAll.bind(transport);
      transport.sendAll = (data) => {
        sizes.push(data.length);
        return transportSendAll(data);
      };
      await openNursery(async (nursery) => {
        nursery.startSoon(() => client.sendAll(filled(MiB, 7)));
        const got = await receiveExactly(server, MiB);
        expect(got.every((b) => b === 7)).toBe(true);
      });
      // 64 KiB of plaintext is four full TLS records: 64 KiB and ~90 bytes.
      expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024 + 1024);
      await client.aclose();
      await server.aclose();
    });
  });

  test("repeated cancelled sends over TCP keep the socket's write buffer within 64 KiB", async () => {
    await run(async () => {
      await withTcpListener(async (tcpListener) => {
        const listener = new TlsListener(tcpListener, serverOptions());
        const [client, server] = await tcpTlsPair(listener);
        try {
          const { socket } = client.transport as SocketStream;
          for (let i = 0; i < 40; i++) {
            // The server never reads: one send blocks and is cancelled, the later ones are refused.
            await cancelOnceBlocked(() => client.sendAll(filled(MiB, i)));
            expect(socket.writableLength).toBeLessThanOrEqual(64 * 1024);
          }
        } finally {
          await client.aclose();
          await server.aclose();
        }
      });
    });
  });

  test("cancelled before it hands TLS anything: sending is broken, receiving still works", async () => {
    await run(async () => {
      const [client, server] = tlsPair(memoryStreamPair());
      await handshakeBoth(client, server);
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => client.sendAll(bytes("never")));
      expect(scope.cancelledCaught).toBe(true);
      expectPreviousSendCancelled(await errorOf(() => client.sendAll(bytes("not either"))));
      await server.sendAll(bytes("hello"));
      expect(text(await receiveExactly(client, 5))).toBe("hello");
      await client.aclose();
      await server.aclose();
    });
  });
});
