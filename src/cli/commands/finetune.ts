// `bertfit finetune`: fine-tune a BERT classifier on a sentence(-pair) dataset. Flags -> finetune() (src/api/finetune.ts).
// `mpirun -np N bertfit finetune ...` runs it data-parallel over N processes (finetune() sees the launcher).
import { Option, type Command } from 'commander';
import { finetune, type FinetuneOptions } from '../../api/finetune.js';
import { flagOf } from '../../errors.js';
import { makeProgress } from '../../train/progress.js';
import { RECIPES, type TrainSettings } from '../../train/recipes.js';
import { numberFlag } from '../data-options.js';
import { type RunFlags, addRunFlags, runOptionsFrom, withStopSignals } from '../run-flags.js';

interface FinetuneFlags extends RunFlags {
  epochs?: string; batchSize?: string; maxLen?: string; lr?: string; optimizer?: 'adam' | 'adamw';
  weightDecay?: string; adamEps?: string; warmupRatio?: string; schedule?: 'constant' | 'linear'; clipNorm?: string;
  gradAccum?: string; seed?: string; padding?: 'fixed' | 'dynamic'; lastBatch?: 'keep' | 'discard' | 'rollover';
  earlyStop?: string; dtype?: 'fp32' | 'bf16'; threshold?: string; resume?: string; skipNonfinite?: string;
  replicaCheckEvery?: string;
}

const d = RECIPES.default!, t = RECIPES.tutorial!;
const both = (k: keyof TrainSettings) => `default: ${String(d[k])}; tutorial: ${String(t[k])}`;

export function register(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('fine-tune a BERT classifier (or regression / multi-label model); writes checkpoint-best/, checkpoint-last/, log.jsonl, ' +
      'metrics.json (and predictions.tsv, GLUE submission files) to --out');
  addRunFlags(cmd, {
    out: ['output directory', 'runs/finetune'], dev: 'labelled dev data, evaluated after every epoch',
    test: 'unlabelled data to predict with the best checkpoint (predictions.tsv)',
  })
    .option('--epochs <n>', `training epochs (${both('epochs')})`)
    .option('--batch-size <n>', `sequences per batch (${both('batchSize')})`)
    .option('--max-len <n>', `max tokens per pair incl. [CLS]/[SEP] (${both('maxLen')})`)
    .option('--lr <x>', `peak learning rate (${both('lr')})`)
    .addOption(new Option('--optimizer <kind>', `adam (L2) or adamw (decoupled decay) (${both('optimizer')})`).choices(['adam', 'adamw']))
    .option('--weight-decay <x>', `weight decay on matrices only, never biases/LayerNorm (${both('weightDecay')})`)
    .option('--adam-eps <x>', `Adam epsilon (${both('adamEps')})`)
    .option('--warmup-ratio <x>', `fraction of steps with linear warmup from 0 (${both('warmupRatio')})`)
    .addOption(new Option('--schedule <kind>', `lr after warmup (${both('schedule')})`).choices(['constant', 'linear']))
    .option('--clip-norm <x>', `clip gradients to this global L2 norm; 0 = off (${both('clipNorm')})`)
    .option('--grad-accum <n>', `batches per optimizer step (${both('gradAccum')})`)
    .option('--seed <n>', `seed of shuffling, dropout and new heads (${both('seed')})`)
    .addOption(new Option('--padding <mode>', `fixed = pad to --max-len; dynamic = to the batch's longest, multiple of 8 (${both('padding')})`).choices(['fixed', 'dynamic']))
    .addOption(new Option('--last-batch <policy>', `incomplete last batch: keep, discard, or rollover into the next epoch (${both('lastBatch')})`).choices(['keep', 'discard', 'rollover']))
    .option('--early-stop <patience>', 'stop after N dev evaluations without improvement; 0 = off (default: 0)')
    .option('--threshold <x>', 'multi-label: a label is predicted when its probability is >= x (default: 0.5)')
    .addOption(new Option('--dtype <dtype>', 'compute type: fp32, or bf16 GEMMs with fp32 master weights (default: fp32)').choices(['fp32', 'bf16']))
    .option('--resume <dir>', 'continue an interrupted run from its checkpoint-last directory (same settings; under mpirun, any number of processes)')
    .option('--skip-nonfinite <n>', 'skip up to N optimizer steps whose loss or gradient norm is NaN/Inf, without updating the weights ' +
      '(default: 0, training stops at the first and names the step; under mpirun, the processes decide together)')
    .option('--replica-check-every <n>', 'under mpirun: compare the processes\' parameter checksums every N optimizer steps and at each epoch end; 0 = epoch ends only (default: 50)')
    .action(async (flags: FinetuneFlags) => {
      process.exitCode = await run(flags);
    });
}

/** FinetuneOptions from the flags: numbers parsed here, everything checked by the library. */
function optionsFrom(f: FinetuneFlags): FinetuneOptions {
  const o: FinetuneOptions = {
    ...runOptionsFrom(f), optimizer: f.optimizer, schedule: f.schedule, padding: f.padding, lastBatch: f.lastBatch, dtype: f.dtype,
  };
  if (f.resume) o.resume = f.resume;
  const numeric = ['epochs', 'batchSize', 'maxLen', 'lr', 'weightDecay', 'adamEps', 'warmupRatio', 'clipNorm', 'gradAccum',
    'seed', 'earlyStop', 'threshold', 'skipNonfinite', 'replicaCheckEvery'] as const;
  for (const k of numeric) {
    const v = numberFlag(flagOf(k).slice(2), f[k]);
    if (v !== undefined) o[k] = v;
  }
  return o;
}

async function run(f: FinetuneFlags): Promise<number> {
  // Ctrl-C / SIGTERM: the library stops at the next step boundary and saves checkpoint-last.
  const r = await withStopSignals((signal) => finetune({ ...optionsFrom(f), progress: makeProgress(), signal }));
  if (r.stop === 'interrupted') return 130;
  // every dev metric of checkpoint-best (classification: accuracy, f1, macro_f1, mcc; regression: pearson, ...);
  // under mpirun every rank has it, rank 0 prints it
  if (r.parallel.rank === 0) console.log(JSON.stringify({ ...(r.dev ?? {}), wall_s: r.wallSeconds, out: r.outputs.dir }));
  return 0;
}
