// A TCP echo server and a client, both weft tasks in one run. The server is
// `serveTcp` on 127.0.0.1 with port 0 (the kernel picks a free port), started
// with `nursery.start()` so that the client connects only once the server is
// listening, and reads the port from the listeners it reports. Each connection
// is handled in its own task; `serveTcp` closes the stream when the handler
// returns. The client sends a few messages, prints each reply with its
// round-trip time, and closes; then the server, which would serve forever, is
// shut down by cancelling the nursery's scope: that cancels the accept loop
// and any handler still running, and closes the listener.
import { openNursery, run } from "@weft/core";
import { openTcpStream, type SocketListener, type SocketStream, serveTcp } from "@weft/net";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends back every byte received, until the client closes its side. */
async function echoHandler(stream: SocketStream): Promise<void> {
  const peer = `${stream.remoteAddress.address}:${stream.remoteAddress.port}`;
  console.log(`server: connection from ${peer}`);
  let bytes = 0;
  // Iterating a stream yields chunks until end of file (the client's close).
  for await (const chunk of stream) {
    bytes += chunk.length;
    await stream.sendAll(chunk);
  }
  console.log(`server: ${peer} closed its side after ${bytes} bytes; handler done`);
}

/**
 * Reads exactly `n` bytes: TCP is a byte stream, so one `sendAll` on one side
 * may arrive as several chunks on the other (rarely on loopback, but it may).
 */
async function receiveExactly(stream: SocketStream, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const chunk = await stream.receiveSome(n - filled);
    if (chunk.length === 0)
      throw new Error(`the server closed the connection after ${filled} bytes`);
    out.set(chunk, filled);
    filled += chunk.length;
  }
  return out;
}

const MESSAGES = ["hello", "structured concurrency", "ünïcödé ✓", "bye"];
const WARM_ROUND_TRIPS = 2000;

/** Runs the echo server and client in one `run()`, printing round-trip times. */
export async function main(): Promise<void> {
  await run(async () => {
    await openNursery(async (nursery) => {
      // start() returns once serveTcp has called taskStatus.started(listeners).
      // (The type argument is needed: TypeScript cannot infer it from the body.)
      const listeners = await nursery.start<SocketListener[]>(
        (taskStatus) => serveTcp(echoHandler, 0, { host: "127.0.0.1", taskStatus }),
        { name: "echo server" },
      );
      const port = listeners[0]!.localAddress.port;
      console.log(`server: listening on 127.0.0.1:${port}`);

      const connectStart = performance.now();
      const stream = await openTcpStream("127.0.0.1", port);
      console.log(`client: connected in ${(performance.now() - connectStart).toFixed(2)} ms`);
      try {
        for (const message of MESSAGES) {
          const data = encoder.encode(message);
          const start = performance.now();
          await stream.sendAll(data);
          const reply = decoder.decode(await receiveExactly(stream, data.length));
          const micros = (performance.now() - start) * 1000;
          console.log(
            `client: sent ${JSON.stringify(message)}, got ${JSON.stringify(reply)} back in ${micros.toFixed(0)} µs`,
          );
        }
        // Many more round trips, once the code is warm (the first ones include
        // compiling it), for a steadier figure.
        const data = encoder.encode("x".repeat(64));
        const start = performance.now();
        for (let i = 0; i < WARM_ROUND_TRIPS; i++) {
          await stream.sendAll(data);
          await receiveExactly(stream, data.length);
        }
        const micros = ((performance.now() - start) * 1000) / WARM_ROUND_TRIPS;
        console.log(
          `client: ${WARM_ROUND_TRIPS} more round trips of 64 bytes: ${micros.toFixed(0)} µs each on average`,
        );
        // Half-close: the server sees end of file, its handler returns, and
        // serveTcp closes the connection, which we see as end of file in turn.
        await stream.sendEof();
        const rest = await stream.receiveSome();
        console.log(`client: sent EOF; the server closed too (${rest.length} more bytes)`);
      } finally {
        await stream.aclose();
      }
      // The server would serve forever: stop it (and anything else in the
      // nursery) by cancelling the nursery's scope.
      nursery.cancelScope.cancel("echo example done");
    });
    console.log("server: stopped (accept loop cancelled, listener closed)");
  });
}

if (import.meta.main) await main();
