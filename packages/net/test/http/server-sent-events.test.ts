/**
 * serverSentEvents under serveHttp: the event producer runs in the request's
 * task, so it may use weft operations between events (it used to fail with
 * "already waiting for a weft operation", then escape serveHttp).
 */
import { openNursery, run, sleep } from "@weft/core";
import { describe, expect, test } from "vitest";
import { fetch, type SocketListener, serveHttp, serverSentEvents } from "../../src/index.ts";

describe("serverSentEvents", () => {
  test("a producer that sleeps between events streams them; leaving runs its finally", async () => {
    const log: string[] = [];
    await run(async () => {
      await openNursery(async (nursery) => {
        const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
          serveHttp(
            () =>
              serverSentEvents(
                (async function* () {
                  try {
                    for (let n = 0; ; n++) {
                      yield { data: String(n) };
                      await sleep(5);
                    }
                  } finally {
                    log.push("producer finished");
                  }
                })(),
              ),
            { port: 0, host: "127.0.0.1", taskStatus },
          ),
        );
        const response = await fetch(`http://127.0.0.1:${listener!.localAddress.port}/`);
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!text.includes("data: 2\n\n")) text += (await reader.read()).value;
        expect(text.startsWith("data: 0\n\ndata: 1\n\ndata: 2\n\n")).toBe(true);
        await reader.cancel();
        while (log.length === 0) await sleep(5);
        nursery.cancelScope.cancel();
      });
    });
    expect(log).toEqual(["producer finished"]);
  });
});
