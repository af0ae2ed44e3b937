// `bertfit bench`: time training steps (or inference) of a BERT on synthetic tokens; the last line is JSON.
import { Option, type Command } from 'commander';
import os from 'node:os';
import { native } from '../../native/index.js';
import { BertClassifier } from '../../model/bert.js';
import { NAMED_SHAPES, namedConfig, type BertConfig } from '../../model/config.js';
import { loadCheckpoint, resolveModel } from '../../model/checkpoint/index.js';
import { Adam } from '../../train/optimizer.js';
import type { Batch } from '../../data/types.js';
import { numberFlag } from '../data-options.js';
import { UsageError } from '../errors.js';
import { cpuPeakGflops } from '../../util/cpu-peak.js';

interface BenchFlags {
  model?: string;
  config: string;
  batch: string;
  seq: string;
  dtype: 'fp32' | 'bf16';
  steps: string;
  warmup: string;
  mode: 'train' | 'infer';
  threads?: string;
  peakGflops?: string;
}

/** Multiply-add FLOPs of one forward pass: the dense layers (2 per MAC) plus the two attention batched GEMMs. */
export function forwardFlops(c: BertConfig, B: number, S: number): number {
  const H = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers, T = B * S;
  const dense = 2 * T * L * (4 * H * H + 2 * H * F);
  const attention = L * 4 * B * S * S * H;
  const head = 2 * B * (H * H + H * c.num_labels);
  return dense + attention + head;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

export function register(program: Command): void {
  program
    .command('bench')
    .description('time BERT training steps (forward + backward + AdamW) or inference on synthetic tokens; last line is JSON')
    .option('--model <spec>', 'a checkpoint (its shape and weights) instead of --config')
    .addOption(new Option('--config <shape>', 'model shape').choices(Object.keys(NAMED_SHAPES)).default('base'))
    .option('--batch <n>', 'batch size', '32')
    .option('--seq <n>', 'sequence length', '128')
    .addOption(new Option('--dtype <dtype>', 'compute type').choices(['fp32', 'bf16']).default('fp32'))
    .option('--steps <n>', 'timed steps (median reported)', '5')
    .option('--warmup <n>', 'untimed warmup steps', '2')
    .addOption(new Option('--mode <mode>', 'train = fwd+bwd+AdamW; infer = eval-mode forward').choices(['train', 'infer']).default('train'))
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)')
    .action(async (f: BenchFlags) => {
      const B = numberFlag('batch', f.batch, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!;
      const S = numberFlag('seq', f.seq, (x) => Number.isInteger(x) && x >= 2, 'an integer >= 2')!;
      const steps = numberFlag('steps', f.steps, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!;
      const warm = numberFlag('warmup', f.warmup, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0')!;
      if (f.threads) native.setThreads(numberFlag('threads', f.threads, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!);
      let model: BertClassifier;
      if (f.model) {
        model = BertClassifier.fromCheckpoint(loadCheckpoint(await resolveModel(f.model)), { seed: 0, numLabels: 2 });
      } else {
        model = BertClassifier.random(namedConfig(f.config), 0);
      }
      const c = model.config;
      if (S > c.max_position_embeddings) throw new UsageError(`--seq ${S} exceeds the model's max_position_embeddings ${c.max_position_embeddings}`);
      if (f.dtype === 'bf16') model.setComputeType('bf16');
      const batch = syntheticBatch(B, S, c.vocab_size, c.num_labels);
      const adam = new Adam(model.params, model.grads, model.tensors, { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
      const fw: number[] = [], bw: number[] = [], op: number[] = [], tot: number[] = [];
      for (let i = 0; i < warm + steps; i++) {
        const t0 = performance.now();
        if (f.mode === 'infer') {
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
      const flops = forwardFlops(c, B, S) * (f.mode === 'train' ? 3 : 1);
      const gflops = flops / step / 1e9;
      const threads = native.info().threads;
      const peak = cpuPeakGflops(f.dtype, threads);
      const rssMb = process.resourceUsage().maxRSS / 1024;
      const shape = f.model ?? f.config;
      console.log(`${shape} (${c.num_hidden_layers}L, H${c.hidden_size}) B=${B} S=${S} ${f.dtype} ${f.mode}: ` +
        `median ${step.toFixed(3)} s/step over ${steps} (${tot.map((t) => t.toFixed(2)).join(' ')})` +
        (f.mode === 'train' ? `; forward ${median(fw).toFixed(3)} backward ${median(bw).toFixed(3)} optimizer ${median(op).toFixed(3)}` : ''));
      console.log(`${(B / step).toFixed(2)} seq/s, ${gflops.toFixed(1)} GFLOP/s = ${(100 * gflops / peak.gflops).toFixed(1)}% of peak ` +
        `${peak.gflops.toFixed(0)} GFLOP/s (${peak.assumption}); peak RSS ${rssMb.toFixed(0)} MB; ${native.info().backend} ${threads} threads on ${os.cpus()[0]?.model}`);
      console.log(JSON.stringify({
        engine: 'bertfit', mode: f.mode, model: shape, batch: B, seq: S, dtype: f.dtype, layers: c.num_hidden_layers,
        hidden: c.hidden_size, threads, step_s: step, forward_s: fw.length ? median(fw) : step,
        backward_s: bw.length ? median(bw) : 0, optimizer_s: op.length ? median(op) : 0, seq_per_s: B / step,
        gflops, peak_pct: 100 * gflops / peak.gflops, peak_rss_mb: rssMb,
      }));
    });
}

/** Random ids (not special tokens), half the sequence segment A and half B, all positions valid. */
function syntheticBatch(B: number, S: number, V: number, C: number): Batch {
  let x = 12345;
  const rand = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
  const inputIds = new Int32Array(B * S), tokenTypeIds = new Int32Array(B * S);
  for (let i = 0; i < B * S; i++) { inputIds[i] = 1000 + Math.floor(rand() * (V - 1000)); tokenTypeIds[i] = (i % S) >= S / 2 ? 1 : 0; }
  return {
    size: B, seqLen: S, inputIds, tokenTypeIds, validLength: new Int32Array(B).fill(S),
    labels: Int32Array.from({ length: B }, () => Math.floor(rand() * C)), indices: Int32Array.from({ length: B }, (_, i) => i),
  };
}
