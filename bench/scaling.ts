// `npm run bench:scaling`: how a BERT training step scales with sequence length, batch size and threads, fp32 and
// bf16. Every point is one `bertfit bench` child process (fresh memory, so its peak RSS is that point's own),
// timing --steps training steps after --warmup untimed ones. Prints the tables and writes them to
// bench/RESULTS.md (section scaling-<config>).
//
// Usage: node dist/bench/scaling.js [--config base] [--seqs 32,64,128,256,512] [--seq-batch 8]
//          [--batches 1,8,32,64] [--batch-seq 128] [--threads 1,2] [--threads-batch 8] [--threads-seq 128]
//          [--steps 1] [--warmup 1] [--dtypes fp32,bf16]
// Defaults keep BERT-base within ~10 minutes on 2 cores: one timed step per point (the step time of a fixed shape
// varies far less than the machine's noise), sequence sweep at batch 8, thread sweep at batch 8 x 128.
import { parseArgs } from 'node:util';
import { cli, lastJson, machineLine, updateResults } from './common.js';

const { values: o } = parseArgs({ options: {
  config: { type: 'string', default: 'base' },
  seqs: { type: 'string', default: '32,64,128,256,512' }, 'seq-batch': { type: 'string', default: '8' },
  batches: { type: 'string', default: '1,8,32,64' }, 'batch-seq': { type: 'string', default: '128' },
  threads: { type: 'string', default: '1,2' }, 'threads-batch': { type: 'string', default: '8' },
  'threads-seq': { type: 'string', default: '128' },
  steps: { type: 'string', default: '1' }, warmup: { type: 'string', default: '1' }, dtypes: { type: 'string', default: 'fp32,bf16' },
} });

function ints(flag: string, v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new Error(`bench/scaling: --${flag} must be a comma-separated list of positive integers, got "${v}"`);
  }
  return xs;
}

const seqs = ints('seqs', o.seqs!);
const batches = ints('batches', o.batches!);
const threadCounts = ints('threads', o.threads!);
const [seqBatch] = ints('seq-batch', o['seq-batch']!);
const [batchSeq] = ints('batch-seq', o['batch-seq']!);
const [thrBatch] = ints('threads-batch', o['threads-batch']!);
const [thrSeq] = ints('threads-seq', o['threads-seq']!);
const dtypes = o.dtypes!.split(',');
for (const d of dtypes) if (d !== 'fp32' && d !== 'bf16') throw new Error(`bench/scaling: --dtypes takes fp32 and/or bf16, got "${d}"`);
const defaultThreads = Math.max(...threadCounts);

interface Point { step: number; seqPerS: number; tokPerS: number; gflops: number; rssMb: number }

function measure(B: number, S: number, threads: number, dtype: string): Point {
  const label = `${o.config} B=${B} S=${S} ${dtype} ${threads} thread(s)`;
  console.error(`${label} ...`);
  const r = lastJson(process.execPath, [cli, 'bench', '--config', o.config!, '--batch', String(B), '--seq', String(S),
    '--dtype', dtype, '--mode', 'train', '--steps', o.steps!, '--warmup', o.warmup!, '--threads', String(threads)]);
  const step = Number(r.step_s);
  return { step, seqPerS: B / step, tokPerS: (B * S) / step, gflops: Number(r.gflops), rssMb: Number(r.peak_rss_mb) };
}

const cell = (p: Point): string => `${p.step.toFixed(3)} | ${p.tokPerS.toFixed(0)} | ${p.gflops.toFixed(0)} | ${p.rssMb.toFixed(0)}`;
const head = (first: string): string[] => {
  const cols = dtypes.map((d) => `${d} s/step | ${d} tokens/s | ${d} GFLOP/s | ${d} peak RSS MB`).join(' | ');
  const speed = dtypes.length === 2 ? ' | bf16 speedup' : '';
  const n = 1 + 4 * dtypes.length + (dtypes.length === 2 ? 1 : 0);
  return [`| ${first} | ${cols}${speed} |`, `|${'---|'.repeat(n)}`];
};

function sweep(title: string, first: string, points: Array<{ key: string; B: number; S: number; threads: number }>): string {
  const lines = [title, '', ...head(first)];
  for (const p of points) {
    const res = dtypes.map((d) => measure(p.B, p.S, p.threads, d));
    const speed = res.length === 2 ? ` | ${(res[0]!.step / res[1]!.step).toFixed(2)}x` : '';
    lines.push(`| ${p.key} | ${res.map(cell).join(' | ')}${speed} |`);
    console.error(lines.at(-1));
  }
  return lines.join('\n');
}

const t0 = performance.now();
const tables = [
  sweep(`Sequence length (batch ${seqBatch}, ${defaultThreads} threads)`, 'seq',
    seqs.map((S) => ({ key: String(S), B: seqBatch!, S, threads: defaultThreads }))),
  sweep(`Batch size (seq ${batchSeq}, ${defaultThreads} threads)`, 'batch',
    batches.map((B) => ({ key: String(B), B, S: batchSeq!, threads: defaultThreads }))),
  sweep(`Threads (batch ${thrBatch} x seq ${thrSeq})`, 'threads',
    threadCounts.map((t) => ({ key: String(t), B: thrBatch!, S: thrSeq!, threads: t }))),
];
const minutes = (performance.now() - t0) / 60000;
const body = [
  `BERT-${o.config} training step (forward + backward + AdamW) vs sequence length, batch size and threads; ` +
  `${o.steps} timed step(s) after ${o.warmup} warmup per point, each point a fresh \`bertfit bench\` process.`,
  `Machine: ${machineLine()}. The 2 cores are shared with other jobs, so single points are noisy (compare shapes ` +
  'within a table, not across runs). GFLOP/s counts the dense and attention GEMMs of forward x 3.',
  `Command: \`npm run bench:scaling -- --config ${o.config}\` (${minutes.toFixed(1)} min).`,
  '',
  ...tables.flatMap((t) => [t, '']),
].join('\n');
console.log(body);
updateResults(`scaling-${o.config}`, body);
