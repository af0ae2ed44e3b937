// `bertfit finetune`: fine-tune a BERT classifier on a sentence(-pair) dataset (see src/train/recipes.ts).
import { Option, type Command } from 'commander';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readDataset } from '../../data/dataset.js';
import { encodeDataset } from '../../data/encode.js';
import { labelSet, checkLabels } from '../../data/labels.js';
import { locateMrpc } from '../../data/mrpc-fetch.js';
import { TASK_NAMES, taskDatasets } from '../../data/tasks.js';
import type { Example } from '../../data/types.js';
import { native } from '../../native/index.js';
import { LabelMismatchError, openModel } from '../../model/open.js';
import { evaluate, softmaxRow } from '../../train/evaluate.js';
import { makeProgress } from '../../train/progress.js';
import { RECIPES, type TrainSettings } from '../../train/recipes.js';
import { Trainer } from '../../train/trainer.js';
import { recoverReplacedDir, writeFileAtomic } from '../../util/atomic.js';
import { addDataOptions, datasetOptions, numberFlag, type DataFlags } from '../data-options.js';
import { UsageError } from '../errors.js';

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
  lastBatch?: 'keep' | 'discard' | 'rollover'; earlyStop?: string; metric?: 'accuracy' | 'f1'; dtype?: 'fp32' | 'bf16';
  resume?: string; threads?: string; eval?: boolean;
}

const d = RECIPES.default!, t = RECIPES.tutorial!;
const both = (k: keyof TrainSettings) => `default: ${String(d[k])}; tutorial: ${String(t[k])}`;

export function register(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('fine-tune a BERT classifier; writes checkpoint-best/, checkpoint-last/, log.jsonl, metrics.json (and predictions.tsv) to --out')
    .option('--model <spec>', 'checkpoint directory, a `bertfit pull` name (minilm-l6), a Hugging Face id, or random:tiny|mini|small|medium|base', 'bert-base-uncased')
    .addOption(new Option('--recipe <name>', 'settings preset; flags override it (tutorial = the GluonNLP MRPC tutorial exactly: trains on MRPC dev)').choices(Object.keys(RECIPES)).default('default'))
    .addOption(new Option('--task <name>', 'a GLUE task read from --data-dir (train.tsv, dev.tsv, test.tsv)').choices([...TASK_NAMES]))
    .option('--data-dir <dir>', 'GLUE-layout directory for --task (default: ../shared/data/mrpc beside the checkout, the cache, or a verified download)')
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
    .addOption(new Option('--metric <name>', 'dev metric that selects checkpoint-best (default: accuracy)').choices(['accuracy', 'f1']))
    .addOption(new Option('--dtype <dtype>', 'compute type: fp32, or bf16 GEMMs with fp32 master weights (default: fp32)').choices(['fp32', 'bf16']))
    .option('--no-eval', 'skip the per-epoch dev evaluation')
    .option('--resume <dir>', 'continue an interrupted run from its checkpoint-last directory (same settings)')
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  addDataOptions(cmd).action(async (flags: FinetuneFlags) => {
    process.exitCode = await finetune(flags);
  });
}

function settingsFrom(f: FinetuneFlags): TrainSettings {
  const s: TrainSettings = { ...RECIPES[f.recipe]! };
  const posInt = (x: number) => Number.isInteger(x) && x > 0;
  const nonNegInt = (x: number) => Number.isInteger(x) && x >= 0;
  const set = <K extends keyof TrainSettings>(k: K, v: TrainSettings[K] | undefined) => { if (v !== undefined) s[k] = v; };
  set('epochs', numberFlag('epochs', f.epochs, posInt, 'a positive integer'));
  set('batchSize', numberFlag('batch-size', f.batchSize, posInt, 'a positive integer'));
  set('maxLen', numberFlag('max-len', f.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3'));
  set('lr', numberFlag('lr', f.lr, (x) => x > 0 && x < 1, 'a number in (0, 1)'));
  set('optimizer', f.optimizer);
  set('weightDecay', numberFlag('weight-decay', f.weightDecay, (x) => x >= 0 && x < 1, 'a number in [0, 1)'));
  set('adamEps', numberFlag('adam-eps', f.adamEps, (x) => x > 0 && x < 1, 'a number in (0, 1)'));
  set('warmupRatio', numberFlag('warmup-ratio', f.warmupRatio, (x) => x >= 0 && x <= 1, 'a number in [0, 1]'));
  set('schedule', f.schedule);
  set('clipNorm', numberFlag('clip-norm', f.clipNorm, (x) => x >= 0, 'a number >= 0'));
  set('gradAccum', numberFlag('grad-accum', f.gradAccum, posInt, 'a positive integer'));
  set('seed', numberFlag('seed', f.seed, (x) => nonNegInt(x) && x < 2 ** 32, 'an integer in [0, 2^32)'));
  set('logEvery', numberFlag('log-every', f.logEvery, posInt, 'a positive integer'));
  set('padding', f.padding);
  if (f.bucketing) s.bucketing = true;
  if (f.shuffle === false) s.shuffle = false;
  set('lastBatch', f.lastBatch);
  set('earlyStop', numberFlag('early-stop', f.earlyStop, nonNegInt, 'an integer >= 0'));
  set('metric', f.metric);
  set('dtype', f.dtype);
  if (f.eval === false) s.evalEachEpoch = false;
  return s;
}

interface Splits {
  train: Example[];
  dev: Example[] | null;
  test: Example[] | null;
  labels: string[];
}

async function loadSplits(f: FinetuneFlags, s: TrainSettings): Promise<Splits> {
  if (f.task) {
    if (f.train) throw new UsageError('give either --task or --train, not both');
    const dir = await locateMrpc(f.dataDir);
    const task = taskDatasets(f.task, dir);
    // The tutorial recipe trains on dev (as the GluonNLP tutorial does) and reports accuracy on it.
    const train = s.trainSplit === 'dev' ? task.dev : task.train;
    return { train, dev: task.dev, test: task.test, labels: task.labels };
  }
  if (!f.train) throw new UsageError('nothing to train on: give --task mrpc or --train FILE');
  for (const [flag, file] of [['train', f.train], ['dev', f.dev], ['test', f.test]] as const) {
    if (file && !existsSync(file)) throw new UsageError(`--${flag} ${file}: no such file`);
  }
  const train = readDataset(f.train, datasetOptions(f, true));
  const dev = f.dev ? readDataset(f.dev, datasetOptions(f, true)) : null;
  const test = f.test ? readDataset(f.test, datasetOptions(f, false)) : null;
  let labels: string[];
  if (f.labels) {
    labels = f.labels.split(',').map((l) => l.trim());
    try { checkLabels(labels); } catch (e) { throw new UsageError(`--labels: ${(e as Error).message}`); }
  } else {
    labels = labelSet(train);
  }
  if (labels.length < 2) throw new UsageError(`the training data has only the label ${JSON.stringify(labels[0])}; a classifier needs at least 2`);
  return { train, dev, test, labels };
}

async function finetune(f: FinetuneFlags): Promise<number> {
  const s = settingsFrom(f);
  if (f.threads) native.setThreads(numberFlag('threads', f.threads, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!);
  if (f.resume) recoverReplacedDir(f.resume);
  if (f.resume && !existsSync(f.resume)) throw new UsageError(`--resume ${f.resume}: no such directory`);
  const splits = await loadSplits(f, s);
  const progress = makeProgress();
  const opened = await openModel(f.resume ?? f.model, { seed: s.seed, labels: splits.labels }).catch((e: unknown) => {
    throw e instanceof LabelMismatchError ? new UsageError(e.message) : e;
  });
  for (const n of opened.notices) progress.line(`note: ${n}`);
  const { model, tokenizer } = opened;
  if (s.dtype === 'bf16') model.setComputeType('bf16');

  const t0 = performance.now();
  const train = encodeDataset(splits.train, tokenizer, splits.labels, s.maxLen);
  const dev = splits.dev ? encodeDataset(splits.dev, tokenizer, splits.labels, s.maxLen) : null;
  const test = splits.test ? encodeDataset(splits.test, tokenizer, null, s.maxLen) : null;
  progress.line(`data: ${train.length} training${dev ? `, ${dev.length} dev` : ''}${test ? `, ${test.length} test` : ''} examples, ` +
    `labels ${JSON.stringify(splits.labels)}, tokenized in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

  mkdirSync(f.out, { recursive: true });
  writeFileSync(path.join(f.out, 'settings.json'), JSON.stringify({ model: f.model, task: f.task ?? null, recipe: f.recipe, ...s }, null, 2) + '\n');
  const trainer = new Trainer(model, { train, dev, labels: splits.labels, padId: tokenizer.vocab.padId }, s,
    { dir: f.out, vocabText: opened.vocabText, doLowerCase: opened.doLowerCase }, progress);
  if (f.resume) {
    trainer.resumeFrom(f.resume);
    progress.line(`resumed from ${f.resume} at step ${trainer.trainerState.step}/${trainer.trainerState.totalSteps}`);
  }
  const p = model.config;
  progress.line(`model: ${opened.source} (${p.num_hidden_layers} layers, hidden ${p.hidden_size}, ${model.params.length} parameters); ` +
    `${trainer.trainerState.totalSteps} optimizer steps, recipe ${f.recipe}, ${native.info().threads} threads`);

  const onSignal = (sig: string) => () => trainer.requestStop(sig);
  const onInt = onSignal('SIGINT'), onTerm = onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const started = performance.now();
  let result;
  try {
    result = await trainer.run();
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (result.reason === 'interrupted') return 130;
  const wall = (performance.now() - started) / 1000;

  // Final metrics: the best checkpoint's dev scores (or, without per-epoch eval, the final model's).
  if (trainer.bestWeights) model.params.set(trainer.bestWeights);
  const evalOpts = { batchSize: s.batchSize, maxLen: s.maxLen, padId: tokenizer.vocab.padId };
  const devMetrics = dev ? (result.best ?? evaluate(model, dev, evalOpts).metrics) : null;
  const summary = {
    model: f.model, task: f.task ?? null, recipe: f.recipe, stop: result.reason, steps: result.state.step,
    wall_s: Number(wall.toFixed(1)), train_seq_per_s: Number(((s.epochs * train.length) / wall).toFixed(1)),
    dev: devMetrics, history: result.state.history,
  };
  writeFileAtomic(path.join(f.out, 'metrics.json'), JSON.stringify(summary, null, 2) + '\n');
  if (test) {
    const res = evaluate(model, test, evalOpts);
    const C = model.config.num_labels;
    let tsv = 'index\tprediction\tprob\n';
    for (let i = 0; i < test.length; i++) {
      const probs = softmaxRow(res.logits, i * C, C);
      tsv += `${i}\t${splits.labels[res.predictions[i]!]}\t${probs[res.predictions[i]!]!.toFixed(6)}\n`;
    }
    writeFileAtomic(path.join(f.out, 'predictions.tsv'), tsv);
    progress.line(`wrote ${path.join(f.out, 'predictions.tsv')} (${test.length} predictions)`);
  }
  if (devMetrics) {
    progress.line(`dev accuracy ${(100 * devMetrics.accuracy).toFixed(2)}%  F1 ${(100 * devMetrics.f1).toFixed(2)}%  ` +
      `(${devMetrics.examples} examples; ${wall.toFixed(0)} s training)`);
  }
  console.log(JSON.stringify(summary.dev ? { accuracy: summary.dev.accuracy, f1: summary.dev.f1, loss: summary.dev.loss,
    examples: summary.dev.examples, wall_s: summary.wall_s, out: f.out } : { wall_s: summary.wall_s, out: f.out }));
  return 0;
}
