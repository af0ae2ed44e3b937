// `npm run bench:dp`: data-parallel training on this machine, 2 processes x 1 thread (mpirun, shared memory) against
// 1 process x 2 threads, for MiniLM-L6 and BERT-base: step time, its phases, all-reduce time and bytes per step (each
// configuration one bench/dp-worker.ts job). Then a scaling model for N machines (1-64) on 10/25/100 Gb/s networks,
// derived from the measured compute and gradient size: ring all-reduce time 2(N-1)/N x bytes / bandwidth against
// compute per step, with and without overlapping the backward pass, fp32 and bf16 gradients. Prints the tables and
// writes them to bench/RESULTS.md (section dp).
//
// Usage: node dist/bench/dp.js [--models minilm-l6,random:base] [--seq 128] [--steps 3] [--warmup 1]
//          [--batch-minilm-l6 32] [--batch-base 8] [--steps-base 2] [--save FILE] [--load FILE]
// Defaults keep it near 2 minutes on 2 cores: 3 timed steps per configuration (BERT-base: batch 8, 2 steps).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { lastJson, machineLine, repoRoot, updateResults } from './common.js';

const { values: o } = parseArgs({ options: {
  models: { type: 'string', default: 'minilm-l6,random:base' }, seq: { type: 'string', default: '128' },
  steps: { type: 'string', default: '3' }, warmup: { type: 'string', default: '1' },
  'batch-minilm-l6': { type: 'string', default: '32' }, 'batch-base': { type: 'string', default: '8' },
  'steps-base': { type: 'string', default: '2' },
  save: { type: 'string' }, load: { type: 'string' },
} });

const worker = path.join(repoRoot, 'dist', 'bench', 'dp-worker.js');
const models = o.models!.split(',');

interface Measured {
  model: string; params: number; bytes: number; batch: number; seq: number; procs: number; threads: number;
  forward_s: number; backward_s: number; wait_s: number; allreduce_s: number; optimizer_s: number; step_s: number;
  allreduce_idle_s: number; steps_s: number[]; embedding_params: number;
}

/** One configuration: `procs` processes (mpirun when > 1) of `threads` threads each, global batch `batch`. */
function measure(model: string, batch: number, steps: string, procs: number, threads: number): Measured {
  const args = [worker, '--model', model, '--batch', String(batch), '--seq', o.seq!, '--steps', steps, '--warmup', o.warmup!,
    '--threads', String(threads)];
  console.error(`${model}: ${procs} process(es) x ${threads} thread(s), global batch ${batch} x ${o.seq} ...`);
  const env: NodeJS.ProcessEnv = { ...process.env, BERTFIT_THREADS: String(threads) };
  // Open MPI refuses root (containers) unless told
  if (process.getuid?.() === 0) Object.assign(env, { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' });
  const json = procs === 1
    ? lastJson(process.execPath, args, env)
    : lastJson('mpirun', ['-np', String(procs), '--oversubscribe', '--bind-to', 'none', process.execPath, ...args], env);
  return json as unknown as Measured;
}

// --load FILE re-renders the tables from a --save FILE of an earlier run (the measurements, the machine and its load)
interface Saved { rows: Array<{ one: Measured; two: Measured }>; minutes: number; load: string; machine: string; command: string }
const t0 = performance.now();
let saved: Saved;
if (o.load) {
  saved = JSON.parse(readFileSync(o.load, 'utf8')) as Saved;
} else {
  const rows: Saved['rows'] = [];
  for (const model of models) {
    const short = model.replace(/^random:/, '');
    const batch = Number(o[`batch-${short}` as 'batch-base'] ?? 16);
    const steps = short === 'base' ? o['steps-base']! : o.steps!;
    rows.push({ one: measure(model, batch, steps, 1, 2), two: measure(model, batch, steps, 2, 1) });
  }
  const command = `npm run bench:dp${process.argv.length > 2 ? ` -- ${process.argv.slice(2).filter((a, i, all) => a !== '--save' && all[i - 1] !== '--save').join(' ')}` : ''}`;
  saved = { rows, minutes: (performance.now() - t0) / 60000, load: os.loadavg().map((x) => x.toFixed(2)).join(' '), machine: machineLine(), command };
  if (o.save) writeFileSync(o.save, JSON.stringify(saved, null, 1) + '\n');
}
const { rows, minutes, load } = saved;

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const ms = (s: number) => (1000 * s).toFixed(0);
const name = (m: string) => (m === 'random:base' ? 'BERT-base (random:base)' : m === 'minilm-l6' ? 'MiniLM-L6' : m);

const measuredTable = [
  '| model | params | gradient MiB | global batch | processes x threads | step s | forward s | backward s | wait s | all-reduce ms | all-reduce ms, idle | optimizer s | all-reduce GB/s (bus) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.flatMap(({ one, two }) => [one, two].map((m) => {
    // bus bandwidth (NCCL's convention): bytes each rank sends and receives in a ring, 2(N-1)/N x size, per second
    const bus = m.procs > 1 ? ((2 * (m.procs - 1)) / m.procs) * m.bytes / m.allreduce_idle_s / 1e9 : 0;
    return `| ${name(m.model)} | ${(m.params / 1e6).toFixed(1)} M | ${mib(m.bytes)} | ${m.batch} x ${m.seq} | ${m.procs} x ${m.threads} | ` +
      `${m.step_s.toFixed(3)} | ${m.forward_s.toFixed(3)} | ${m.backward_s.toFixed(3)} | ${m.wait_s.toFixed(3)} | ` +
      `${m.procs > 1 ? ms(m.allreduce_s) : '-'} | ${m.procs > 1 ? ms(m.allreduce_idle_s) : '-'} | ${m.optimizer_s.toFixed(3)} | ${m.procs > 1 ? bus.toFixed(2) : '-'} |`;
  })),
];

// ---- the scaling model ----
// One machine = this 2-core box running 1 process x 2 threads, or a machine `speed` times faster at compute (more
// cores). Per machine and step: compute (forward + backward) scales with the rows it runs, c seconds per sequence as
// measured (divided by speed); the optimizer (clip + AdamW over all parameters) is a fixed cost per step on every
// machine (also divided by speed); the ring all-reduce moves 2(N-1)/N x bytes per machine at the link's line rate plus
// 2(N-1) message latencies. With overlap, buckets are all-reduced while backward continues, except the last bucket
// (the embeddings, whose gradients are complete only when backward ends), which stays exposed.
const NS = [1, 2, 4, 8, 16, 32, 64];
const LINKS = [10, 25, 100];   // Gb/s
const LATENCY_S = 50e-6;       // per ring step, TCP-like; immaterial next to the transfers at these sizes
const FWD_SHARE = 1 / 3;       // forward ~ 1/3 of forward + backward FLOPs (backward computes two products per forward one)
const SPEEDS = [1, 16];        // this box as measured; a machine 16x faster (e.g. 32 cores of this box's speed)
const B = 32;                  // the recipes' batch size

interface Machine { perSeq: number; optimizer: number; bytes: number; lastBucket: number }

function machineOf(one: Measured, speed: number): Machine {
  return {
    perSeq: (one.forward_s + one.backward_s) / one.batch / speed, optimizer: one.optimizer_s / speed, bytes: one.bytes,
    lastBucket: one.embedding_params / one.params,
  };
}

function commSeconds(m: Machine, n: number, gbps: number, bf16: boolean): number {
  if (n === 1) return 0;
  const bytes = m.bytes * (bf16 ? 0.5 : 1);
  return ((2 * (n - 1)) / n) * bytes / (gbps * 1e9 / 8) + 2 * (n - 1) * LATENCY_S;
}

/** Seconds per step on each of n machines that each run `rows` sequences. */
function stepSeconds(m: Machine, rows: number, n: number, gbps: number, bf16: boolean, overlap: boolean): number {
  const compute = m.perSeq * rows, comm = commSeconds(m, n, gbps, bf16);
  if (!overlap) return compute + comm + m.optimizer;
  const fwd = FWD_SHARE * compute, bwd = compute - fwd;
  const exposed = comm * m.lastBucket;
  return fwd + Math.max(bwd, comm - exposed) + exposed + m.optimizer;
}

const VARIANTS = [[false, false], [true, false], [false, true], [true, true]] as const;   // [overlap, bf16]
const variantNames = 'fp32 / fp32 overlapped / bf16 / bf16 overlapped';

/** Speedup in sequences/s over one machine: weak (each machine runs B rows) or strong (the B rows split over n). */
function speedup(m: Machine, n: number, gbps: number, weak: boolean, overlap: boolean, bf16: boolean): number {
  const one = stepSeconds(m, B, 1, gbps, false, false);
  const t = stepSeconds(m, weak ? B : B / n, n, gbps, bf16, overlap);
  return (one / t) * (weak ? n : 1);
}

function table(m: Machine, weak: boolean): string[] {
  const ns = NS.filter((n) => weak || n <= B);
  return [`| N | ${LINKS.map((g) => `${g} Gb/s`).join(' | ')} |`, `|---|${LINKS.map(() => '---|').join('')}`,
    ...ns.map((n) => `| ${n} | ${LINKS.map((g) => VARIANTS.map(([o, h]) => speedup(m, n, g, weak, o, h).toFixed(1)).join(' / ')).join(' | ')} |`)];
}

/** The largest N (of 1..B) whose strong-scaling efficiency (speedup / N) is still >= 50%, per link and variant. */
function efficientUpTo(m: Machine): string {
  return LINKS.map((g) => `${g} Gb/s: ${VARIANTS.map(([o, h]) => {
    let last = 1;
    for (const n of NS.filter((x) => x <= B)) if (speedup(m, n, g, false, o, h) / n >= 0.5) last = n;
    return last;
  }).join(' / ')}`).join('; ');
}

function scalingTables(one: Measured): string[] {
  const base = machineOf(one, 1);
  const out: string[] = [];
  out.push(`**${name(one.model)}**: ${mib(base.bytes)} MiB of fp32 gradients, ${(100 * base.lastBucket).toFixed(0)}% of them the ` +
    `embeddings (the last bucket); measured on this box (1 process x 2 threads): ${(1000 * base.perSeq).toFixed(1)} ms of ` +
    `forward + backward per sequence of ${one.seq} tokens, ${(1000 * base.optimizer).toFixed(0)} ms of clip + AdamW per step.`, '');
  out.push('All-reduce time per step, ms (fp32 / bf16 gradients):', '');
  out.push(`| N | ${LINKS.map((g) => `${g} Gb/s`).join(' | ')} |`, `|---|${LINKS.map(() => '---|').join('')}`);
  for (const n of NS.slice(1)) {
    out.push(`| ${n} | ${LINKS.map((g) => `${ms(commSeconds(base, n, g, false))} / ${ms(commSeconds(base, n, g, true))}`).join(' | ')} |`);
  }
  for (const speed of SPEEDS) {
    const m = machineOf(one, speed);
    const who = speed === 1 ? 'machines like this box' : `machines ${speed}x this box's compute`;
    out.push('', `${who}: one machine steps a batch of ${B} in ${stepSeconds(m, B, 1, 10, false, false).toFixed(2)} s.`, '');
    out.push(`Strong scaling (global batch ${B}, the recipe's, split over N machines), step speedup over one machine (${variantNames}):`, '');
    out.push(...table(m, false));
    out.push('', `Weak scaling (batch ${B} per machine, global batch ${B}N), sequences/s over one machine (${variantNames}):`, '');
    out.push(...table(m, true));
    out.push('', `Strong scaling stays >= 50% efficient up to N = (${variantNames}): ${efficientUpTo(m)}.`);
  }
  return out;
}

const body = [
  '### Data parallel on one machine and a scaling model (`npm run bench:dp`)',
  '',
  `Machine: ${saved.machine}; load average at the end ${load} (the 2 cores were shared with other jobs: the numbers ` +
  `are from a busy machine, compare rows within this run). Command: \`${saved.command}\` (${minutes.toFixed(1)} min). ` +
  'Each configuration is one job ' +
  '(bench/dp-worker.ts): the same phases the trainer runs, on a synthetic batch of full-length rows; medians of the ' +
  'timed steps, compute and wait as the slowest rank\'s. "wait" is the barrier before the all-reduce (the slower rank); ' +
  '"all-reduce" then times the sum all-reduce of the whole flat gradient buffer (fp32, MPI shared memory between the two ' +
  'processes), "idle" the same all-reduce repeated after the steps with both processes idle. Bytes per step: the ' +
  'gradient buffer (each process sends and receives 2(N-1)/N of it in a ring, = its size for N = 2).',
  '',
  ...measuredTable,
  '',
  '#### Scaling model for N machines (derived from the rows above, not measured on a cluster)',
  '',
  'One machine = this 2-core box running 1 process x 2 threads (the 1 x 2 rows), or a machine 16x faster at compute ' +
  '(all its compute times / 16: e.g. 32 cores of this speed) to see where the network starts to matter. Per step each machine computes its ' +
  'rows at the measured seconds per sequence (linear in rows: optimistic for very small shards, where GEMMs run less ' +
  'efficiently), runs clip + AdamW over all parameters (a fixed cost, not divided by N), and all-reduces the gradient: ' +
  `ring all-reduce time = 2(N-1)/N x bytes / link rate + 2(N-1) x ${LATENCY_S * 1e6} us, at line rate (real TCP reaches ` +
  '~80-90% of it). "Overlapped": gradients are all-reduced in buckets while backward runs (forward = 1/3 of compute), ' +
  'except the last bucket, the embeddings, which is complete only when backward ends and stays exposed; bertfit ' +
  'does not overlap yet (one all-reduce after backward). "bf16": gradients sent as bf16, half the bytes (not ' +
  'implemented either: a rounding of every gradient, to validate against fp32 first).',
  '',
  ...rows.flatMap(({ one }) => [...scalingTables(one), '']),
];

const text = body.join('\n');
console.log(text);
updateResults('dp', text);
console.error(`bench/dp: wrote bench/RESULTS.md (section dp) in ${minutes.toFixed(1)} min`);
