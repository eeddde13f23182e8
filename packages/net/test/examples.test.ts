/**
 * The network examples (examples/echo.ts, chat-server.ts, reuse-port.ts) run
 * end to end: each `main()` is called with `console.log` captured, and the
 * lines that carry the point of the example are checked.
 */
import * as os from "node:os";
import { openNursery, run } from "@weft/core";
import { describe, expect, test } from "vitest";
import { main as chatMain, serveChat } from "../../../examples/chat-server.ts";
import { main as echoMain } from "../../../examples/echo.ts";
import { main as reusePortMain } from "../../../examples/reuse-port.ts";
import { captureLines } from "../../core/test/support/console.ts";
import { openTcpStream, type SocketStream } from "../src/index.ts";

describe("network examples", () => {
  test("echo: every message comes back, then the server stops", async () => {
    const lines = await captureLines(echoMain);
    for (const message of ["hello", "structured concurrency", "ünïcödé ✓", "bye"]) {
      const quoted = JSON.stringify(message);
      expect(lines.some((l) => l.includes(`sent ${quoted}, got ${quoted} back in`))).toBe(true);
    }
    expect(lines.some((l) => /more round trips of 64 bytes: \d+ µs each/.test(l))).toBe(true);
    expect(
      lines.some((l) => l.includes("closed its side after") && l.includes("handler done")),
    ).toBe(true);
    expect(lines.at(-1)).toContain("server: stopped");
  });

  test("chat: the slow client is disconnected, the others get every line", async () => {
    const lines = await captureLines(chatMain);
    // The server disconnected slowpoke, and the others were told.
    expect(lines.some((l) => l.includes("server: slowpoke was disconnected (too slow"))).toBe(true);
    expect(lines.filter((l) => l.includes("* slowpoke was disconnected (too slow")).length).toBe(3);
    // Each of the three got every flood line of the other two.
    const floodLines = lines.filter((l) => l.includes("+ flood lines:"));
    expect(floodLines).toHaveLength(3);
    for (const line of floodLines) {
      expect(line.match(/\(all of them\)/g)).toHaveLength(2);
      expect(line).not.toContain("MISSING");
    }
    // The scripted conversation reached the others in order.
    const bobSection = lines.slice(lines.findIndex((l) => l.includes("what bob received")));
    const said = ["alice: hi everyone", "carol: hello! is slowpoke asleep?"];
    const at = said.map((s) => bobSection.findIndex((l) => l.trim() === s));
    expect(at[0]).toBeGreaterThanOrEqual(0);
    expect(at[1]).toBeGreaterThan(at[0]!);
    // slowpoke's connection ended after it was disconnected.
    expect(lines.some((l) => /slowpoke, reading at last: \d+ lines .*end of stream/.test(l))).toBe(
      true,
    );
    expect(lines.at(-1)).toContain("server stopped");
  });

  test("chat: a client that resets or sends an endless line is dropped, the server goes on", async () => {
    const lines = await captureLines(() =>
      run(async () => {
        await openNursery(async (nursery) => {
          const port = await nursery.start(serveChat);
          const say = (stream: SocketStream, text: string) =>
            stream.sendAll(new TextEncoder().encode(text));
          const readAll = async (stream: SocketStream) => {
            let text = "";
            for await (const chunk of stream) text += new TextDecoder().decode(chunk);
            return text;
          };
          // An endless line: the server gives up on it and closes the connection
          // (with a reset, since our line is still unread there).
          const mallory = await openTcpStream("127.0.0.1", port);
          await say(mallory, "mallory\n");
          expect(new TextDecoder().decode(await mallory.receiveSome())).toContain("* welcome");
          await say(mallory, "x".repeat(20_000));
          await expect(readAll(mallory).catch(() => "closed")).resolves.not.toContain("x");
          await mallory.aclose();
          // A reset while the server reads.
          const eve = await openTcpStream("127.0.0.1", port);
          await say(eve, "eve\n");
          expect((await eve.receiveSome()).length).toBeGreaterThan(0); // the welcome
          eve.socket.resetAndDestroy();
          // The server still serves.
          const carol = await openTcpStream("127.0.0.1", port);
          await say(carol, "carol\n");
          await carol.sendEof();
          expect(await readAll(carol)).toMatch(/^\* welcome, carol! here: /);
          await carol.aclose();
          nursery.cancelScope.cancel();
        });
      }),
    );
    expect(lines.some((l) => l.includes("ended with LimitOverrunError"))).toBe(true);
    expect(lines.some((l) => l.includes("server: carol joined"))).toBe(true);
    expect(lines.some((l) => l.includes("ended with BrokenResourceError"))).toBe(true);
  });

  test("reuse-port: the children serve every connection and exit cleanly", async () => {
    const lines = await captureLines(reusePortMain);
    if (lines.some((l) => l.includes("reusePort is not supported"))) return; // no SO_REUSEPORT here
    const served = lines
      .map((l) => /^\s+pid (\d+): (\d+) connections?$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => Number(m[2]));
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.reduce((a, b) => a + b, 0)).toBe(50);
    const stopped = lines.filter((l) =>
      /child \d+ stopped after serving \d+, exit code 0$/.test(l),
    );
    expect(stopped).toHaveLength(os.availableParallelism());
    expect(lines.some((l) => l.startsWith("killing child"))).toBe(false);
  });
});
