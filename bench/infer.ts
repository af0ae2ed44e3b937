// `npm run bench:infer`: inference speed of bertfit against onnxruntime-node on the same model, in one process, with
// the same number of threads. For each model (MiniLM-L6 and a BERT-base shape) it exports the model with exportModel
// (`bertfit export --quantize int8`) into a temporary directory, then times one forward pass of a fixed batch at
// 32x128, 8x128 and 1x128 tokens through
//   - bertfit fp32 and bf16: loadClassifier(spec, { dtype, threads }).run(encodings), every sequence 128 tokens long
//   - onnxruntime-node fp32 (onnx/model.onnx) and int8 (onnx/model_quantized.onnx): InferenceSession.run on the same
//     ids, intraOpNumThreads = threads, interOpNumThreads 1, graphOptimizationLevel 'all'
// Each engine gets its warm-up passes, then its timed passes in one block; the engines run in order and then in
// reverse order (two rounds), and the median of all timed passes is reported, so a machine whose load drifts during
// the run favours no engine. The logits of every engine are compared with bertfit fp32's (max |difference|) as a
// check that all four compute the same model.
//
// Speed does not depend on the weights: BERT-base is random:base (fresh weights of bert-base-uncased's shape) and
// MiniLM-L6 is the pulled all-MiniLM-L6-v2 (`bertfit pull minilm-l6`) with a freshly initialised classifier head.
//
// Usage: node dist/bench/infer.js [--threads 2] [--reps 2] [--warmup 1] [--models minilm,base] [--shapes 32x128,8x128,1x128]
//          [--ort-no-spin] [--no-results]
// --reps: the fewest timed passes per engine and round (so at least 2 x reps per engine in all); fast passes get more,
//   about 2 s worth per block, up to 10 x reps. --warmup: the fewest untimed passes first (and at least 0.5 s worth).
// A full run costs about 4.5 minutes of CPU time at 2 threads (BERT-base 32x128 dominates): some 2.5-3 minutes on 2
// quiet cores; it took 11 minutes with the 2 cores shared with other jobs (load average 9).
// --ort-no-spin: onnxruntime's intra-op threads block instead of spinning between parallel sections (its default is
//   to spin, which costs it more than bertfit's OpenMP threads lose when the cores are shared with other jobs).
// The table goes to bench/RESULTS.md (section infer) unless --no-results.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { type Classifier, loadClassifier } from '../src/api/classifier.js';
import { exportModel } from '../src/api/export.js';
import type { Encoding } from '../src/tokenizer/pair.js';
import { machineLine, updateResults } from './common.js';
import { ortInputs } from './ort-run.js';
import { median } from '../src/util/median.js';

const { values: o } = parseArgs({ options: {
  threads: { type: 'string', default: '2' }, reps: { type: 'string', default: '2' }, warmup: { type: 'string', default: '1' },
  models: { type: 'string', default: 'minilm,base' }, shapes: { type: 'string', default: '32x128,8x128,1x128' },
  'ort-no-spin': { type: 'boolean', default: false }, 'no-results': { type: 'boolean', default: false },
} });

function fail(message: string): never {
  process.stderr.write(`bench/infer: ${message}\n`);
  process.exit(2);
}
const posInt = (flag: string, v: string): number => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1) fail(`--${flag} must be a positive integer, got "${v}"`);
  return x;
};
const threads = posInt('threads', o.threads!);
const reps = posInt('reps', o.reps!);
const warmup = Number(o.warmup);
if (!Number.isInteger(warmup) || warmup < 0) fail(`--warmup must be an integer >= 0, got "${o.warmup}"`);
/** seconds of warm-up and of timed passes per engine block (when one pass takes less) */
const WARM_S = 0.5, BLOCK_S = 2;

const MODELS: Record<string, { name: string; spec: () => string }> = {
  minilm: { name: 'MiniLM-L6', spec: () => 'minilm-l6' },
  base: { name: 'BERT-base', spec: () => 'random:base' },
};
const modelKeys = o.models!.split(',').map((m) => m.trim()).filter(Boolean);
for (const m of modelKeys) if (!MODELS[m]) fail(`--models takes ${Object.keys(MODELS).join(', ')}, got "${m}"`);
const shapes = o.shapes!.split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) fail(`--shapes takes BATCHxSEQ items such as 32x128, got "${s}"`);
  return { B: posInt('shapes', m[1]!), S: posInt('shapes', m[2]!) };
});
for (const { S } of shapes) if (S < 4) fail('--shapes: sequences need at least 4 tokens ([CLS] a [SEP] b [SEP])');

/** B sequence pairs of exactly S tokens: [CLS] a [SEP] b [SEP] with random non-special ids, a and b of equal length. */
function encodings(B: number, S: number, vocabSize: number, cls: number, sep: number): Encoding[] {
  let x = 12345;
  const rand = (): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
  const half = (S - 3) >> 1;
  return Array.from({ length: B }, () => {
    const ids = new Int32Array(S), types = new Int32Array(S);
    for (let i = 0; i < S; i++) ids[i] = 1000 + Math.floor(rand() * (vocabSize - 1000));
    ids[0] = cls;
    ids[1 + half] = sep;
    ids[S - 1] = sep;
    for (let i = 2 + half; i < S; i++) types[i] = 1;
    return { inputIds: ids, tokenTypeIds: types };
  });
}

interface Engine {
  label: string;
  /** one forward pass of the batch; returns the logits [B, C] */
  run: () => Promise<Float32Array>;
}

function bertfitEngine(label: string, clf: Classifier, encs: Encoding[]): Engine {
  return { label, run: async () => clf.run(encs) };
}

function ortEngine(label: string, session: ort.InferenceSession, encs: Encoding[]): Engine {
  const feeds = ortInputs(encs);
  return { label, run: async () => (await session.run(feeds)).logits!.data as Float32Array };
}

async function ortSession(file: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    // session.intra_op.allow_spinning: onnxruntime's threads spin between parallel sections by default
    ...(o['ort-no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
}

interface Measured { label: string; ms: number; maxDiff: number; times: number[] }

/**
 * Every engine in a block: warm-up passes (at least --warmup, and at least WARM_S seconds' worth, at most 20), then
 * timed passes (at least --reps, more for fast passes: about BLOCK_S seconds' worth, at most 10 x --reps); the
 * engines in order, then again in reverse. Returns the median over both rounds, and the largest logit difference of
 * each engine from the first.
 */
async function measure(engines: Engine[]): Promise<Measured[]> {
  const times = new Map<string, number[]>(engines.map((e) => [e.label, []]));
  const logits = new Map<string, Float32Array>();
  for (const round of [engines, [...engines].reverse()]) {
    for (const e of round) {
      let last = 0, spent = 0;
      for (let i = 0; i < 20 && (i < Math.max(1, warmup) || spent < WARM_S * 1000); i++) {
        const t0 = performance.now();
        logits.set(e.label, await e.run());
        last = performance.now() - t0;
        spent += last;
      }
      const n = Math.min(10 * reps, Math.max(reps, Math.ceil((BLOCK_S * 1000) / last)));
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await e.run();
        times.get(e.label)!.push(performance.now() - t0);
      }
    }
  }
  const ref = logits.get(engines[0]!.label)!;
  return engines.map((e) => {
    const l = logits.get(e.label)!;
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(l[i]! - ref[i]!));
    return { label: e.label, ms: median(times.get(e.label)!), maxDiff: d, times: times.get(e.label)! };
  });
}

const load0 = os.loadavg();
console.error(`bench/infer: ${modelKeys.join(', ')} at ${shapes.map((s) => `${s.B}x${s.S}`).join(', ')}, ${threads} thread(s), ` +
  `at least ${reps} timed pass(es) per engine and round, ${warmup} warm-up; onnxruntime-node ${ort.env.versions.common}; ` +
  `load ${load0.map((x) => x.toFixed(2)).join(' ')}`);
const started = performance.now();
const rows: string[] = [];
const goals: string[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bertfit-infer-'));
try {
  for (const key of modelKeys) {
    const { name, spec: specOf } = MODELS[key]!;
    const spec = specOf();
    let t0 = performance.now();
    const out = path.join(tmp, key);
    await exportModel({ model: spec, out, quantize: 'int8', allowUntrainedHead: true });
    console.error(`${name}: exported ${spec} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    const fp32 = await loadClassifier(spec, { dtype: 'fp32', threads, batchSize: 32, allowUntrainedHead: true });
    const bf16 = await loadClassifier(spec, { dtype: 'bf16', threads, batchSize: 32, allowUntrainedHead: true });
    const ortFp32 = await ortSession(path.join(out, 'onnx', 'model.onnx'));
    const ortInt8 = await ortSession(path.join(out, 'onnx', 'model_quantized.onnx'));
    console.error(`${name}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const { vocab } = fp32.tokenizer;
    const byShape = new Map<string, Map<string, number>>();
    for (const { B, S } of shapes) {
      const encs = encodings(B, S, fp32.config.vocab_size, vocab.clsId, vocab.sepId);
      const results = await measure([
        bertfitEngine('bertfit fp32', fp32, encs), bertfitEngine('bertfit bf16', bf16, encs),
        ortEngine('ORT fp32', ortFp32, encs), ortEngine('ORT int8', ortInt8, encs),
      ]);
      const ms = new Map(results.map((r) => [r.label, r.ms]));
      byShape.set(`${B}x${S}`, ms);
      for (const r of results) {
        const line = `| ${name} | ${B}×${S} | ${r.label} | ${r.ms.toFixed(r.ms < 100 ? 2 : 1)} | ${(B / (r.ms / 1000)).toFixed(1)} | ` +
          `${(ms.get('ORT fp32')! / r.ms).toFixed(2)} | ${(ms.get('ORT int8')! / r.ms).toFixed(2)} | ${r.maxDiff.toExponential(1)} |`;
        rows.push(line);
        console.error(`${line}  (${r.times.length} passes, min ${Math.min(...r.times).toFixed(2)} ms)`);
      }
    }
    const speed = (ref: number, t: number): string => (t <= ref ? `${(ref / t).toFixed(2)}× faster` : `${(t / ref).toFixed(2)}× slower`);
    const big = byShape.get('32x128');
    if (big) {
      const bf = big.get('bertfit bf16')!, q = big.get('ORT int8')!;
      goals.push(`- ${name}: bertfit bf16 vs ORT int8 at 32×128: ${speed(q, bf)} (${bf.toFixed(1)} vs ${q.toFixed(1)} ms) — ` +
        `goal "bf16 at least as fast as ORT int8" ${bf <= q ? 'holds' : 'does not hold'}`);
    }
    const one = byShape.get('1x128');
    if (one) {
      const best = one.get('bertfit fp32')! <= one.get('bertfit bf16')! ? 'fp32' : 'bf16';
      const t = one.get(`bertfit ${best}`)!, ref = one.get('ORT fp32')!;
      goals.push(`- ${name}: batch-1 latency (1×128) bertfit (best dtype, ${best}) vs ORT fp32: ${speed(ref, t)} ` +
        `(${t.toFixed(2)} vs ${ref.toFixed(2)} ms) — goal "no worse than ORT fp32" ${t <= ref ? 'holds' : 'does not hold'}`);
    }
    fp32.dispose();
    bf16.dispose();
    await ortFp32.release();
    await ortInt8.release();
    rmSync(out, { recursive: true, force: true });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const load1 = os.loadavg();
const seconds = (performance.now() - started) / 1000;
const header = `Inference, bertfit against onnxruntime-node ${ort.env.versions.common} on the model \`bertfit export --quantize int8\` ` +
  `wrote (\`node dist/bench/infer.js ${process.argv.slice(2).join(' ')}\`, ${threads} thread(s) for every engine, onnxruntime's ` +
  `threads ${o['ort-no-spin'] ? 'not spinning' : 'spinning (its default)'}; ` +
  `${machineLine()}). **Measured while other jobs ran on the machine**: load average ${load0.map((x) => x.toFixed(2)).join(' / ')} ` +
  `(1 / 5 / 15 min) at the start, ${load1.map((x) => x.toFixed(2)).join(' / ')} at the end, ${seconds.toFixed(0)} s in all. ` +
  'Median ms per forward pass of the batch (each engine timed in two blocks, engines in order then in reverse); ' +
  'speed-up = ORT time / this time (> 1: faster than ORT); max |Δlogit| against bertfit fp32 on the same batch ' +
  '(MiniLM-L6 with an untrained classifier head, BERT-base random weights: speed does not depend on them).';
const table = [
  '| model | batch × seq | engine | ms / batch | sequences/s | speed-up vs ORT fp32 | speed-up vs ORT int8 | max \\|Δlogit\\| vs bertfit fp32 |',
  '|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
const body = `${header}\n\n${table}\n\nGoals of the ONNX-export issue:\n\n${goals.join('\n')}\n`;
console.log(body);
if (!o['no-results']) {
  updateResults('infer', `## Inference: bertfit vs onnxruntime-node (\`npm run bench:infer\`)\n\n${body}`);
  console.error('bench/infer: wrote bench/RESULTS.md (section infer)');
}
