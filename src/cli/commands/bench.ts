// `bertfit bench`: time training steps (or inference) of a BERT on synthetic tokens; the last line is JSON.
// Flags -> benchmark() (src/api/bench.ts).
import { Option, type Command } from 'commander';
import { benchmark } from '../../api/bench.js';
import { NAMED_SHAPES } from '../../model/config.js';
import { numberFlag } from '../data-options.js';

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
}

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
      const r = await benchmark({
        model: f.model, config: f.config, dtype: f.dtype, mode: f.mode, batch: numberFlag('batch', f.batch), seq: numberFlag('seq', f.seq),
        steps: numberFlag('steps', f.steps), warmup: numberFlag('warmup', f.warmup), threads: numberFlag('threads', f.threads),
      });
      console.log(`${r.model} (${r.layers}L, H${r.hidden}) B=${r.batch} S=${r.seq} ${r.dtype} ${r.mode}: ` +
        `median ${r.step_s.toFixed(3)} s/step over ${r.steps_s.length} (${r.steps_s.map((t) => t.toFixed(2)).join(' ')})` +
        (r.mode === 'train' ? `; forward ${r.forward_s.toFixed(3)} backward ${r.backward_s.toFixed(3)} optimizer ${r.optimizer_s.toFixed(3)}` : ''));
      console.log(`${r.seq_per_s.toFixed(2)} seq/s, ${r.gflops.toFixed(1)} GFLOP/s = ${r.peak_pct.toFixed(1)}% of peak ` +
        `${r.peak_gflops.toFixed(0)} GFLOP/s (${r.peak_assumption}); peak RSS ${r.peak_rss_mb.toFixed(0)} MB; ${r.backend} ${r.threads} threads on ${r.cpu}`);
      console.log(JSON.stringify({
        engine: r.engine, mode: r.mode, model: r.model, batch: r.batch, seq: r.seq, dtype: r.dtype, layers: r.layers,
        hidden: r.hidden, threads: r.threads, step_s: r.step_s, forward_s: r.forward_s, backward_s: r.backward_s,
        optimizer_s: r.optimizer_s, seq_per_s: r.seq_per_s, gflops: r.gflops, peak_pct: r.peak_pct, peak_rss_mb: r.peak_rss_mb,
      }));
    });
}
