/**
 * What recording a trace costs: steps per second of run.ts's checkpoint
 * scenario (N tasks, each awaiting `checkpoint()` M times, in one nursery,
 * `run()` included in the time) without an instrument and with a
 * `TraceRecorder` (default capacity: the ring wraps, as in a long run), and
 * the overhead in % of the time per step.
 *
 *   node bench/trace-overhead.ts [--quick]
 *
 * Samples with and without the recorder are interleaved (alternating which
 * goes first) so that a change of machine load hits both, after warm-up
 * runs; each sample is a fresh run (and a fresh recorder). Reported: the
 * medians. The goal is an overhead under 30%.
 */
import { parseArgs } from "node:util";
import { ensureBenchNode } from "./support/bench-node.ts";
import { describeMachine, formatMachine } from "./support/machine.ts";
import { summarize } from "./support/stats.ts";
import { formatValue } from "./support/table.ts";

ensureBenchNode(import.meta.filename);

// After ensureBenchNode: only now does @weft/* resolve to its sources.
const { checkpoint, openNursery, run } = await import("@weft/core");
const { TraceRecorder } = await import("@weft/trace");
type Recorder = InstanceType<typeof TraceRecorder>;
type Instrument = import("@weft/core").Instrument;

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const quick = values.quick === true;

const N = 100;
const M = quick ? 200 : 1000;
const SAMPLES = quick ? 5 : 15;
const WARMUP = quick ? 2 : 5;
const GOAL_PERCENT = 30;

/**
 * An instrument with empty step hooks: what the kernel's calling of
 * instruments costs by itself, the floor under any recorder.
 */
const EMPTY: Instrument = { beforeTaskStep() {}, afterTaskStep() {} };

/** Milliseconds of one run of the scenario, with `recorder` installed if given. */
async function sample(recorder: Recorder | Instrument | null): Promise<number> {
  let count = 0;
  const body = async (): Promise<void> => {
    for (let s = 0; s < M; s++) {
      await checkpoint();
      count++;
    }
  };
  globalThis.gc?.();
  const t0 = performance.now();
  await run(
    () =>
      openNursery(async (nursery) => {
        for (let i = 0; i < N; i++) nursery.startSoon(body);
      }),
    recorder === null ? {} : { instruments: [recorder] },
  );
  const measured = performance.now() - t0;
  if (count !== N * M) throw new Error(`expected ${N * M} checkpoints, counted ${count}`);
  if (recorder instanceof TraceRecorder && recorder.recorded < 2 * N * M) {
    throw new Error(`the recorder saw ${recorder.recorded} events, expected at least ${2 * N * M}`);
  }
  return measured;
}

console.log(formatMachine(describeMachine()));
console.log(
  `trace overhead: checkpoint, ${N} tasks × ${M} checkpoints, ${SAMPLES} samples each${quick ? " (quick)" : ""}`,
);

for (let i = 0; i < WARMUP; i++) {
  await sample(null);
  await sample(new TraceRecorder());
  await sample(EMPTY);
}
const plain: number[] = [];
const empty: number[] = [];
const traced: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  if (i % 2 === 0) {
    plain.push(await sample(null));
    empty.push(await sample(EMPTY));
    traced.push(await sample(new TraceRecorder()));
  } else {
    traced.push(await sample(new TraceRecorder()));
    empty.push(await sample(EMPTY));
    plain.push(await sample(null));
  }
}

const steps = N * M;
const plainMs = summarize(plain).median;
const tracedMs = summarize(traced).median;
const emptyMs = summarize(empty).median;
const rate = (ms: number): number => steps / (ms / 1000);
const overhead = (tracedMs / plainMs - 1) * 100;
console.log(
  `  without recorder: ${formatValue(rate(plainMs))} steps/s (median ${plainMs.toFixed(1)} ms)`,
);
console.log(
  `  with an empty instrument: ${formatValue(rate(emptyMs))} steps/s (median ${emptyMs.toFixed(1)} ms, ${((emptyMs / plainMs - 1) * 100).toFixed(1)}%: the kernel's calling of instruments)`,
);
console.log(
  `  with recorder:    ${formatValue(rate(tracedMs))} steps/s (median ${tracedMs.toFixed(1)} ms)`,
);
console.log(
  `  overhead: ${overhead.toFixed(1)}% (${(((tracedMs - plainMs) / steps) * 1e6).toFixed(0)} ns per step; goal < ${GOAL_PERCENT}%)`,
);
// A missed goal is reported, never enforced (as in run.ts: timings on shared
// machines are too noisy to fail on).
if (overhead >= GOAL_PERCENT) console.log(`  MISSED: the overhead is over ${GOAL_PERCENT}%`);
