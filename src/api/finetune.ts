// finetune(): the whole fine-tuning job behind `bertfit finetune` — settings, data splits, model, training loop,
// restoring the best weights, final evaluation, metrics.json and predictions.tsv — as one typed call.
//
// Under an MPI launcher (`mpirun -np N bertfit finetune ...`) the same call trains data-parallel: every rank reads
// and encodes the data, rank 0's weights (and resumed state) are broadcast, each rank trains on its shard of every
// global batch (src/train/trainer.ts), evaluation is sharded, and rank 0 alone prints and writes the outputs.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type SkipReason, readDataset } from '../data/dataset.js';
import { encodeDataset } from '../data/encode.js';
import type { DataLocation } from '../data/errors.js';
import { checkLabels, labelSet } from '../data/labels.js';
import { locateTask } from '../data/glue-locate.js';
import { exampleIds, submissionFileName, writeSubmission } from '../data/submission.js';
import { TASK_NAMES, taskDatasets } from '../data/tasks.js';
import type { EncodedExample, Example } from '../data/types.js';
import { OptionError, UsageError } from '../errors.js';
import { LabelMismatchError, openModel } from '../model/open.js';
import { native } from '../native/index.js';
import { evaluate } from '../train/evaluate.js';
import { applyFunction } from './classifier.js';
import { METRIC_NAMES, formatMetrics, type Metrics } from '../train/metrics.js';
import { PROBLEM_TYPES, type ProblemType } from '../model/config.js';
import type { ProgressSink } from '../train/progress.js';
import { RECIPES, recipeFor, SMALL_MODEL_HIDDEN, type TrainSettings } from '../train/recipes.js';
import { type StopReason, Trainer, type TrainerState } from '../train/trainer.js';
import { sumOverRanks } from '../parallel/agree.js';
import { checkLaunch, type Comm, worldComm } from '../parallel/comm.js';
import { DataParallel } from '../parallel/data-parallel.js';
import { launchedWorld } from '../parallel/launch.js';
import { abortJob, defaultThreadsPerRank, describeJob, runFingerprints } from './finetune-parallel.js';
import { readableDir, recoverReplacedDir, tidyLockedDir, writeFileAtomic } from '../util/atomic.js';
import { withFileErrors } from '../util/fs-errors.js';
import { acquireRunLock } from '../util/run-lock.js';
import { checkMaxLen, checkPairs, checkVocab } from '../train/fit-check.js';
import { checkMemory } from '../train/memory.js';
import { type DataFileOptions, datasetOptions } from './data.js';
import { DTYPES, applyThreads, checkChoice, checkNumber, isNonNegativeInt, isPositiveInt } from './options.js';

/** The settings a recipe fixes; each overrides the recipe when given (the CLI flag of `batchSize` is --batch-size). */
export interface TrainingOptions {
  epochs?: number;
  batchSize?: number;
  /** max tokens per example incl. [CLS]/[SEP] */
  maxLen?: number;
  lr?: number;
  optimizer?: 'adam' | 'adamw';
  weightDecay?: number;
  adamEps?: number;
  warmupRatio?: number;
  schedule?: 'constant' | 'linear';
  /** global gradient-norm clip; 0 = off */
  clipNorm?: number;
  gradAccum?: number;
  seed?: number;
  logEvery?: number;
  padding?: 'fixed' | 'dynamic';
  bucketing?: boolean;
  /** reshuffle every epoch (false keeps file order) */
  shuffle?: boolean;
  lastBatch?: 'keep' | 'discard' | 'rollover';
  /** stop after N dev evaluations without improvement; 0 = off */
  earlyStop?: number;
  /**
   * dev metric that selects checkpoint-best (higher is better): accuracy, f1, macro_f1, mcc (classification);
   * pearson, spearman (regression); micro_f1, macro_f1, exact_match (multi-label). Default: the task's main metric,
   * else the first of these for the problem type.
   */
  metric?: string;
  /** multi-label: predict a label when its sigmoid is >= threshold (default 0.5) */
  threshold?: number;
  dtype?: 'fp32' | 'bf16';
  /** evaluate on dev after every epoch (default true; --no-eval) */
  eval?: boolean;
  /**
   * skip up to N optimizer steps whose loss or gradient norm is NaN/Inf, without updating the weights (as
   * mixed-precision trainers skip overflowing steps); default 0: training stops at the first, naming the step
   */
  skipNonfinite?: number;
}

/**
 * One line of log.jsonl: a training log step ({type: 'train', step, loss, lr, ...}), an evaluation ({type: 'eval', ...}),
 * or a step skipped for a non-finite loss or gradient ({type: 'skip', step, cause}).
 */
export type TrainEvent = { type: 'train' | 'eval' | 'skip'; step: number; epoch: number } & Record<string, unknown>;

export interface FinetuneOptions extends TrainingOptions, DataFileOptions {
  /** checkpoint directory, pulled name (minilm-l6), Hugging Face id, or random:<shape> (default bert-base-uncased) */
  model?: string;
  /** settings preset (default 'default'; 'tutorial' = the GluonNLP MRPC tutorial, which trains on MRPC dev) */
  recipe?: string;
  /** a GLUE task read from dataDir (train.tsv, dev.tsv, test.tsv) */
  task?: string;
  dataDir?: string;
  /** data files instead of a task: labelled train (and dev) data, unlabelled test data */
  train?: string;
  dev?: string;
  test?: string;
  /** the label set (index = class id); default: from the training data, numeric order when numeric */
  labels?: readonly string[];
  /**
   * the head: single_label_classification (default), regression (labels are numbers; MSE), or
   * multi_label_classification (each example a list of labels; sigmoid + BCE). Default: a task's own, else
   * multi-label when the training labels are lists, else single-label.
   */
  problem?: ProblemType;
  /** multi-label TSV/CSV: the label column lists labels split by this string (JSON lines use arrays) */
  labelSep?: string;
  /** output directory (default runs/finetune) */
  out?: string;
  /** continue an interrupted run from its checkpoint-last directory */
  resume?: string;
  /** compute threads of the process */
  threads?: number;
  /** skip training/dev rows with an empty text (reported), instead of refusing the file */
  skipEmpty?: boolean;
  /** human-readable progress lines (default: none) */
  onLine?: (line: string) => void;
  /** every record written to log.jsonl, as it is written */
  onEvent?: (event: TrainEvent) => void;
  /** a progress display (the CLI's bar); replaces onLine when given */
  progress?: ProgressSink;
  /** stops training at the next step boundary; checkpoint-last is saved and the result says 'interrupted' */
  signal?: AbortSignal;
  /**
   * data parallel (under mpirun): compare the processes' parameter checksums every N optimizer steps (and after
   * every epoch); a difference stops the job. 0 = after every epoch only. Default 50.
   */
  replicaCheckEvery?: number;
}

export type SkippedRow = DataLocation & { why: SkipReason };

export interface FinetuneResult {
  /** finished, early-stop, or interrupted (by the signal; resume from outputs.checkpointLast) */
  stop: StopReason;
  steps: number;
  totalSteps: number;
  wallSeconds: number;
  trainSeqPerSecond: number;
  /** dev metrics of checkpoint-best (null without dev data, or when interrupted) */
  dev: Metrics | null;
  /** a task's further dev splits scored with checkpoint-best (MNLI: dev_mismatched) */
  moreDev: Record<string, Metrics>;
  history: TrainerState['history'];
  /** rows left out (skipEmpty; a task's broken rows), per split, with where they are and why */
  skipped: { train: SkippedRow[]; dev: SkippedRow[]; test: SkippedRow[] };
  /** data parallel: this process's rank, the process count, and the gradient all-reduce's cost (size 1 alone) */
  parallel: { rank: number; size: number; allreduceSeconds: number; allreduceBytesPerStep: number };
  outputs: {
    dir: string; checkpointBest: string; checkpointLast: string; log: string; settings: string;
    metrics: string | null; predictions: string | null;
    /** GLUE submission files of a task's test splits (CoLA.tsv, MNLI-m.tsv, ...) */
    submissions: string[];
  };
}

const enumOf = <T extends string>(xs: readonly T[]) => xs;

/**
 * The recipe's settings with the options applied, each checked (OptionError names the option and the rule).
 *
 * Args:
 *   recipe: a key of RECIPES ('default', 'tutorial'); o: overrides;
 *   hiddenSize: the model's hidden size, when known: the default recipe trains small models (hidden <= 512) with
 *     SMALL_MODEL_SETTINGS (see recipeFor).
 */
export function resolveSettings(recipe: string, o: TrainingOptions, hiddenSize?: number): TrainSettings {
  const base = recipeFor(recipe, hiddenSize);
  if (!base) throw new OptionError('recipe', `must be one of ${Object.keys(RECIPES).join(', ')}, got ${JSON.stringify(recipe)}`);
  const s: TrainSettings = base;
  const set = <K extends keyof TrainSettings>(k: K, v: TrainSettings[K] | undefined) => { if (v !== undefined) s[k] = v; };
  const posInt = 'a positive integer';
  set('epochs', checkNumber('epochs', o.epochs, isPositiveInt, posInt));
  set('batchSize', checkNumber('batchSize', o.batchSize, isPositiveInt, posInt));
  set('maxLen', checkNumber('maxLen', o.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3'));
  set('lr', checkNumber('lr', o.lr, (x) => x > 0 && x < 1, 'a number in (0, 1)'));
  set('optimizer', checkChoice('optimizer', o.optimizer, enumOf(['adam', 'adamw'])));
  set('weightDecay', checkNumber('weightDecay', o.weightDecay, (x) => x >= 0 && x < 1, 'a number in [0, 1)'));
  set('adamEps', checkNumber('adamEps', o.adamEps, (x) => x > 0 && x < 1, 'a number in (0, 1)'));
  set('warmupRatio', checkNumber('warmupRatio', o.warmupRatio, (x) => x >= 0 && x <= 1, 'a number in [0, 1]'));
  set('schedule', checkChoice('schedule', o.schedule, enumOf(['constant', 'linear'])));
  set('clipNorm', checkNumber('clipNorm', o.clipNorm, (x) => x >= 0, 'a number >= 0'));
  set('gradAccum', checkNumber('gradAccum', o.gradAccum, isPositiveInt, posInt));
  set('seed', checkNumber('seed', o.seed, (x) => isNonNegativeInt(x) && x < 2 ** 32, 'an integer in [0, 2^32)'));
  set('logEvery', checkNumber('logEvery', o.logEvery, isPositiveInt, posInt));
  set('padding', checkChoice('padding', o.padding, enumOf(['fixed', 'dynamic'])));
  set('bucketing', o.bucketing);
  set('shuffle', o.shuffle);
  set('lastBatch', checkChoice('lastBatch', o.lastBatch, enumOf(['keep', 'discard', 'rollover'])));
  set('earlyStop', checkNumber('earlyStop', o.earlyStop, isNonNegativeInt, 'an integer >= 0'));
  if (o.metric !== undefined) s.metric = o.metric;   // checked against the problem type in finetune()
  set('threshold', checkNumber('threshold', o.threshold, (x) => x > 0 && x < 1, 'a number in (0, 1)'));
  set('dtype', checkChoice('dtype', o.dtype, DTYPES));
  if (o.eval !== undefined) s.evalEachEpoch = o.eval;
  set('skipNonfinite', checkNumber('skipNonfinite', o.skipNonfinite, isNonNegativeInt, 'an integer >= 0'));
  return s;
}

interface Splits {
  train: Example[];
  dev: Example[] | null;
  test: Example[] | null;
  labels: string[];
  problem: ProblemType;
  /** a task's further dev splits (MNLI: dev_mismatched), scored once at the end */
  moreDev: Record<string, Example[]>;
  /** a task's test splits (MNLI: test_matched, test_mismatched), predicted into GLUE submission files */
  testSplits: Record<string, Example[]>;
  /** the task's main metric, the default selection metric */
  mainMetric?: string;
}

/** The task's or the files' splits and label set; the tutorial recipe trains on the task's dev split. */
async function loadSplits(
  o: FinetuneOptions, s: TrainSettings, skipped: FinetuneResult['skipped'], onNotice: (message: string) => void,
): Promise<Splits> {
  const empty = (split: keyof typeof skipped) => ({
    emptyText: o.skipEmpty ? 'skip' as const : 'error' as const, onSkip: (w: DataLocation, why: SkipReason) => { skipped[split].push({ ...w, why }); },
  });
  if (o.task) {
    if (!TASK_NAMES.includes(o.task)) throw new OptionError('task', `must be one of ${TASK_NAMES.join(', ')}, got ${JSON.stringify(o.task)}`);
    if (o.train) throw new UsageError('give either a task (--task) or a training file (--train), not both');
    const task = taskDatasets(o.task, await locateTask(o.task, o.dataDir), {
      emptyText: o.skipEmpty ? 'skip' : undefined, onSkip: (w, why) => { skipped.train.push({ ...w, why }); },
    });
    const train = s.trainSplit === 'dev' ? task.dev : task.train;
    const [, ...rest] = Object.keys(task.devSplits);
    return {
      train, dev: task.dev, test: task.test, labels: task.labels, problem: task.spec.problemType,
      moreDev: Object.fromEntries(rest.map((k) => [k, task.devSplits[k]!])), testSplits: task.testSplits, mainMetric: task.spec.mainMetric,
    };
  }
  if (!o.train) throw new UsageError('nothing to train on: give a task (--task mrpc) or a training file (--train FILE)');
  for (const [option, file] of [['train', o.train], ['dev', o.dev], ['test', o.test]] as const) {
    if (file && !existsSync(file)) throw new OptionError(option, `${file}: no such file`);
  }
  // label spellings merged ("01", "1.0" -> "1") or trimmed are reported, not silent
  const labelled = (file: string) => ({
    ...datasetOptions(o, true, 'error', file), ...(o.labelSep !== undefined ? { labelSep: o.labelSep } : {}), onNotice,
  });
  const train = readDataset(o.train, { ...labelled(o.train), ...empty('train') });
  const dev = o.dev ? readDataset(o.dev, { ...labelled(o.dev), ...empty('dev') }) : null;
  // prediction files keep every row: an empty text is a valid input ([CLS] [SEP])
  const test = o.test ? readDataset(o.test, datasetOptions(o, false, 'allow', o.test)) : null;
  const problem = o.problem ?? (train.some((e) => e.labels !== undefined) ? 'multi_label_classification' : 'single_label_classification');
  let labels: string[];
  if (o.labels) {
    labels = [...o.labels];
    try { checkLabels(labels); } catch (e) { throw new OptionError('labels', (e as Error).message.replace(/^the label list /, '')); }
  } else {
    // a regression head has one output, named as transformers names it
    labels = problem === 'regression' ? ['LABEL_0'] : labelSet(train);
  }
  if (problem === 'regression' && labels.length !== 1) throw new OptionError('labels', `must name one output for regression, got ${labels.length}`);
  if (problem === 'single_label_classification' && labels.length < 2) {
    throw new UsageError(`the training data has only the label ${JSON.stringify(labels[0])}; a classifier needs at least 2`);
  }
  return { train, dev, test, labels, problem, moreDev: {}, testSplits: {} };
}

/** A ProgressSink that passes lines to a callback and ignores the bar. */
function lineSink(onLine: ((line: string) => void) | undefined): ProgressSink {
  return { line: (t) => onLine?.(t), tick: () => {}, start: () => {}, stop: () => {} };
}

/**
 * Fine-tunes a classifier: the recipe's settings overridden by the options, evaluation on dev after every epoch
 * (checkpoint-best keeps the best), checkpoint-last after every epoch and on interruption.
 *
 * Returns: the dev metrics of checkpoint-best, the history and the paths of everything written to options.out:
 *   checkpoint-best/, checkpoint-last/, log.jsonl, settings.json, metrics.json, predictions.tsv (with test data).
 * Data parallel (an MPI launcher started several processes; every process makes this call with the same options):
 *   the result is the same on every rank (rank 0 wrote the files). A failure on any rank after MPI started ends every
 *   process of the job (MPI_Abort) with a message naming the rank; before that, it throws on the ranks it concerns.
 *
 * Throws: OptionError / UsageError for bad settings (before any work), DataError for bad data files,
 *   the checkpoint loader's errors for a bad model; DistributedError when launched as several processes with an
 *   addon built without MPI.
 */
export async function finetune(options: FinetuneOptions): Promise<FinetuneResult> {
  const o = options;
  const recipe = o.recipe ?? 'default';
  let s = resolveSettings(recipe, o);   // every option checked before any work
  const replicaCheckEvery = checkNumber('replicaCheckEvery', o.replicaCheckEvery, isNonNegativeInt, 'an integer >= 0') ?? 50;
  const modelSpec = o.model ?? 'bert-base-uncased';
  const out = o.out ?? 'runs/finetune';
  applyThreads(o.threads);
  checkChoice('problem', o.problem, PROBLEM_TYPES);
  // Several processes: only rank 0 prints and touches the output and resume directories (the launcher's rank is
  // known before MPI starts, so the preparation below stays quiet on the others too).
  const launch = launchedWorld();
  checkLaunch(launch, native.info().mpiCompiled);
  const root = !launch || launch.rank === 0;
  if (root) {
    checkOutDir(out);
    if (o.resume && !existsSync(o.resume) && readableDir(o.resume).path === o.resume) {
      throw new OptionError('resume', `${o.resume}: no such directory`);
    }
  }
  const progress = root ? o.progress ?? lineSink(o.onLine) : lineSink(undefined);
  const skipped: FinetuneResult['skipped'] = { train: [], dev: [], test: [] };
  const splits = await loadSplits(o, s, skipped, (m) => progress.line(`note: ${m}`));
  const problem = splits.problem;
  if (o.metric === undefined) s.metric = splits.mainMetric ?? METRIC_NAMES[problem][0]!;
  else if (!METRIC_NAMES[problem].includes(s.metric)) {
    throw new OptionError('metric', `must be one of ${METRIC_NAMES[problem].join(', ')} for ${problem}, got ${JSON.stringify(s.metric)}`);
  }
  for (const split of ['train', 'dev'] as const) {
    const w = skipped[split];
    if (w.length) {
      progress.line(`note: skipped ${w.length} ${split} rows (${[...new Set(w.map((x) => x.why))].join(', ')}; first: ${w[0]!.file}:${w[0]!.line})`);
    }
  }
  const prep = { recipe, settings: s, modelSpec, out, root, progress, splits, skipped, replicaCheckEvery };
  // the other ranks of a data-parallel job write nothing: rank 0 alone holds out's lock
  if (!root) return await finetuneLocked(o, prep, () => {});
  // One writer per output directory: the lock is held from the first write into out to the end of the run.
  withFileErrors(out, 'create output directory', () => mkdirSync(out, { recursive: true }));
  const lock = acquireRunLock(out, 'finetune');
  try {
    if (lock.notice) progress.line(`note: ${lock.notice}`);
    // With the lock held, leftovers of crashed runs in out are this run's to put right: interrupted checkpoint
    // saves recovered (toward the highest recorded step), temporary and old copies deleted.
    const tidy = tidyLockedDir(out);
    for (const r of tidy.recovered) progress.line(`note: ${r}`);
    if (tidy.removed.length) progress.line(`note: removed ${tidy.removed.length} leftovers of interrupted runs in ${out} (${tidy.removed.join(', ')})`);
    if (o.resume) {
      const r = recoverReplacedDir(o.resume);
      if (r) progress.line(`note: ${r}`);
      if (!existsSync(o.resume)) throw new OptionError('resume', `${o.resume}: no such directory (its save was interrupted and another run is writing there)`);
    }
    return await finetuneLocked(o, prep, () => lock.release());
  } finally {
    lock.release();
  }
}

/** `out` must be a directory or not exist yet (it is created when the run starts writing). */
function checkOutDir(out: string): void {
  let isDir: boolean | null = null;
  try { isDir = statSync(out).isDirectory(); } catch { /* does not exist yet */ }
  if (isDir === false) throw new OptionError('out', `${out} is a file, not a directory; give a directory for the run's outputs`);
}

/** What finetune() settled before the model is opened. */
interface Preparation {
  recipe: string;
  /** the settings before the model's size is known (its metric is final) */
  settings: TrainSettings;
  modelSpec: string;
  out: string;
  /** rank 0 (or alone): prints, holds out's lock and writes the outputs */
  root: boolean;
  progress: ProgressSink;
  splits: Splits;
  skipped: FinetuneResult['skipped'];
  replicaCheckEvery: number;
}

/**
 * The rest of finetune(), with out's lock held (rank 0) and the data read.
 *
 * Args: releaseLock: releases out's lock (a data-parallel failure ends the process with MPI_Abort, which runs no
 *   exit handler).
 */
async function finetuneLocked(o: FinetuneOptions, prep: Preparation, releaseLock: () => void): Promise<FinetuneResult> {
  const { recipe, modelSpec, out, root, progress, splits } = prep;
  let s = prep.settings;
  const problem = splits.problem;
  // The other ranks take the weights and the resumed state from rank 0; they open the resume directory where they
  // see it (one machine, a shared file system), else the model it was trained from (--model).
  // Another run's checkpoint is only read: an interrupted save there is read from beside it, never renamed.
  const readable: { path: string; notice?: string } = o.resume && (root || existsSync(o.resume)) ? { path: o.resume } : readableDir(modelSpec);
  if (readable.notice) progress.line(`note: ${readable.notice}`);
  const opened = await openModel(readable.path, { seed: s.seed, labels: splits.labels, problemType: problem }).catch((e: unknown) => {
    throw e instanceof LabelMismatchError ? new UsageError(e.message) : e;
  });
  for (const n of opened.notices) progress.line(`note: ${n}`);
  const { model, tokenizer } = opened;
  // the recipe as it applies to this model's size (the default recipe trains small models harder); same options
  s = { ...resolveSettings(recipe, o, model.config.hidden_size), metric: s.metric };
  const smallModel = recipe === 'default' && model.config.hidden_size <= SMALL_MODEL_HIDDEN;
  // what the model cannot take fails now, not mid-epoch with a native error
  checkMaxLen(model.config, s.maxLen);
  checkVocab(model.config, tokenizer, opened.source);
  for (const [what, rows] of [['train', splits.train], ['dev', splits.dev], ['test', splits.test],
    ...Object.entries(splits.moreDev), ...Object.entries(splits.testSplits)] as Array<[string, Example[] | null]>) {
    checkPairs(model.config, opened.source, rows, what);
  }
  if (s.dtype === 'bf16') model.setComputeType('bf16');

  const t0 = performance.now();
  const train = encodeDataset(splits.train, tokenizer, splits.labels, s.maxLen, problem);
  const dev = splits.dev ? encodeDataset(splits.dev, tokenizer, splits.labels, s.maxLen, problem) : null;
  const test = splits.test ? encodeDataset(splits.test, tokenizer, null, s.maxLen, problem) : null;
  progress.line(`data: ${train.length} training${dev ? `, ${dev.length} dev` : ''}${test ? `, ${test.length} test` : ''} examples, ` +
    `labels ${JSON.stringify(splits.labels)}, tokenized in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

  // the longest batch training can build: memory for it must be there before the first step
  const longest = train.reduce((m, e) => Math.max(m, e.inputIds.length), 1);
  const seqLen = s.padding === 'fixed' ? s.maxLen : Math.min(s.maxLen, Math.ceil(longest / 8) * 8);
  checkMemory(`training ${opened.source}`, model.config, { batchSize: s.batchSize, seqLen, training: true, bf16: s.dtype === 'bf16' });

  // MPI starts here, after each rank's own preparation: a rank that fails above exits with its own message and
  // mpirun ends the job; from here on a failure must stop every rank (abortJob), which may wait in a collective.
  const comm = worldComm();
  const { settings: _unresolved, ...shared } = prep;
  const prepared: Prepared = { ...shared, o, s, opened, smallModel, train, dev, test };
  try {
    return await trainAndReport(prepared, comm);
  } catch (e) {
    if (comm.size > 1) {
      releaseLock();
      abortJob(comm, e, out);
    }
    throw e;
  }
}

/** Everything finetune() prepared on this rank before MPI started. */
interface Prepared extends Omit<Preparation, 'settings'> {
  o: FinetuneOptions;
  /** the settings resolved for the opened model (Preparation's, with the small-model default applied) */
  s: TrainSettings;
  opened: Awaited<ReturnType<typeof openModel>>;
  smallModel: boolean;
  train: EncodedExample[];
  dev: EncodedExample[] | null;
  test: EncodedExample[] | null;
}

/** finetune() from the training loop on: trains (data parallel with comm), evaluates, writes the outputs. */
async function trainAndReport(p: Prepared, comm: Comm): Promise<FinetuneResult> {
  const { o, s, recipe, modelSpec, out, root, progress, skipped, splits, opened, smallModel, train, dev, test } = p;
  const { model, tokenizer } = opened;
  const problem = splits.problem;
  const dp = new DataParallel(comm);
  const threads = defaultThreadsPerRank(comm, o.threads);
  if (threads !== null) native.setThreads(threads);
  dp.checkSameRun(runFingerprints(s, splits.labels, model, { train, dev, test }));

  const outputs: FinetuneResult['outputs'] = {
    dir: out, checkpointBest: path.join(out, 'checkpoint-best'), checkpointLast: path.join(out, 'checkpoint-last'),
    log: path.join(out, 'log.jsonl'), settings: path.join(out, 'settings.json'), metrics: null, predictions: null, submissions: [],
  };
  if (root) writeFileAtomic(outputs.settings, JSON.stringify({ model: modelSpec, task: o.task ?? null, recipe, ...s }, null, 2) + '\n');
  const trainer = new Trainer(model, {
    train, dev, labels: splits.labels, padId: tokenizer.vocab.padId, describeDev: (i) => rowName(splits.dev?.[i], 'dev', i),
  }, s,
    { dir: out, vocabText: opened.vocabText, doLowerCase: opened.doLowerCase, onRecord: o.onEvent as ((r: Record<string, unknown>) => void) | undefined },
    progress, dp, p.replicaCheckEvery);
  if (o.resume && root) trainer.resumeFrom(o.resume);
  trainer.shareFromRoot();
  if (o.resume) progress.line(`resumed from ${o.resume} at step ${trainer.trainerState.step}/${trainer.trainerState.totalSteps}`);
  const cfg = model.config;
  progress.line(`model: ${opened.source} (${cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size}, ${model.params.length} parameters); ` +
    `${trainer.trainerState.totalSteps} optimizer steps, recipe ${recipe}${smallModel ? ` (small model: lr ${s.lr}, ${s.epochs} epochs)` : ''}, ` +
    `${native.info().threads} threads`);
  if (dp.active) progress.line(describeJob(comm, sumOverRanks(comm, [comm.localRank === 0 ? 1 : 0])[0]!, s.batchSize, model.params.length));

  const onAbort = () => trainer.requestStop(abortReason(o.signal));
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);
  const started = performance.now();
  let result;
  try {
    result = await trainer.run();
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  const wall = (performance.now() - started) / 1000;
  const cs = trainer.commStats;
  const summary: FinetuneResult = {
    stop: result.reason, steps: result.state.step, totalSteps: result.state.totalSteps, wallSeconds: Number(wall.toFixed(1)),
    trainSeqPerSecond: Number(((s.epochs * train.length) / wall).toFixed(1)), dev: null, moreDev: {}, history: result.state.history,
    skipped, outputs, parallel: {
      rank: comm.rank, size: comm.size, allreduceSeconds: cs.gradSeconds,
      allreduceBytesPerStep: cs.gradReductions > 0 ? cs.gradBytes / cs.gradReductions : 0,
    },
  };
  if (result.reason === 'interrupted') return summary;

  // Final metrics: the best checkpoint's dev scores (or, without per-epoch eval, the final model's).
  if (trainer.bestWeights) model.params.set(trainer.bestWeights);
  // sharded over the ranks like the per-epoch evaluation; every rank gets all outputs, rank 0 writes them
  const evalOpts = { batchSize: s.batchSize, maxLen: s.maxLen, padId: tokenizer.vocab.padId, threshold: s.threshold, comm };
  /** evaluation options that name example i of `rows` (file:line) in an error */
  const naming = (rows: readonly Example[] | null, what: string) => ({ ...evalOpts, describe: (i: number) => rowName(rows?.[i], what, i) });
  summary.dev = dev ? (result.best ? scoresOnly(result.best) : evaluate(model, dev, naming(splits.dev, 'dev')).metrics) : null;
  for (const [name, rows] of Object.entries(splits.moreDev)) {
    summary.moreDev[name] = evaluate(model, encodeDataset(rows, tokenizer, splits.labels, s.maxLen, problem), naming(rows, name)).metrics!;
    progress.line(`${name}: ${formatMetrics(summary.moreDev[name]!)}`);
  }
  outputs.metrics = path.join(out, 'metrics.json');
  if (root) writeFileAtomic(outputs.metrics, JSON.stringify({
    model: modelSpec, task: o.task ?? null, recipe, metric: s.metric, stop: summary.stop, steps: summary.steps, wall_s: summary.wallSeconds,
    train_seq_per_s: summary.trainSeqPerSecond, dev: summary.dev, ...(o.task ? { more_dev: summary.moreDev } : {}), history: summary.history,
  }, null, 2) + '\n');
  const predictOn = (rows: readonly EncodedExample[], source: readonly Example[] | null, what: string) =>
    outputRows(evaluate(model, rows, naming(source, what)).logits, rows.length, splits.labels, problem, s.threshold);
  // a task's first test split is `test` itself: predicted once, for predictions.tsv and its submission file
  const testRows = test ? predictOn(test, splits.test, 'test') : null;
  if (test && testRows) {
    outputs.predictions = path.join(out, 'predictions.tsv');
    if (root) writeFileAtomic(outputs.predictions, predictionsTsv(testRows));
    progress.line(`wrote ${outputs.predictions} (${test.length} predictions)`);
  }
  if (o.task) {
    for (const [split, rows] of Object.entries(splits.testSplits)) {
      const first = split === Object.keys(splits.testSplits)[0] && testRows !== null;
      const preds = (first ? testRows! : predictOn(encodeDataset(rows, tokenizer, null, s.maxLen, problem), rows, split)).map((r) => r.value);
      const file = root ? writeSubmission(out, o.task, split, exampleIds(rows), preds) : path.join(out, submissionFileName(o.task, split));
      outputs.submissions.push(file);
      progress.line(`wrote ${file} (GLUE submission, ${rows.length} rows)`);
    }
  }
  if (summary.dev) {
    const d = summary.dev;
    const shown = problem === 'single_label_classification' ? `dev accuracy ${(100 * d.accuracy!).toFixed(2)}%  F1 ${(100 * d.f1!).toFixed(2)}%  MCC ${d.mcc!.toFixed(4)}`
      : `dev ${formatMetrics(d)}`;
    progress.line(`${shown}  (${d.examples} examples; ${wall.toFixed(0)} s training)`);
  }
  return summary;
}

/** An example for an error message: its file and line when known. */
function rowName(row: Example | undefined, what: string, i: number): string {
  return row?.source ? `${row.source}:${row.line}` : `${what} example ${i + 1}`;
}

function abortReason(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  if (typeof r === 'string') return r;
  if (r instanceof Error && r.name !== 'AbortError') return r.message;
  return 'aborted';
}

interface OutputRow {
  /** class index (single-label), value (regression), or the predicted labels joined by "|" (multi-label) */
  value: number | string;
  /** the predicted label names (regression: the value) */
  prediction: string;
  /** probability of the predicted class, or of each label (multi-label) */
  prob: string;
}

/** What a model predicts for each of n examples, in the form the output files take. */
function outputRows(logits: Float32Array, n: number, labels: readonly string[], problem: ProblemType, threshold: number): OutputRow[] {
  const C = labels.length;
  return Array.from({ length: n }, (_, i) => {
    const row = Array.from(logits.subarray(i * C, (i + 1) * C));
    if (problem === 'regression') return { value: row[0]!, prediction: row[0]!.toFixed(6), prob: '' };
    if (problem === 'multi_label_classification') {
      const probs = applyFunction(row, 'sigmoid');
      const chosen = labels.filter((_, c) => probs[c]! >= threshold).join('|');
      return { value: chosen, prediction: chosen, prob: probs.map((p) => p.toFixed(6)).join(',') };
    }
    const probs = applyFunction(row, 'softmax');
    const best = probs.indexOf(Math.max(...probs));
    return { value: best, prediction: labels[best]!, prob: probs[best]!.toFixed(6) };
  });
}

/** predictions.tsv: index, prediction, and its probability (multi-label: each label's, comma-separated). */
function predictionsTsv(rows: readonly OutputRow[]): string {
  return 'index\tprediction\tprob\n' + rows.map((r, i) => `${i}\t${r.prediction}\t${r.prob}\n`).join('');
}

/** A history entry's dev scores without its bookkeeping (epoch, step, the epoch's training loss and accuracy). */
function scoresOnly(entry: Metrics): Metrics {
  const { epoch: _e, step: _s, train_loss: _l, train_accuracy: _a, ...scores } = entry;
  return scores as Metrics;
}
