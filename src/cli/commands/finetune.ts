// `bertfit finetune`: fine-tune a BERT classifier on a sentence(-pair) dataset. Flags -> finetune() (src/api/finetune.ts).
import { Option, type Command } from 'commander';
import { finetune, type FinetuneOptions } from '../../api/finetune.js';
import { TASK_NAMES } from '../../data/tasks.js';
import { flagOf } from '../../errors.js';
import { makeProgress } from '../../train/progress.js';
import { RECIPES, type TrainSettings } from '../../train/recipes.js';
import { addDataOptions, dataFileOptions, numberFlag, type DataFlags } from '../data-options.js';

interface FinetuneFlags extends DataFlags {
  model: string;
  recipe: string;
  dataDir?: string;
  train?: string;
  dev?: string;
  test?: string;
  labels?: string;
  out: string;
  epochs?: string; batchSize?: string; maxLen?: string; lr?: string; optimizer?: 'adam' | 'adamw';
  weightDecay?: string; adamEps?: string; warmupRatio?: string; schedule?: 'constant' | 'linear'; clipNorm?: string;
  gradAccum?: string; seed?: string; logEvery?: string; padding?: 'fixed' | 'dynamic'; bucketing?: boolean; shuffle?: boolean;
  lastBatch?: 'keep' | 'discard' | 'rollover'; earlyStop?: string; metric?: string; dtype?: 'fp32' | 'bf16';
  problem?: FinetuneOptions['problem']; labelSep?: string; threshold?: string;
  resume?: string; threads?: string; eval?: boolean; skipEmpty?: boolean;
}

const d = RECIPES.default!, t = RECIPES.tutorial!;
const both = (k: keyof TrainSettings) => `default: ${String(d[k])}; tutorial: ${String(t[k])}`;

export function register(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('fine-tune a BERT classifier; writes checkpoint-best/, checkpoint-last/, log.jsonl, metrics.json (and predictions.tsv) to --out')
    .option('--model <spec>', 'checkpoint directory, a `bertfit pull` name (minilm-l6), a Hugging Face id, or random:tiny|mini|small|medium|base', 'bert-base-uncased')
    .addOption(new Option('--recipe <name>', 'settings preset; flags override it (tutorial = the GluonNLP MRPC tutorial exactly: trains on MRPC dev)').choices(Object.keys(RECIPES)).default('default'))
    .addOption(new Option('--task <name>', 'a GLUE task in its published layout, from --data-dir, ../shared/data/glue-<task> (mrpc: ../shared/data/mrpc) or the cache; ' +
      'test splits are predicted into GLUE submission files (CoLA.tsv, MNLI-m.tsv, ...)').choices([...TASK_NAMES]))
    .option('--data-dir <dir>', 'GLUE-layout directory for --task (default: ../shared/data/<task dir> beside the checkout, the cache, or for MRPC a verified download)')
    .option('--train <file>', 'training data (.tsv/.csv/.jsonl) instead of --task')
    .option('--dev <file>', 'labelled dev data, evaluated after every epoch')
    .option('--test <file>', 'unlabelled data to predict with the best checkpoint (predictions.tsv)')
    .option('--labels <list>', 'comma-separated label set (index = class id; default: from the training data, numeric order when numeric)')
    .option('--out <dir>', 'output directory', 'runs/finetune')
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
    .option('--log-every <n>', `log every N optimizer steps (${both('logEvery')})`)
    .addOption(new Option('--padding <mode>', `fixed = pad to --max-len; dynamic = to the batch's longest, multiple of 8 (${both('padding')})`).choices(['fixed', 'dynamic']))
    .option('--no-shuffle', 'keep the training file order instead of reshuffling every epoch')
    .option('--bucketing', 'group similar lengths into batches (full batches, shuffled) (default: off)')
    .addOption(new Option('--last-batch <policy>', `incomplete last batch: keep, discard, or rollover into the next epoch (${both('lastBatch')})`).choices(['keep', 'discard', 'rollover']))
    .option('--early-stop <patience>', 'stop after N dev evaluations without improvement; 0 = off (default: 0)')
    .option('--metric <name>', "dev metric that selects checkpoint-best: accuracy, f1, macro_f1, mcc; pearson, spearman (regression); " +
      "micro_f1, macro_f1, exact_match (multi-label) (default: the task's main metric, else the first for the problem type)")
    .addOption(new Option('--problem <type>', 'the head: single-label classification, regression (numeric labels, MSE), or multi-label ' +
      "(label lists, sigmoid + BCE) (default: the task's; multi-label when labels are lists)").choices(['single_label_classification', 'regression', 'multi_label_classification']))
    .option('--label-sep <sep>', 'multi-label TSV/CSV: the label column lists labels split by this string (e.g. "|")')
    .option('--threshold <x>', 'multi-label: a label is predicted when its probability is >= x (default: 0.5)')
    .addOption(new Option('--dtype <dtype>', 'compute type: fp32, or bf16 GEMMs with fp32 master weights (default: fp32)').choices(['fp32', 'bf16']))
    .option('--no-eval', 'skip the per-epoch dev evaluation')
    .option('--resume <dir>', 'continue an interrupted run from its checkpoint-last directory (same settings)')
    .option('--skip-empty', 'skip training/dev rows whose text is empty (counted and reported) instead of refusing the file')
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  addDataOptions(cmd).action(async (flags: FinetuneFlags) => {
    process.exitCode = await run(flags);
  });
}

/** FinetuneOptions from the flags: numbers parsed here, everything checked by the library. */
function optionsFrom(f: FinetuneFlags): FinetuneOptions {
  const o: FinetuneOptions = {
    ...dataFileOptions(f), model: f.model, recipe: f.recipe, out: f.out,
    optimizer: f.optimizer, schedule: f.schedule, padding: f.padding, lastBatch: f.lastBatch, metric: f.metric, dtype: f.dtype,
    problem: f.problem, labelSep: f.labelSep,
  };
  if (f.dataDir) o.dataDir = f.dataDir;
  if (f.train) o.train = f.train;
  if (f.dev) o.dev = f.dev;
  if (f.test) o.test = f.test;
  if (f.resume) o.resume = f.resume;
  if (f.labels) o.labels = f.labels.split(',').map((l) => l.trim());
  if (f.bucketing) o.bucketing = true;
  if (f.shuffle === false) o.shuffle = false;
  if (f.eval === false) o.eval = false;
  if (f.skipEmpty) o.skipEmpty = true;
  const numeric = ['epochs', 'batchSize', 'maxLen', 'lr', 'weightDecay', 'adamEps', 'warmupRatio', 'clipNorm', 'gradAccum',
    'seed', 'logEvery', 'earlyStop', 'threads', 'threshold'] as const;
  for (const k of numeric) {
    const v = numberFlag(flagOf(k).slice(2), f[k]);
    if (v !== undefined) o[k] = v;
  }
  return o;
}

async function run(f: FinetuneFlags): Promise<number> {
  // Ctrl-C / SIGTERM: the library stops at the next step boundary and saves checkpoint-last.
  const stop = new AbortController();
  const onInt = () => stop.abort('SIGINT'), onTerm = () => stop.abort('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let r;
  try {
    r = await finetune({ ...optionsFrom(f), progress: makeProgress(), signal: stop.signal });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (r.stop === 'interrupted') return 130;
  // every dev metric of checkpoint-best (classification: accuracy, f1, macro_f1, mcc; regression: pearson, ...)
  console.log(JSON.stringify({ ...(r.dev ?? {}), wall_s: r.wallSeconds, out: r.outputs.dir }));
  return 0;
}
