// The fine-tuning loop: batches -> forward/backward -> clip -> Adam(W) with a schedule, logging, evaluation on dev,
// checkpoint-best / checkpoint-last, and exact resume.
//
// Determinism: the batch order is a function of the seed (BatchSampler), the dropout masks of (seed, micro-step),
// and the native kernels are deterministic for a thread count, so an interrupted run resumed from checkpoint-last
// ends with the same weights as an uninterrupted one.
//
// Failures: the trainer state changes only when a step completes, so at any moment it describes the last completed
// step. Every step checks its loss, its gradient norm and the updated weights for NaN/Inf (a bad loss or gradient is
// skipped with skipNonfinite, else training stops naming the step and the cause); no checkpoint is written from
// non-finite weights or moments. A stop request is seen between the layers of the step in progress, which is then
// abandoned; any other error saves checkpoint-last (the last completed step) before it propagates.
//
// Data parallel (src/parallel/, several processes under mpirun): every rank walks the same global batches, runs its
// contiguous shard of each (dropout masks keyed by global row), and the gradients are summed over the ranks before
// clipping and the optimizer, so every rank applies the same update to the same weights (checked by a checksum
// every few steps). The global batch, order, masks and update are those of a single process: the result equals a
// one-process run up to the order of the floating-point sums. Rank 0 alone logs and writes checkpoints; evaluation
// is sharded over the ranks and its logits all-reduced, so every rank knows the metrics (and the best epoch).
// Every decision that ends or changes a step is taken together: the loss checked is the global batch's (all-reduced),
// the gradient norm that of the all-reduced gradient, and whether to skip, stop on a NaN/Inf or stop on a request is
// agreed by all ranks (an all-reduce of the ranks' verdicts), so no replica skips, stops or abandons a step alone.
// A stop request is therefore not acted on inside a step: it is seen between layers and agreed at the step's end.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { native } from '../native/index.js';
import { collate, sliceBatch } from '../data/collate.js';
import { BatchSampler, type SamplerState } from '../data/sampler.js';
import type { EncodedExample } from '../data/types.js';
import type { BertClassifier } from '../model/bert.js';
import { shareText } from '../parallel/agree.js';
import { DataParallel } from '../parallel/data-parallel.js';
import { DistributedError } from '../parallel/errors.js';
import { encodeSafetensors, parseSafetensors } from '../model/checkpoint/safetensors.js';
import { loadCheckpoint } from '../model/checkpoint/index.js';
import { loadIntoParams } from '../model/classifier.js';
import { writeFileAtomic } from '../util/atomic.js';
import { withFileErrors } from '../util/fs-errors.js';
import { evaluateSteps } from './evaluate.js';
import { argmaxRows, formatMetrics, type Metrics } from './metrics.js';
import { NonFiniteError, allFinite, countNonFinite, describeValue, formatCount } from './nonfinite.js';
import { Adam } from './optimizer.js';
import { JsonlLog, type ProgressSink } from './progress.js';
import type { TrainSettings } from './recipes.js';
import { learningRate } from './schedule.js';
import { StateFileError, readTrainerState } from './state.js';

export interface TrainData {
  train: EncodedExample[];
  dev: EncodedExample[] | null;
  labels: string[];
  padId: number;
  /** names dev example i in an error (its file and line); default "dev example i+1" */
  describeDev?: (index: number) => string;
}

export interface TrainOutput {
  dir: string;
  vocabText: string;
  doLowerCase: boolean;
  /** receives every record written to log.jsonl, as it is written */
  onRecord?: (record: Record<string, unknown>) => void;
}

/** Everything beyond the weights that a resumed run needs; saved as trainer_state.json in checkpoint-last. */
export interface TrainerState {
  version: 1;
  settings: TrainSettings;
  labels: string[];
  numTrain: number;
  /** optimizer steps done */
  step: number;
  /** forward/backward passes done (dropout masks are keyed by it) */
  microStep: number;
  totalSteps: number;
  /** the sampler as it was when the current epoch started, and how many of that epoch's batches are done */
  epochStart: SamplerState;
  batchInEpoch: number;
  running: RunningStats;
  best: { value: number; epoch: number; step: number } | null;
  evalsWithoutImprovement: number;
  /** dev metrics after each epoch, with that epoch's mean training loss and accuracy (per example) */
  history: Array<Metrics & { epoch: number; step: number; train_loss?: number; train_accuracy?: number }>;
  done: boolean;
  /** optimizer steps skipped for a non-finite loss or gradient (--skip-nonfinite); they count in `step` */
  skippedSteps?: number;
}

interface RunningStats {
  lossSum: number;
  correct: number;
  seen: number;
  windowLoss: number;
  windowBatches: number;
  windowSeqs: number;
}

const OPT_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer_state.json';

export type StopReason = 'finished' | 'early-stop' | 'interrupted';

export interface TrainResult {
  reason: StopReason;
  state: TrainerState;
  best: Metrics | null;
}

/** A stop request seen inside a step: the step in progress is abandoned (the state is that of the step before). */
class StopInStep extends Error {}

/**
 * Data parallel: errors every rank threw at the same point of the loop, from a decision they took together (a
 * non-finite loss or gradient beyond --skip-nonfinite, non-finite weights, replicas that differ): after one of these
 * every rank can still take part in a collective, so checkpoint-last is saved by rank 0 with the others waiting.
 */
const agreedErrors = new WeakSet<object>();

/** Marks `e` as thrown by every rank together (see agreedErrors); returns it. */
function together<E extends Error>(e: E): E {
  agreedErrors.add(e);
  return e;
}

/** Stop requests the ranks of a data-parallel job tell each other by number (others are "stop requested on another rank"). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGUSR2'];

/** How long a step may compute without letting the event loop run (signal handlers, an AbortSignal's listeners). */
const YIELD_EVERY_MS = 50;

export class Trainer {
  private readonly sampler: BatchSampler;
  private readonly adam: Adam;
  private state: TrainerState;
  private stopRequested: string | null = null;
  /** data parallel: a stop every rank agreed on (a request on any rank), at the last step's end */
  private stopAgreed = false;
  /** data parallel: why, when this rank's own request had not arrived */
  private agreedStopReason: string | null = null;
  private resumed = false;
  private bestParams: Float32Array | null = null;
  private lastYield = 0;
  /** the optimizer is changing the weights: a failure now leaves them half-updated (nothing may be saved) */
  private updating = false;
  /** the weights are known not to be finite (nothing may be saved) */
  private poisoned = false;
  /** a checkpoint is being written: a failure now is the save's own (do not try it again) */
  private saving = false;
  /** at an epoch's end: the state as it was when its batches were done (what a failure before the save restores) */
  private epochEndState: TrainerState | null = null;

  /**
   * Args:
   *   model, data, s: what to train on what, how.
   *   out: where rank 0 writes checkpoints and log.jsonl.
   *   progress: human progress lines (give the other ranks a silent one).
   *   parallel: the ranks to train with (default: this process alone); see shareFromRoot.
   *   replicaCheckEvery: data parallel: compare the ranks' parameter checksums every N optimizer steps (and at each
   *     epoch's end); 0 = only at epoch ends.
   */
  constructor(private readonly model: BertClassifier, private readonly data: TrainData, private readonly s: TrainSettings,
    private readonly out: TrainOutput, private readonly progress: ProgressSink,
    private readonly parallel: DataParallel = new DataParallel(), private readonly replicaCheckEvery = 50) {
    if (data.train.length === 0) throw new Error('the training set is empty');
    this.sampler = new BatchSampler(data.train.length, {
      ...this.orderOptions(), bucketing: s.bucketing ? { lengths: data.train.map((e) => e.inputIds.length) } : undefined,
    });
    this.adam = new Adam(model.params, model.grads, model.tensors, {
      kind: s.optimizer, beta1: s.beta1, beta2: s.beta2, eps: s.adamEps, weightDecay: s.weightDecay,
    });
    this.state = {
      version: 1, settings: s, labels: data.labels, numTrain: data.train.length, step: 0, microStep: 0,
      totalSteps: this.countTotalSteps(), epochStart: this.sampler.state(), batchInEpoch: 0, running: freshStats(),
      best: null, evalsWithoutImprovement: 0, history: [], done: false, skippedSteps: 0,
    };
  }

  private orderOptions() {
    return { batchSize: this.s.batchSize, shuffle: this.s.shuffle, seed: this.s.seed >>> 0, lastBatch: this.s.lastBatch };
  }

  /** Optimizer steps of the whole run: batches of every epoch (rollover changes them per epoch) / grad-accum. */
  private countTotalSteps(): number {
    // bucketing regroups examples but never changes how many batches an epoch has
    const probe = new BatchSampler(this.data.train.length, this.orderOptions());
    let batches = 0;
    for (let e = 0; e < this.s.epochs; e++) {
      batches += probe.epochBatches().length;
      probe.nextEpoch();
    }
    return Math.ceil(batches / this.s.gradAccum);
  }

  /**
   * Ask the loop to stop and save checkpoint-last (SIGINT / SIGTERM). It is seen between the layers of the step in
   * progress (within about YIELD_EVERY_MS of compute), which is then abandoned: checkpoint-last holds the state after
   * the last completed step. Data parallel: the ranks finish the step in progress and agree to stop at its end (a
   * request on any rank stops all), so none abandons a step the others are computing.
   */
  requestStop(why: string): void {
    this.stopRequested = why;
  }

  /** Restores weights, optimizer and loop position from a checkpoint-last directory. */
  resumeFrom(dir: string): void {
    const stateFile = path.join(dir, STATE_FILE);
    if (!existsSync(stateFile)) throw new Error(`--resume ${dir}: no ${STATE_FILE} there (is it a checkpoint-last directory?)`);
    const st = readTrainerState(stateFile);
    if (st.numTrain !== this.data.train.length) {
      throw new Error(`--resume ${dir}: the checkpoint was trained on ${st.numTrain} examples, this run has ${this.data.train.length}`);
    }
    if (JSON.stringify(st.labels) !== JSON.stringify(this.data.labels)) {
      throw new Error(`--resume ${dir}: the checkpoint's labels ${JSON.stringify(st.labels)} differ from this run's ${JSON.stringify(this.data.labels)}`);
    }
    for (const key of ['batchSize', 'seed', 'lastBatch', 'bucketing', 'shuffle', 'gradAccum', 'epochs'] as const) {
      if (st.settings[key] !== this.s[key]) {
        throw new Error(`--resume ${dir}: ${key} was ${String(st.settings[key])} in the interrupted run, now ${String(this.s[key])}; resume with the same settings`);
      }
    }
    if (st.totalSteps !== this.state.totalSteps) {
      throw new StateFileError(`${stateFile}: field totalSteps is ${st.totalSteps}, but these settings and data make ${this.state.totalSteps} steps`);
    }
    const optFile = path.join(dir, OPT_FILE);
    const opt = parseSafetensors(withFileErrors(optFile, 'read', () => readFileSync(optFile)), optFile);
    const m = opt.tensors.get('exp_avg'), v = opt.tensors.get('exp_avg_sq');
    if (!m || !v) throw new Error(`${optFile}: exp_avg / exp_avg_sq missing`);
    // skipped steps did not update the optimizer: its bias correction counts the steps taken
    this.adam.restore({ step: st.step - (st.skippedSteps ?? 0), m: m.toFloat32(), v: v.toFloat32() });
    if (!allFinite(this.adam.m) || !allFinite(this.adam.v)) throw new NonFiniteError(`${optFile}: the optimizer moments are not finite`);
    try {
      this.adopt(st);
    } catch (e) {
      throw new StateFileError(`${stateFile}: field epochStart: ${(e as Error).message}`);
    }
    // the best epoch may lie before the interruption: its weights are checkpoint-best's, needed for the final outputs
    if (st.best) {
      const best = loadCheckpoint(path.join(path.dirname(path.resolve(dir)), 'checkpoint-best'));
      this.bestParams = new Float32Array(this.model.params.length);
      loadIntoParams(this.model.layout, this.bestParams, best, this.s.seed);
    }
  }

  /** Continues from a trainer state whose optimizer moments are already in place. */
  private adopt(st: TrainerState): void {
    this.sampler.restore(st.epochStart);
    this.state = { ...st, settings: this.s };
    this.resumed = true;
  }

  /**
   * Data parallel: makes every rank start from rank 0's starting point: its weights (pretrained or random, new heads
   * included), and when rank 0 resumed (resumeFrom; the other ranks need not see its checkpoint directory), its
   * optimizer moments, loop position and best weights. The state is process-count free (global batches, global
   * steps), so a run resumes with any number of processes. A no-op alone. Call on every rank, before run().
   */
  shareFromRoot(): void {
    const comm = this.parallel.comm;
    if (comm.size === 1) return;
    comm.broadcast(this.model.params, 0);
    const text = shareText(comm, this.resumed ? JSON.stringify(this.state) : '');
    if (text === '') return;
    comm.broadcast(this.adam.m, 0);
    comm.broadcast(this.adam.v, 0);
    const st = JSON.parse(text) as TrainerState;
    if (st.best) {
      this.bestParams ??= new Float32Array(this.model.params.length);
      comm.broadcast(this.bestParams, 0);
    }
    // skipped steps did not update the optimizer: its bias correction counts the steps taken
    this.adam.restore({ step: st.step - (st.skippedSteps ?? 0), m: this.adam.m, v: this.adam.v });
    this.adopt(st);
  }

  get trainerState(): TrainerState {
    return this.state;
  }

  /**
   * Trains to the end (or early stop / stop request). The event loop runs between the layers of a step, so a signal
   * handler can request a stop within a step.
   *
   * Throws: NonFiniteError when a step's loss or gradient norm is not finite (beyond skipNonfinite skipped steps) or
   *   an update makes the weights non-finite; any error of the loop. Before rethrowing, checkpoint-last is saved when
   *   the state is consistent and finite and this run completed a step (the message says so).
   */
  async run(): Promise<TrainResult> {
    const startStep = this.state.step;
    const log = this.parallel.isRoot ? this.openLog() : null;
    this.progress.start(this.state.totalSteps, this.state.step);
    try {
      return await this.loop(log);
    } catch (e) {
      if (this.state.step > startStep) this.saveAfterFailure(e);
      throw e;
    } finally {
      this.progress.stop();
      log?.close();
    }
  }

  private async loop(log: JsonlLog | null): Promise<TrainResult> {
    const s = this.s;
    const st = this.state;
    const C = this.model.config.num_labels;
    // running accuracy is a classification statistic; regression / multi-label runs log the loss only
    const classes = this.model.problemType === 'single_label_classification';
    // transformers' TrainingArguments.get_warmup_steps rounds up
    const warmupSteps = Math.ceil(s.warmupRatio * st.totalSteps);
    const sched = { baseLr: s.lr, kind: s.schedule, warmupSteps, totalSteps: st.totalSteps };
    const collateOpts = { padding: s.padding, maxLen: s.maxLen, padId: this.data.padId };
    const predBuf = new Int32Array(s.batchSize);
    const skipLimit = s.skipNonfinite ?? 0;
    const dp = this.parallel;
    let reason: StopReason = 'finished';
    let t0 = performance.now();
    this.lastYield = t0;
    let commAtLog = dp.stats.gradSeconds, stepAtLog = st.step;
    // data parallel: the stop decision every rank takes together (a request on any rank stops all)
    const stopping = () => (dp.active ? this.stopAgreed : this.stopRequested !== null);
    const agreeOnStop = () => { if (dp.active) this.agreeOnStop(); };
    const interrupted = (note = '', save = true): TrainResult => {
      if (save) this.saveLast();
      this.progress.line(`${this.stopReason()}: saved ${path.join(this.out.dir, 'checkpoint-last')} at step ${st.step}${note}; continue with --resume`);
      return { reason: 'interrupted', state: st, best: this.bestMetrics() };
    };
    while (this.sampler.epoch < s.epochs && !st.done) {
      const epoch = this.sampler.epoch;
      const batches = this.sampler.epochBatches();
      const nBatches = batches.length;
      // one optimizer step = gradAccum batches (the epoch's last step takes what is left); st.batchInEpoch is always
      // at a step boundary, and `st` changes only when a step completes, so a failure or stop inside a step leaves
      // it describing the previous one
      for (let b = st.batchInEpoch; b < nBatches;) {
        const end = Math.min(b + s.gradAccum, nBatches);
        const pending = { lossSum: 0, correct: 0, seen: 0, windowLoss: 0, windowBatches: 0, windowSeqs: 0 };
        let micro = st.microStep;
        let bad: string | null = null;
        try {
          this.model.zeroGrad();
          for (let k = b; k < end; k++, micro++) {
            // a non-finite loss spoils the step: the rest of its batches are passed over (their dropout step numbers
            // still advance, so the batches after this step see the masks an unskipped run would)
            if (bad !== null) continue;
            // the global batch; a rank trains on its rows of it (same padded width, so the same per-row results)
            const batch = collate(this.data.train, batches[k] as number[], collateOpts);
            const rows = dp.rows(batch.size);
            const shardRows = rows.end - rows.start;
            // a rank may get no rows (a last batch smaller than the ranks); it still takes part in the collectives
            const shard = dp.active && shardRows > 0 ? sliceBatch(batch, rows.start, rows.end) : batch;
            let shardLoss = 0, shardCorrect = 0;
            if (shardRows > 0) {
              const logits = await this.inSlices(this.model.forwardSteps(shard, {
                train: true, seed: s.seed, step: micro, rows: dp.active ? { start: rows.start, total: batch.size } : undefined,
              }));
              shardLoss = this.model.loss(shard.labels, shard.targets);
              if (classes) {
                const pred = argmaxRows(logits, shard.size, C, predBuf);
                for (let i = 0; i < shard.size; i++) if (pred[i] === shard.labels[i]) shardCorrect++;
              }
            }
            // data parallel: the global batch's mean loss, the same on every rank (a non-finite shard loss makes it
            // non-finite everywhere, so the ranks agree that the step is spoilt)
            const { loss, correct } = dp.batchTotals(shardLoss, shardRows, batch.size, shardCorrect);
            if (!Number.isFinite(loss)) {
              bad = `the loss is ${describeValue(loss)} (epoch ${epoch + 1}, batch ${k + 1}/${nBatches})`;
              continue;
            }
            if (shardRows > 0) await this.inSlices(this.model.backwardSteps(DataParallel.lossScale(shardRows, batch.size, s.gradAccum)));
            pending.lossSum += loss * batch.size;
            pending.windowLoss += loss;
            pending.windowBatches++;
            pending.windowSeqs += batch.size;
            pending.seen += batch.size;
            pending.correct += correct;
          }
        } catch (e) {
          if (e instanceof StopInStep) return interrupted(' (the step in progress was abandoned)');
          throw e;
        }
        let gradNorm = NaN;
        if (bad === null) {
          // data parallel: the norm (and the clipping) of the gradient summed over the ranks
          dp.reduceGradients(this.model.grads);
          gradNorm = s.clipNorm > 0 ? native.clipByGlobalNorm(this.model.grads, s.clipNorm) : native.globalNorm(this.model.grads);
          if (!Number.isFinite(gradNorm)) bad = `the gradient norm is ${describeValue(gradNorm)} (epoch ${epoch + 1}, batches ${b + 1}-${end}/${nBatches})`;
        }
        // data parallel: skip or stop together. The loss and gradient checked are the same on every rank already;
        // agreeing on the verdict as well means no rank can update while another skips (which would fork the replicas).
        if (dp.anyRank(bad !== null) && bad === null) {
          bad = `the gradient norm is not finite on another rank (epoch ${epoch + 1}, batches ${b + 1}-${end}/${nBatches})`;
        }
        const lr = learningRate(st.step, sched);
        const stepNo = st.step + 1;
        if (bad !== null) {
          const skipped = st.skippedSteps ?? 0;
          if (skipped >= skipLimit) {
            throw together(new NonFiniteError(`step ${stepNo}: ${bad}; training stopped` +
              (skipLimit > 0 ? ` after skipping ${skipped} such steps (the most --skip-nonfinite ${skipLimit} allows)` : ' (--skip-nonfinite N skips up to N such steps)') +
              `; lower the learning rate (${s.lr}) or check the data`));
          }
          // skipped as a mixed-precision trainer skips an overflowing step: no update, the schedule moves on
          st.skippedSteps = skipped + 1;
          st.step++;
          st.microStep = micro;
          st.batchInEpoch = end;
          this.progress.line(`step ${stepNo}: ${bad}; skipped without updating the weights (${st.skippedSteps} of at most ${skipLimit})`);
          log?.write({ type: 'skip', epoch: epoch + 1, batch: end, step: st.step, cause: bad, lr });
        } else {
          this.updating = true;
          this.adam.update(lr);
          this.updating = false;
          // data parallel: the replicas hold the same weights; the verdict is agreed all the same (all stop or none)
          const finite = allFinite(this.model.params);
          if (dp.anyRank(!finite)) {
            this.poisoned = true;
            const count = formatCount(countNonFinite(this.model.params));
            const eps32 = Math.fround(s.adamEps);
            const hint = eps32 < 1.2e-38 ? `; adamEps ${s.adamEps} is ${eps32 === 0 ? '0' : 'subnormal'} in float32, so a weight whose gradient is 0 gets 0/0`
              : `; lower the learning rate (${s.lr})`;
            throw together(new NonFiniteError(`step ${stepNo}: the optimizer update made ${count} of the ${this.model.params.length} weights non-finite ` +
              `(lr ${lr.toExponential(3)}, adamEps ${s.adamEps}, gradient norm ${gradNorm.toFixed(3)})${hint}; training stopped, nothing of this step was saved`));
          }
          st.step++;
          st.microStep = micro;
          st.batchInEpoch = end;
          if (this.replicaCheckEvery > 0 && st.step % this.replicaCheckEvery === 0) this.checkReplicas();
          const r = st.running;
          r.lossSum += pending.lossSum; r.correct += pending.correct; r.seen += pending.seen;
          r.windowLoss += pending.windowLoss; r.windowBatches += pending.windowBatches; r.windowSeqs += pending.windowSeqs;
          // GluonNLP's tutorial logs every N batches of the epoch; otherwise every N steps and at each epoch's end.
          const due = s.logStyle === 'tutorial' ? end % s.logEvery === 0 : st.step % s.logEvery === 0 || end === nBatches;
          if (r.windowBatches > 0 && due) {
            const now = performance.now();
            const seqPerSec = r.windowSeqs / ((now - t0) / 1000);
            t0 = now;
            const meanLoss = r.windowLoss / r.windowBatches;
            const acc = classes ? r.correct / r.seen : undefined;
            const accText = acc === undefined ? '' : s.logStyle === 'tutorial' ? `, acc=${acc.toFixed(3)}` : ` acc ${acc.toFixed(3)}`;
            // data parallel: mean wall time of the gradient all-reduce per optimizer step since the last line
            const commMs = dp.active ? (1000 * (dp.stats.gradSeconds - commAtLog)) / Math.max(1, st.step - stepAtLog) : undefined;
            commAtLog = dp.stats.gradSeconds; stepAtLog = st.step;
            const commText = commMs === undefined ? '' : ` allreduce ${commMs.toFixed(1)} ms`;
            this.progress.line(s.logStyle === 'tutorial'
              ? `[Epoch ${epoch + 1} Batch ${end}/${nBatches}] loss=${meanLoss.toFixed(4)}, lr=${lr.toFixed(7)}${accText}`
              : `epoch ${epoch + 1} batch ${end}/${nBatches} step ${st.step}/${st.totalSteps} loss ${meanLoss.toFixed(4)} ` +
                `lr ${lr.toExponential(3)} grad_norm ${gradNorm.toFixed(3)}${accText} ${seqPerSec.toFixed(1)} seq/s${commText}`);
            log?.write({ type: 'train', epoch: epoch + 1, batch: end, step: st.step, loss: meanLoss, lr, grad_norm: gradNorm,
              ...(acc === undefined ? {} : { acc }), seq_per_s: seqPerSec, ...(commMs === undefined ? {} : { allreduce_ms: commMs }) });
            this.progress.tick(st.step, { loss: meanLoss, seqPerSec });
            r.windowLoss = 0; r.windowBatches = 0; r.windowSeqs = 0;
          }
        }
        b = end;
        await this.yieldNow();
        agreeOnStop();
        if (stopping()) return interrupted();
      }
      // end of epoch. Until checkpoint-last is saved, a failure (evaluation, the save) restores this state, in which
      // the epoch's batches are done but its end is not: a resumed run evaluates and saves it again.
      this.epochEndState = structuredClone(st);
      this.sampler.nextEpoch();
      st.epochStart = this.sampler.state();
      st.batchInEpoch = 0;
      const ended = st.running;
      const train = ended.seen === 0 ? {}
        : classes ? { train_loss: ended.lossSum / ended.seen, train_accuracy: ended.correct / ended.seen } : { train_loss: ended.lossSum / ended.seen };
      st.running = freshStats();
      this.checkReplicas();
      if (s.evalEachEpoch && this.data.dev) {
        let stop: boolean;
        try {
          stop = await this.evalAndKeepBest(epoch + 1, log, train);
        } catch (e) {
          if (!(e instanceof StopInStep)) throw e;
          // the epoch's end is redone on resume: its batches are done, its evaluation is not
          Object.assign(st, this.epochEndState);
          this.epochEndState = null;
          return interrupted(' (the evaluation in progress was abandoned)');
        }
        if (stop) { reason = 'early-stop'; st.done = true; }
      }
      if (this.sampler.epoch >= s.epochs) st.done = true;
      this.saveLast();
      this.epochEndState = null;
      // data parallel: a request during the evaluation or the save is agreed here
      agreeOnStop();
      if (stopping() && !st.done) return interrupted('', false);
    }
    if (!s.evalEachEpoch || !this.data.dev) {
      // no per-epoch selection: the final weights are the best we have
      this.saveModel('checkpoint-best');
    }
    return { reason, state: st, best: this.bestMetrics() };
  }

  /**
   * Runs a step generator of the model to its end, letting the event loop run every YIELD_EVERY_MS so a signal can
   * request a stop. Throws StopInStep when one did (the step is abandoned; `state` still describes the last one).
   * Data parallel: never abandons (the other ranks are computing the same step and will wait for this rank's part of
   * it); the request is recorded and agreed at the step's end.
   */
  private async inSlices<T>(g: Generator<void, T>): Promise<T> {
    const alone = !this.parallel.active;
    for (;;) {
      const r = g.next();
      if (r.done) return r.value;
      if (performance.now() - this.lastYield >= YIELD_EVERY_MS) await this.yieldNow();
      if (alone && this.stopRequested) throw new StopInStep();
    }
  }

  /**
   * Data parallel: whether any rank was asked to stop (every rank calls this at the same point), and why: the signal
   * that asked, the same on every rank (mpirun forwards a signal to every process, but not at the same instant, so a
   * rank may agree to stop before its own copy of the signal arrives).
   */
  private agreeOnStop(): void {
    // 0: no request; i + 1: STOP_SIGNALS[i]; STOP_SIGNALS.length + 1: another reason
    const mine = this.stopRequested === null ? 0 : (STOP_SIGNALS.indexOf(this.stopRequested) + 1 || STOP_SIGNALS.length + 1);
    const buf = new Float64Array([mine]);
    this.parallel.comm.allreduce(buf, 'max');
    const agreed = buf[0]!;
    this.stopAgreed = agreed > 0;
    if (this.stopAgreed && this.stopRequested === null) this.agreedStopReason = STOP_SIGNALS[agreed - 1] ?? 'stop requested on another rank';
  }

  /** Why the loop stops early: this process's request, or (data parallel) the one the ranks agreed on. */
  private stopReason(): string {
    return this.stopRequested ?? this.agreedStopReason ?? 'stop requested on another rank';
  }

  /** What the gradient all-reduces cost so far (zeros alone). */
  get commStats(): DataParallel['stats'] {
    return this.parallel.stats;
  }

  /** Data parallel: throws (on every rank alike) unless the replicas' weights are bit-identical. */
  private checkReplicas(): void {
    try {
      this.parallel.checkReplicas(this.model.params, this.state.step);
    } catch (e) {
      throw e instanceof DistributedError ? together(e) : e;
    }
  }

  private async yieldNow(): Promise<void> {
    await yieldToEventLoop();
    this.lastYield = performance.now();
  }

  /**
   * log.jsonl, opened for this run. A resumed run first drops the lines after the step it resumes from (written
   * after that checkpoint was saved, by a run that then died), and a torn last line: the log keeps one line per step.
   */
  private openLog(): JsonlLog {
    const file = path.join(this.out.dir, 'log.jsonl');
    const st = this.state;
    const resumed = st.step > 0;
    if (resumed && existsSync(file)) {
      const text = withFileErrors(file, 'read', () => readFileSync(file, 'utf8'));
      const evals = new Set(st.history.map((h) => `${h.epoch}/${h.step}`));
      const kept = text.split('\n').filter((line) => {
        let rec: { type?: unknown; step?: unknown; epoch?: unknown };
        try { rec = JSON.parse(line) as typeof rec; } catch { return false; }
        if (typeof rec !== 'object' || rec === null || typeof rec.step !== 'number') return false;
        // an evaluation at the resumed step is kept only if the checkpoint has it (else the resumed run redoes it)
        return rec.type === 'eval' ? rec.step < st.step || evals.has(`${String(rec.epoch)}/${rec.step}`) : rec.step <= st.step;
      });
      writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
    }
    return new JsonlLog(file, resumed, this.out.onRecord);
  }

  private bestMetrics(): Metrics | null {
    const b = this.state.best;
    if (!b) return null;
    return this.state.history.find((h) => h.step === b.step) ?? null;
  }

  /** The weights of checkpoint-best, if this run made one in memory (else the current weights are it). */
  get bestWeights(): Float32Array | null {
    return this.bestParams;
  }

  /**
   * Evaluates on dev, logs, saves checkpoint-best when the metric improves; returns true when early stopping fires.
   * Throws StopInStep when a stop is requested during the evaluation (before anything is recorded).
   */
  private async evalAndKeepBest(epoch: number, log: JsonlLog | null, train: { train_loss?: number; train_accuracy?: number }): Promise<boolean> {
    const st = this.state;
    const dp = this.parallel;
    // a long dev evaluation lets a stop request in between its batches (StopInStep: nothing of it is kept);
    // sharded over the ranks: every rank gets every logit, so all agree on the metrics and the best epoch
    let res;
    try {
      res = await this.inSlices(evaluateSteps(this.model, this.data.dev!, {
        batchSize: this.s.batchSize, maxLen: this.s.maxLen, padId: this.data.padId, threshold: this.s.threshold,
        describe: this.data.describeDev ?? ((i) => `dev example ${i + 1}`), comm: dp.comm,
      }));
    } catch (e) {
      // data parallel: non-finite logits are found once every rank has all of them, so by every rank alike
      throw dp.active && e instanceof NonFiniteError ? together(e) : e;
    }
    const m = res.metrics!;
    const value = m[this.s.metric];
    if (value === undefined) throw together(new Error(`the dev metrics have no ${this.s.metric} (they have ${Object.keys(m).join(', ')})`));
    st.history.push({ ...m, epoch, step: st.step, ...train });
    this.progress.line(`dev after epoch ${epoch}: ${formatMetrics(m)} (${m.examples} examples)` +
      (train.train_loss !== undefined ? `; epoch train loss ${train.train_loss.toFixed(4)}` : ''));
    log?.write({ type: 'eval', epoch, step: st.step, ...m, ...train });
    if (!st.best || value > st.best.value) {
      this.saveModel('checkpoint-best');
      if (dp.isRoot) {
        writeFileAtomic(path.join(this.out.dir, 'checkpoint-best', 'metrics.json'), JSON.stringify({ ...m, epoch, step: st.step }, null, 2) + '\n');
      }
      st.best = { value, epoch, step: st.step };
      st.evalsWithoutImprovement = 0;
      this.bestParams = Float32Array.from(this.model.params);
      return false;
    }
    st.evalsWithoutImprovement++;
    return this.s.earlyStop > 0 && st.evalsWithoutImprovement >= this.s.earlyStop;
  }

  /** Refuses to write weights (or optimizer moments) that are not finite: a checkpoint never holds NaN / Inf. */
  private checkSavable(what: string, withMoments: boolean): void {
    const parts: Array<[string, Float32Array]> = [['weights', this.model.params]];
    if (withMoments) parts.push(['optimizer moments (exp_avg)', this.adam.m], ['optimizer moments (exp_avg_sq)', this.adam.v]);
    for (const [name, x] of parts) {
      if (!allFinite(x)) {
        this.poisoned = true;
        // data parallel: every rank checks its replica (the same weights and moments), so all refuse alike
        throw together(new NonFiniteError(`not saving ${what} at step ${this.state.step}: ${formatCount(countNonFinite(x))} of its ${name} are not finite`));
      }
    }
  }

  /** Saves the model as out/<name> (data parallel: rank 0 writes; every rank checks that its replica is savable). */
  private saveModel(name: string, extraFiles?: Record<string, Buffer | string>): void {
    this.checkSavable(name, extraFiles !== undefined);
    if (!this.parallel.isRoot) return;
    // stays set when the save throws: saveAfterFailure must not try the same save again
    this.saving = true;
    this.model.save(path.join(this.out.dir, name), this.out.vocabText, this.out.doLowerCase, extraFiles);
    this.saving = false;
  }

  /**
   * checkpoint-last = the model + optimizer moments + trainer state, written atomically as one directory. Data
   * parallel: rank 0 writes it (every rank holds the same state), and every rank waits until it is written, so a
   * job that ends right after (a stop) never loses it to a rank's early exit. Call on every rank.
   */
  saveLast(): void {
    this.writeLast();
    if (this.parallel.active) this.parallel.comm.barrier();
  }

  /** saveLast() without waiting for the other ranks (rank 0 writes; the others only check their replica). */
  private writeLast(): void {
    if (!this.parallel.isRoot) {
      this.checkSavable('checkpoint-last', true);
      return;
    }
    const opt = encodeSafetensors([
      { name: 'exp_avg', shape: [this.adam.m.length], data: this.adam.m },
      { name: 'exp_avg_sq', shape: [this.adam.v.length], data: this.adam.v },
    ], { metadata: { format: 'bertfit-adam', step: String(this.adam.step) } });
    this.saveModel('checkpoint-last', {
      [OPT_FILE]: opt,
      [STATE_FILE]: JSON.stringify(this.state, null, 1) + '\n',
    });
  }

  /**
   * After an error in the loop: saves checkpoint-last with the last consistent state, unless the weights are not
   * finite, an optimizer update or a save was cut short, or the state has nothing new. Says what it did; never throws
   * (the caller rethrows the original error). Data parallel: after an error every rank threw together (agreedErrors)
   * rank 0 saves and the others wait for it; after one rank's own error the others may be blocked in a collective,
   * so rank 0 saves (if it is the one that failed) without waiting for anyone.
   */
  private saveAfterFailure(e: unknown): void {
    const last = path.join(this.out.dir, 'checkpoint-last');
    const why = this.poisoned ? 'the weights are not finite' : this.updating ? 'the error interrupted an optimizer update'
      : this.saving ? 'saving was what failed' : null;
    if (why !== null) {
      this.progress.line(`not saving ${last} (${why}); it keeps its last good state`);
      return;
    }
    if (this.epochEndState) this.state = this.epochEndState;
    try {
      if (!this.parallel.active || (e instanceof Object && agreedErrors.has(e))) this.saveLast();
      else this.writeLast();
      this.progress.line(`${e instanceof Error ? e.name : 'error'}: saved ${last} at step ${this.state.step} before stopping; continue with --resume once the cause is fixed`);
    } catch (e2) {
      this.progress.line(`could not save ${last} after the error: ${(e2 as Error).message}`);
    }
  }
}

function freshStats(): RunningStats {
  return { lossSum: 0, correct: 0, seen: 0, windowLoss: 0, windowBatches: 0, windowSeqs: 0 };
}

/** Lets pending signal handlers and I/O callbacks run between steps of the synchronous compute loop. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
