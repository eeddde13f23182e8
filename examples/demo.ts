// The weft demo: runs every example in turn, each under a header saying what
// it shows and which seed article it ports, then prints a summary. Each
// example is its own `run()`, one after another. Run it with `pnpm demo`.
import { Interrupted } from "@weft/core";
import { main as automation } from "./automation.ts";
import { main as chatServer } from "./chat-server.ts";
import { main as concurrentFetcher } from "./concurrent-fetcher.ts";
import { main as counter } from "./counter.ts";
import { main as cpuWorkers } from "./cpu-workers.ts";
import { main as echo } from "./echo.ts";
import { main as fetchData } from "./fetch-data.ts";
import { main as fetchGather } from "./fetch-gather.ts";
import { main as filePipeline } from "./file-pipeline.ts";
import { main as generatorChannel } from "./generator-channel.ts";
import { main as greet } from "./greet.ts";
import { demo as httpService } from "./http-service.ts";
import { main as portScanner } from "./port-scanner.ts";
import { main as reusePort } from "./reuse-port.ts";
import { main as scraper } from "./scraper.ts";
import { main as timeoutTree } from "./timeout-tree.ts";
import { main as traceTimeline } from "./trace-timeline.ts";
import { main as tracedHttpService } from "./traced-http-service.ts";

interface Example {
  readonly name: string;
  readonly shows: string;
  readonly seeds: string;
  readonly main: () => Promise<void>;
}

const examples: readonly Example[] = [
  {
    name: "fetch-gather",
    shows: "two simulated 1 s fetches run concurrently, results in order",
    seeds: "000 and 004, asyncio.gather",
    main: fetchGather,
  },
  {
    name: "counter",
    shows: "a blocking counter (~3 s) against three concurrent async counters (~1 s)",
    seeds: "001, SumanNumberCounter / SumanAsycCounter",
    main: counter,
  },
  {
    name: "greet",
    shows: "three greetings, then two, run concurrently: all Hellos, then all worlds",
    seeds: "002 greet() and 003 say_hello()",
    main: greet,
  },
  {
    name: "fetch-data",
    shows: "simulated fetch_data, then real HTTP fetches from a local server, concurrently",
    seeds: "004 fetch_data; replaces the aiohttp examples of 002 and 003",
    main: fetchData,
  },
  {
    name: "timeout-tree",
    shows: "a timeout cancels a whole task tree, every finally runs, nothing outlives it",
    seeds: "none, this is what weft adds",
    main: timeoutTree,
  },
  {
    name: "generator-channel",
    shows:
      "an async generator with its own timeout, run in a task of its own (Trio's as_safe_channel)",
    seeds: "none, this is what weft adds",
    main: generatorChannel,
  },
  {
    name: "concurrent-fetcher",
    shows:
      "20 real HTTP fetches, at most 5 at once, each with its own timeout (one times out, one fails)",
    seeds: "none, this is what weft adds",
    main: concurrentFetcher,
  },
  {
    name: "http-service",
    shows:
      "an HTTP service on serveHttp (JSON API, streaming, server-sent events), exercised with weft's fetch; a client leaving cancels its slow request",
    seeds: "none, this is what weft adds",
    main: httpService,
  },
  {
    name: "traced-http-service",
    shows:
      "OpenTelemetry spans per task: a request's span over its two concurrent upstream fetches, joined across HTTP by traceparent, printed as a tree",
    seeds: "none, this is what weft adds",
    main: async () => {
      await tracedHttpService();
    },
  },
  {
    name: "trace-timeline",
    shows:
      "a crawl through a limiter of 2 recorded with TraceRecorder: trace.json for Perfetto, and the same drawn as a static timeline (timeline.html, timeline.svg)",
    seeds: "none, this is what weft adds",
    main: async () => {
      const { files, results } = await traceTimeline();
      for (const line of results) console.log(`  ${line}`);
      for (const file of files) console.log(`  wrote ${file}`);
    },
  },
  {
    name: "scraper",
    shows:
      "many URLs, at most 3 at once, a timeout per attempt, retries with backoff; ok / failed / timed out counted",
    seeds: "004 fetch_data, grown up",
    main: scraper,
  },
  {
    name: "port-scanner",
    shows: "a TCP port scan with a CapacityLimiter on connection attempts and a timeout on each",
    seeds: "none, this is what weft adds",
    main: portScanner,
  },
  {
    name: "echo",
    shows: "a TCP echo server started with nursery.start(), a client timing its round trips",
    seeds: "none, this is what weft adds",
    main: echo,
  },
  {
    name: "chat-server",
    shows:
      "a line chat: bounded outboxes per member, a client that never reads is disconnected, the others lose nothing",
    seeds: "none, this is what weft adds",
    main: chatServer,
  },
  {
    name: "reuse-port",
    shows: "one server process per CPU sharing a port (reusePort); clients spread by the kernel",
    seeds: "none, this is what weft adds",
    main: reusePort,
  },
  {
    name: "automation",
    shows:
      "three checks as concurrent processes (one fails, reported with its stderr), a tool fed through stdin, a deploy read live and stopped by a deadline, then reaped",
    seeds: "000, Automating Tasks with Asyncio",
    main: automation,
  },
  {
    name: "file-pipeline",
    shows:
      "four files counted line by line at once, a summary written through a FileStream, a search whose first match cancels the others mid-file",
    seeds: "000, 001 and 004, automation and file I/O in chunks",
    main: filePipeline,
  },
  {
    name: "cpu-workers",
    shows:
      "primes counted in worker threads with a progress bar: 1 worker vs one per CPU, then a timeout that terminates the workers",
    seeds: "000, ThreadPoolExecutor for CPU-bound work",
    main: cpuWorkers,
  },
];

async function demo(): Promise<void> {
  console.log(`weft examples on Node.js ${process.version}`);
  const start = performance.now();
  for (const example of examples) {
    console.log();
    console.log(`=== ${example.name}: ${example.shows} (seed: ${example.seeds})`);
    const exampleStart = performance.now();
    await example.main();
    const seconds = (performance.now() - exampleStart) / 1000;
    console.log(`--- ${example.name} finished in ${seconds.toFixed(2)} s`);
  }
  const total = (performance.now() - start) / 1000;
  console.log();
  console.log(`=== all ${examples.length} examples finished in ${total.toFixed(2)} s`);
}

try {
  await demo();
} catch (error) {
  // Ctrl-C: the running example was cancelled and cleaned up; run() set the
  // exit code (130). Anything else is a real failure.
  if (!(error instanceof Interrupted)) throw error;
  console.log(`\n=== interrupted by ${error.signal}`);
}
