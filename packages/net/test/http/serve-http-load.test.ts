/**
 * serveHttp over TLS (a weft TlsListener: the Duplex path, with a real HTTPS
 * client), and under load: thousands of requests over hundreds of
 * connections with random client aborts leave no task, socket or descriptor
 * behind.
 */
import { readdirSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { lowlevel, openNursery, run, sleep } from "@weft/core";
import { beforeAll, describe, expect, test } from "vitest";
import { type SocketListener, serveHttp } from "../../src/index.ts";
import { openTcpListeners } from "../../src/sockets/open-tcp-listeners.ts";
import { TlsListener } from "../../src/tls/tls-listener.ts";
import { type Pki, testPki } from "../support/pki.ts";

let pki: Pki;

beforeAll(async () => {
  pki = await testPki();
});

function httpsGet(
  port: number,
  path: string,
  ca: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port, path, ca, servername: "localhost" }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

describe("serveHttp over TLS", () => {
  test("a weft TlsListener serves HTTPS to node:https; request.url says https", async () => {
    await run(
      async () => {
        await openNursery(async (nursery) => {
          const [tcp] = await openTcpListeners(0, { host: "127.0.0.1" });
          const port = tcp!.localAddress.port;
          const listener = new TlsListener(tcp!, { key: pki.serverKey, cert: pki.serverCert });
          await nursery.start<(typeof listener)[]>((taskStatus) =>
            serveHttp(async (request) => new Response(`secure ${request.url}`), {
              listeners: [listener],
              taskStatus,
            }),
          );
          const first = await httpsGet(port, "/a", pki.caCert);
          expect(first).toEqual({ status: 200, body: `secure https://127.0.0.1:${port}/a` });
          const second = await httpsGet(port, "/b", pki.caCert);
          expect(second.body).toBe(`secure https://127.0.0.1:${port}/b`);
          nursery.cancelScope.cancel();
        });
      },
      { handleSignals: false },
    );
  });
});

function openDescriptors(): number {
  return readdirSync("/proc/self/fd").length;
}

/** One client request on `agent`; aborted after `abortAfter` ms of real time when given. */
function request(
  agent: http.Agent,
  port: number,
  path: string,
  abortAfter: number | null,
): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(`status ${res.statusCode}`));
      res.on("error", () => resolve("aborted"));
    });
    req.on("error", () => resolve("aborted"));
    if (abortAfter !== null) setTimeout(() => req.destroy(), abortAfter);
  });
}

describe("serveHttp under load", () => {
  test("5,000 requests over 200 keep-alive connections, 10% aborted at random: no task, socket or descriptor left behind", async () => {
    const descriptorsBefore = openDescriptors();
    let random = 42;
    const next = () => {
      random = (random * 1103515245 + 12345) % 2 ** 31;
      return random / 2 ** 31;
    };
    let outcomes: string[] = [];
    let tasksDuringRun = 0;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
            serveHttp(
              async (request) => {
                const ms = Number(new URL(request.url).searchParams.get("ms"));
                await sleep(ms);
                return new Response("ok");
              },
              { port: 0, host: "127.0.0.1", taskStatus, log: () => {} },
            ),
          );
          const port = listener!.localAddress.port;
          const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
          // Every client socket, to wait for all of them to close at the end.
          const clientSockets: Promise<void>[] = [];
          const createConnection = agent.createConnection.bind(agent);
          agent.createConnection = ((...args: Parameters<typeof createConnection>) => {
            const socket = createConnection(...args) as import("node:net").Socket;
            clientSockets.push(new Promise((resolve) => socket.once("close", () => resolve())));
            return socket;
          }) as typeof agent.createConnection;
          const requests: Promise<string>[] = [];
          for (let i = 0; i < 5_000; i++) {
            const slow = next() < 0.1;
            const ms = slow ? 50 : Math.floor(next() * 3);
            requests.push(
              request(agent, port, `/work?ms=${ms}`, slow ? Math.floor(next() * 20) : null),
            );
          }
          outcomes = await Promise.all(requests);
          agent.destroy();
          await Promise.all(clientSockets);
          tasksDuringRun = lowlevel.currentStatistics().tasksLiving;
          nursery.cancelScope.cancel();
        });
        // Everything the server started has ended with it: the root and main tasks are left.
        expect(lowlevel.currentStatistics().tasksLiving).toBe(2);
      },
      { handleSignals: false },
    );
    const ok = outcomes.filter((o) => o === "status 200").length;
    const aborted = outcomes.filter((o) => o === "aborted").length;
    expect(ok + aborted).toBe(5_000);
    expect(ok).toBeGreaterThan(4_000);
    expect(tasksDuringRun).toBeGreaterThan(1);
    expect(process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap")).toEqual([]);
    // Descriptors: back to where they were (a little slack for what the test runner opens).
    expect(openDescriptors()).toBeLessThanOrEqual(descriptorsBefore + 2);
  }, 60_000);
});
