// benchmark(): time BERT training steps (forward + backward + clip + AdamW) or inference on synthetic tokens —
// the library side of `bertfit bench`.
import os from 'node:os';
import { native } from '../native/index.js';
import { BertClassifier } from '../model/bert.js';
import { NAMED_SHAPES, namedConfig, type BertConfig } from '../model/config.js';
import { loadCheckpoint, resolveModel } from '../model/checkpoint/index.js';
import { Adam } from '../train/optimizer.js';
import type { Batch } from '../data/types.js';
import { OptionError } from '../errors.js';
import { cpuPeakGflops } from '../util/cpu-peak.js';
import { DTYPES, type Dtype, applyThreads, checkChoice, checkNumber, isNonNegativeInt, isPositiveInt } from './options.js';
import { median } from '../util/median.js';

export interface BenchOptions {
  /** a checkpoint (its shape and weights) instead of config */
  model?: string;
  /** a named shape: tiny, mini, small, medium, base, large (default base) */
  config?: string;
  batch?: number;
  seq?: number;
  dtype?: Dtype;
  /** timed steps (the median is reported); default 5 */
  steps?: number;
  /** untimed steps first; default 2 */
  warmup?: number;
  /** train = fwd + bwd + clip + AdamW; infer = eval-mode forward (default train) */
  mode?: 'train' | 'infer';
  threads?: number;
}

export interface BenchResult {
  engine: 'bertfit'; mode: 'train' | 'infer'; model: string; batch: number; seq: number; dtype: Dtype;
  layers: number; hidden: number; threads: number;
  /** median seconds per step, and of its phases (train mode) */
  step_s: number; forward_s: number; backward_s: number; optimizer_s: number;
  /** every timed step, seconds */
  steps_s: number[];
  seq_per_s: number; gflops: number; peak_gflops: number; peak_assumption: string; peak_pct: number; peak_rss_mb: number;
  backend: string; cpu: string;
}

/** Multiply-add FLOPs of one forward pass: the dense layers (2 per MAC) plus the two attention batched GEMMs. */
export function forwardFlops(c: BertConfig, B: number, S: number): number {
  const H = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers, T = B * S;
  const dense = 2 * T * L * (4 * H * H + 2 * H * F);
  const attention = L * 4 * B * S * S * H;
  const head = 2 * B * (H * H + H * c.num_labels);
  return dense + attention + head;
}


export async function benchmark(o: BenchOptions = {}): Promise<BenchResult> {
  const B = checkNumber('batch', o.batch, isPositiveInt, 'a positive integer') ?? 32;
  const S = checkNumber('seq', o.seq, (x) => Number.isInteger(x) && x >= 2, 'an integer >= 2') ?? 128;
  const steps = checkNumber('steps', o.steps, isPositiveInt, 'a positive integer') ?? 5;
  const warm = checkNumber('warmup', o.warmup, isNonNegativeInt, 'an integer >= 0') ?? 2;
  const dtype = checkChoice('dtype', o.dtype, DTYPES) ?? 'fp32';
  const mode = checkChoice('mode', o.mode, ['train', 'infer'] as const) ?? 'train';
  const shape = checkChoice('config', o.config, Object.keys(NAMED_SHAPES)) ?? 'base';
  applyThreads(o.threads);
  const model = o.model
    ? BertClassifier.fromCheckpoint(loadCheckpoint(await resolveModel(o.model)), { seed: 0, numLabels: 2 })
    : BertClassifier.random(namedConfig(shape), 0);
  const c = model.config;
  if (S > c.max_position_embeddings) throw new OptionError('seq', `${S} exceeds the model's max_position_embeddings ${c.max_position_embeddings}`);
  if (dtype === 'bf16') model.setComputeType('bf16');
  const batch = syntheticBatch(B, S, c.vocab_size, c.num_labels);
  const adam = new Adam(model.params, model.grads, model.tensors, { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
  const fw: number[] = [], bw: number[] = [], op: number[] = [], tot: number[] = [];
  for (let i = 0; i < warm + steps; i++) {
    const t0 = performance.now();
    if (mode === 'infer') {
      model.forward(batch, { train: false, grad: false });
      if (i >= warm) tot.push((performance.now() - t0) / 1000);
      continue;
    }
    model.zeroGrad();
    model.forward(batch, { train: true, seed: 1, step: i });
    model.loss(batch.labels);
    const t1 = performance.now();
    model.backward();
    const t2 = performance.now();
    native.clipByGlobalNorm(model.grads, 1.0);
    adam.update(2e-5);
    const t3 = performance.now();
    if (i >= warm) { fw.push((t1 - t0) / 1000); bw.push((t2 - t1) / 1000); op.push((t3 - t2) / 1000); tot.push((t3 - t0) / 1000); }
  }
  const step = median(tot);
  const gflops = forwardFlops(c, B, S) * (mode === 'train' ? 3 : 1) / step / 1e9;
  const info = native.info();
  const peak = cpuPeakGflops(dtype, info.threads);
  return {
    engine: 'bertfit', mode, model: o.model ?? shape, batch: B, seq: S, dtype, layers: c.num_hidden_layers,
    hidden: c.hidden_size, threads: info.threads, step_s: step, forward_s: fw.length ? median(fw) : step,
    backward_s: bw.length ? median(bw) : 0, optimizer_s: op.length ? median(op) : 0, steps_s: tot, seq_per_s: B / step,
    gflops, peak_gflops: peak.gflops, peak_assumption: peak.assumption, peak_pct: 100 * gflops / peak.gflops,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024, backend: info.backend, cpu: os.cpus()[0]?.model ?? 'unknown',
  };
}

/** Random ids (not special tokens), half the sequence segment A and half B, all positions valid (also bench/dp-worker.ts). */
export function syntheticBatch(B: number, S: number, V: number, C: number): Batch {
  let x = 12345;
  const rand = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
  const inputIds = new Int32Array(B * S), tokenTypeIds = new Int32Array(B * S);
  for (let i = 0; i < B * S; i++) { inputIds[i] = 1000 + Math.floor(rand() * (V - 1000)); tokenTypeIds[i] = (i % S) >= S / 2 ? 1 : 0; }
  return {
    size: B, seqLen: S, inputIds, tokenTypeIds, validLength: new Int32Array(B).fill(S),
    labels: Int32Array.from({ length: B }, () => Math.floor(rand() * C)), indices: Int32Array.from({ length: B }, (_, i) => i),
  };
}
