// Seeing your tasks: records a small concurrent program with @weft/trace's
// TraceRecorder, writes the trace (open it in ui.perfetto.dev or
// chrome://tracing) and draws it as a static timeline (HTML and SVG), the
// same as `weft-trace trace.json -o timeline.html` does.
//
// The program: a local HTTP "catalogue" answers slowly; a crawler fetches six
// pages through a CapacityLimiter of 2, each page under a 60 ms timeout (one
// page is too slow and is cut short), while a progress task waits on an Event
// set when the crawl is done. The timeline shows the limiter's queue (blocked
// in CapacityLimiter.acquire), the waits on the network, the cancellation of
// the slow page and the wake-up of the progress task.
//
// Run it: `node --conditions=weft-source examples/trace-timeline.ts [dir]`.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CapacityLimiter, Event, moveOnAfter, openNursery, run, sleep } from "@weft/core";
import { fetch, type SocketListener, serveHttp } from "@weft/net";
import { renderTimelineHtml, renderTimelineSvg, TraceRecorder } from "@weft/trace";

/** Milliseconds each catalogue page takes to answer; page 4 is too slow for its timeout. */
const DELAYS = [10, 25, 15, 90, 20, 5];

async function crawl(port: number): Promise<string[]> {
  const limiter = new CapacityLimiter(2);
  const done = new Event();
  const results: string[] = [];
  await openNursery(async (nursery) => {
    nursery.startSoon(
      async () => {
        await done.wait();
        results.push("progress: crawl finished");
      },
      { name: "progress" },
    );
    await openNursery(async (pages) => {
      for (const [page, delay] of DELAYS.entries()) {
        pages.startSoon(
          async () => {
            await limiter.acquire();
            try {
              const answered = await moveOnAfter(60, async () => {
                const response = await fetch(
                  `http://127.0.0.1:${port}/page/${page}?delay=${delay}`,
                );
                return response.text();
              });
              results.push(answered === undefined ? `page ${page}: timed out` : answered);
            } finally {
              limiter.release();
            }
          },
          { name: `page ${page}` },
        );
      }
    });
    done.set();
  });
  return results;
}

/** Runs the crawl under the recorder and writes trace.json, timeline.html and timeline.svg into `dir`. */
export async function main(dir?: string): Promise<{ files: string[]; results: string[] }> {
  const out = dir ?? (await mkdtemp(path.join(tmpdir(), "weft-trace-")));
  await mkdir(out, { recursive: true });
  const recorder = new TraceRecorder();
  const results = await run(
    () =>
      openNursery(async (nursery) => {
        const [listener] = await nursery.start<SocketListener[]>(
          (taskStatus) =>
            serveHttp(
              async (request) => {
                const url = new URL(request.url);
                await sleep(Number(url.searchParams.get("delay") ?? 0));
                return new Response(`page ${url.pathname.split("/").at(-1)}: ok`);
              },
              { port: 0, host: "127.0.0.1", taskStatus },
            ),
          { name: "catalogue" },
        );
        const crawled = await crawl(listener!.localAddress.port);
        nursery.cancelScope.cancel("the crawl is done");
        return crawled;
      }),
    { instruments: [recorder] },
  );
  const trace = recorder.toTraceFile();
  const files = [
    path.join(out, "trace.json"),
    path.join(out, "timeline.html"),
    path.join(out, "timeline.svg"),
  ];
  await writeFile(files[0]!, JSON.stringify(trace));
  await writeFile(
    files[1]!,
    renderTimelineHtml(trace, { title: "a crawl through a limiter of 2" }),
  );
  await writeFile(files[2]!, renderTimelineSvg(trace, { title: "a crawl through a limiter of 2" }));
  return { files, results: results ?? [] };
}

if (import.meta.main) {
  const { files, results } = await main(process.argv[2]);
  for (const line of results) console.log(line);
  for (const file of files) console.log(`wrote ${file}`);
}
