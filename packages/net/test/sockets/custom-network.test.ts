/**
 * A socket factory that also listens (the seam a simulated network plugs
 * into): unmodified code using openTcpListeners, serveTcp, openTcpStream and
 * serveHttp runs on it, with no real socket opened.
 */
import { openMemoryChannel, openNursery, run } from "@weft/core";
import type { HalfCloseableStream } from "@weft/core/streams";
import { memoryStreamPair } from "@weft/testing/streams";
import { describe, expect, test } from "vitest";
import {
  type FactoryListener,
  openTcpListeners,
  openTcpStream,
  type SocketFactory,
  type SocketListener,
  serveHttp,
  serveTcp,
  setCustomHostnameResolver,
  setCustomSocketFactory,
} from "../../src/index.ts";

/** A network of memory streams: every listener on a port, connections between them. */
function memoryNetwork(): SocketFactory & { readonly opened: string[] } {
  const listening = new Map<number, (stream: HalfCloseableStream) => void>();
  const opened: string[] = [];
  let nextPort = 40_000;
  return {
    opened,
    async connect(address) {
      const deliver = listening.get(address.port);
      if (deliver === undefined) throw new Error(`connection refused: ${address.port}`);
      const [client, server] = memoryStreamPair();
      deliver(server as HalfCloseableStream);
      opened.push(`connect ${address.address}:${address.port}`);
      return client as HalfCloseableStream;
    },
    async listen(port, options) {
      const bound = port === 0 ? nextPort++ : port;
      const [send, receive] = openMemoryChannel<HalfCloseableStream>(Infinity);
      listening.set(bound, (stream) => send.sendNowait(stream));
      opened.push(`listen ${options.host ?? "*"}:${bound}`);
      const listener: FactoryListener = {
        localAddress: { family: 4, address: options.host ?? "0.0.0.0", port: bound },
        accept: () => receive.receive(),
        aclose: async () => {
          listening.delete(bound);
          await receive.aclose();
        },
      };
      return [listener];
    },
  };
}

async function readAll(stream: HalfCloseableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += new TextDecoder().decode(chunk);
  return text;
}

describe("a socket factory that listens", () => {
  test("serveTcp and openTcpStream meet on it; no real socket is opened", async () => {
    const network = memoryNetwork();
    await run(
      async () => {
        setCustomSocketFactory(network);
        setCustomHostnameResolver({
          getaddrinfo: async (_host, port) => [{ family: 4, address: "10.0.0.1", port }],
        });
        await openNursery(async (nursery) => {
          const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
            serveTcp(
              async (stream) => {
                await stream.sendAll(new TextEncoder().encode("hello from the server"));
                await stream.sendEof();
              },
              0,
              { host: "10.0.0.1", taskStatus },
            ),
          );
          const stream = await openTcpStream("server", listener!.localAddress.port);
          expect(await readAll(stream)).toBe("hello from the server");
          await stream.aclose();
          nursery.cancelScope.cancel();
        });
      },
      { handleSignals: false },
    );
    expect(network.opened).toEqual(["listen 10.0.0.1:40000", "connect 10.0.0.1:40000"]);
    expect(process.getActiveResourcesInfo()).not.toContain("TCPServerWrap");
  });

  test("serveHttp serves on it (the Duplex path)", async () => {
    await run(
      async () => {
        setCustomSocketFactory(memoryNetwork());
        await openNursery(async (nursery) => {
          const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
            serveHttp(
              async (request) => new Response(`simulated ${new URL(request.url).pathname}`),
              {
                port: 80,
                host: "10.0.0.2",
                taskStatus,
              },
            ),
          );
          expect(listener!.localAddress.port).toBe(80);
          const stream = await openTcpStream("10.0.0.2", 80);
          await stream.sendAll(
            new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n"),
          );
          expect(await readAll(stream)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*simulated \/x$/);
          await stream.aclose();
          nursery.cancelScope.cancel();
        });
      },
      { handleSignals: false },
    );
  });

  test("a factory without listen: openTcpListeners listens with Node as before", async () => {
    await run(
      async () => {
        setCustomSocketFactory({ connect: async () => Promise.reject(new Error("unused")) });
        const listeners = await openTcpListeners(0, { host: "127.0.0.1" });
        expect(listeners[0]!.server.listening).toBe(true);
        for (const listener of listeners) await listener.aclose();
      },
      { handleSignals: false },
    );
  });
});
