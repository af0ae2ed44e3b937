// The fine-tuning loop: batches -> forward/backward -> clip -> Adam(W) with a schedule, logging, evaluation on dev,
// checkpoint-best / checkpoint-last, and exact resume.
//
// Determinism: the batch order is a function of the seed (BatchSampler), the dropout masks of (seed, micro-step),
// and the native kernels are deterministic for a thread count, so an interrupted run resumed from checkpoint-last
// ends with the same weights as an uninterrupted one.
//
// Data parallel (src/parallel/, several processes under mpirun): every rank walks the same global batches, runs its
// contiguous shard of each (dropout masks keyed by global row), and the gradients are summed over the ranks before
// clipping and the optimizer, so every rank applies the same update to the same weights (checked by a checksum
// every few steps). The global batch, order, masks and update are those of a single process: the result equals a
// one-process run up to the order of the floating-point sums. Rank 0 alone logs and writes checkpoints; evaluation
// is sharded over the ranks and its logits all-reduced, so every rank knows the metrics (and the best epoch).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { native } from '../native/index.js';
import { collate, sliceBatch } from '../data/collate.js';
import { BatchSampler, type SamplerState } from '../data/sampler.js';
import type { EncodedExample } from '../data/types.js';
import { shareText } from '../parallel/agree.js';
import { DataParallel } from '../parallel/data-parallel.js';
import type { BertClassifier } from '../model/bert.js';
import { encodeSafetensors, parseSafetensors } from '../model/checkpoint/safetensors.js';
import { loadCheckpoint } from '../model/checkpoint/index.js';
import { loadIntoParams } from '../model/classifier.js';
import { writeFileAtomic } from '../util/atomic.js';
import { evaluate } from './evaluate.js';
import { argmaxRows, formatMetrics, type Metrics } from './metrics.js';
import { Adam } from './optimizer.js';
import { JsonlLog, type ProgressSink } from './progress.js';
import type { TrainSettings } from './recipes.js';
import { learningRate } from './schedule.js';

export interface TrainData {
  train: EncodedExample[];
  dev: EncodedExample[] | null;
  labels: string[];
  padId: number;
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

export class Trainer {
  private readonly sampler: BatchSampler;
  private readonly adam: Adam;
  private state: TrainerState;
  private stopRequested: string | null = null;
  /** data parallel: a stop every rank agreed on (a request on any rank), at the last step's end */
  private stopAgreed = false;
  private resumed = false;
  private bestParams: Float32Array | null = null;

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
      best: null, evalsWithoutImprovement: 0, history: [], done: false,
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

  /** Ask the loop to stop after the current optimizer step and save checkpoint-last (SIGINT / SIGTERM). */
  requestStop(why: string): void {
    this.stopRequested = why;
  }

  /** Restores weights, optimizer and loop position from a checkpoint-last directory. */
  resumeFrom(dir: string): void {
    const stateFile = path.join(dir, STATE_FILE);
    if (!existsSync(stateFile)) throw new Error(`--resume ${dir}: no ${STATE_FILE} there (is it a checkpoint-last directory?)`);
    const st = JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerState;
    if (st.version !== 1) throw new Error(`${stateFile}: unknown trainer state version ${String(st.version)}`);
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
    const opt = parseSafetensors(readFileSync(path.join(dir, OPT_FILE)), path.join(dir, OPT_FILE));
    const m = opt.tensors.get('exp_avg'), v = opt.tensors.get('exp_avg_sq');
    if (!m || !v) throw new Error(`${path.join(dir, OPT_FILE)}: exp_avg / exp_avg_sq missing`);
    this.adam.restore({ step: st.step, m: m.toFloat32(), v: v.toFloat32() });
    // the best epoch may lie before the interruption: its weights are checkpoint-best's, needed for the final outputs
    if (st.best) {
      const best = loadCheckpoint(path.join(path.dirname(path.resolve(dir)), 'checkpoint-best'));
      this.bestParams = new Float32Array(this.model.params.length);
      loadIntoParams(this.model.layout, this.bestParams, best, this.s.seed);
    }
    this.adopt(st);
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
    this.adam.restore({ step: st.step, m: this.adam.m, v: this.adam.v });
    this.adopt(st);
  }

  get trainerState(): TrainerState {
    return this.state;
  }

  /** Trains to the end (or early stop / stop request). Yields to the event loop after every step so SIGINT lands. */
  async run(): Promise<TrainResult> {
    const s = this.s;
    const st = this.state;
    const dp = this.parallel;
    const log = dp.isRoot ? new JsonlLog(path.join(this.out.dir, 'log.jsonl'), st.step > 0, this.out.onRecord) : null;
    const C = this.model.config.num_labels;
    // running accuracy is a classification statistic; regression / multi-label runs log the loss only
    const classes = this.model.problemType === 'single_label_classification';
    // transformers' TrainingArguments.get_warmup_steps rounds up
    const warmupSteps = Math.ceil(s.warmupRatio * st.totalSteps);
    const sched = { baseLr: s.lr, kind: s.schedule, warmupSteps, totalSteps: st.totalSteps };
    const collateOpts = { padding: s.padding, maxLen: s.maxLen, padId: this.data.padId };
    const predBuf = new Int32Array(s.batchSize);
    let reason: StopReason = 'finished';
    this.progress.start(st.totalSteps, st.step);
    let t0 = performance.now();
    let commAtLog = dp.stats.gradSeconds, stepAtLog = st.step;
    // data parallel: the stop decision every rank takes together (a request on any rank stops all)
    const stopping = () => (dp.active ? this.stopAgreed : this.stopRequested !== null);
    try {
      while (this.sampler.epoch < s.epochs && !st.done) {
        const epoch = this.sampler.epoch;
        const batches = this.sampler.epochBatches();
        const nBatches = batches.length;
        let accumulated = 0;
        for (let b = st.batchInEpoch; b < nBatches; b++) {
          // the global batch; a rank trains on its rows of it (same padded width, so the same per-row results)
          const batch = collate(this.data.train, batches[b] as number[], collateOpts);
          if (accumulated === 0) this.model.zeroGrad();
          const { start, end } = dp.rows(batch.size);
          let shardLoss = 0, shardCorrect = 0;
          if (end > start) {
            const shard = dp.active ? sliceBatch(batch, start, end) : batch;
            const logits = this.model.forward(shard, {
              train: true, seed: s.seed, step: st.microStep, rows: dp.active ? { start, total: batch.size } : undefined,
            });
            shardLoss = this.model.loss(shard.labels, shard.targets);
            this.model.backward(DataParallel.lossScale(shard.size, batch.size, s.gradAccum));
            if (classes) {
              const pred = argmaxRows(logits, shard.size, C, predBuf);
              for (let i = 0; i < shard.size; i++) if (pred[i] === shard.labels[i]) shardCorrect++;
            }
          }
          const { loss, correct } = dp.batchTotals(shardLoss, end - start, batch.size, shardCorrect);
          st.microStep++;
          accumulated++;
          const r = st.running;
          r.lossSum += loss * batch.size;
          r.windowLoss += loss;
          r.windowBatches++;
          r.windowSeqs += batch.size;
          r.seen += batch.size;
          r.correct += correct;
          if (accumulated < s.gradAccum && b + 1 < nBatches) continue;
          // optimizer step (a partial accumulation at the epoch's end still steps, with what it has)
          accumulated = 0;
          dp.reduceGradients(this.model.grads);
          const gradNorm = s.clipNorm > 0 ? native.clipByGlobalNorm(this.model.grads, s.clipNorm) : native.globalNorm(this.model.grads);
          const lr = learningRate(st.step, sched);
          this.adam.update(lr);
          st.step++;
          st.batchInEpoch = b + 1;
          if (this.replicaCheckEvery > 0 && st.step % this.replicaCheckEvery === 0) dp.checkReplicas(this.model.params, st.step);
          // GluonNLP's tutorial logs every N batches of the epoch; otherwise every N steps and at each epoch's end.
          const due = s.logStyle === 'tutorial' ? (b + 1) % s.logEvery === 0 : st.step % s.logEvery === 0 || b + 1 === nBatches;
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
              ? `[Epoch ${epoch + 1} Batch ${b + 1}/${nBatches}] loss=${meanLoss.toFixed(4)}, lr=${lr.toFixed(7)}${accText}`
              : `epoch ${epoch + 1} batch ${b + 1}/${nBatches} step ${st.step}/${st.totalSteps} loss ${meanLoss.toFixed(4)} ` +
                `lr ${lr.toExponential(3)} grad_norm ${gradNorm.toFixed(3)}${accText} ${seqPerSec.toFixed(1)} seq/s${commText}`);
            log?.write({ type: 'train', epoch: epoch + 1, batch: b + 1, step: st.step, loss: meanLoss, lr, grad_norm: gradNorm,
              ...(acc === undefined ? {} : { acc }), seq_per_s: seqPerSec, ...(commMs === undefined ? {} : { allreduce_ms: commMs }) });
            this.progress.tick(st.step, { loss: meanLoss, seqPerSec });
            r.windowLoss = 0; r.windowBatches = 0; r.windowSeqs = 0;
          }
          await yieldToEventLoop();
          if (dp.active) this.stopAgreed = dp.anyRank(this.stopRequested !== null);
          if (stopping()) {
            this.saveLast();
            this.progress.line(`${this.stopReason()}: saved ${path.join(this.out.dir, 'checkpoint-last')} at step ${st.step}; continue with --resume`);
            reason = 'interrupted';
            return { reason, state: st, best: this.bestMetrics() };
          }
        }
        // end of epoch
        this.sampler.nextEpoch();
        st.epochStart = this.sampler.state();
        st.batchInEpoch = 0;
        const ended = st.running;
        const train = ended.seen === 0 ? {}
          : classes ? { train_loss: ended.lossSum / ended.seen, train_accuracy: ended.correct / ended.seen } : { train_loss: ended.lossSum / ended.seen };
        st.running = freshStats();
        dp.checkReplicas(this.model.params, st.step);
        if (s.evalEachEpoch && this.data.dev) {
          const stop = this.evalAndKeepBest(epoch + 1, log, train);
          if (stop) { reason = 'early-stop'; st.done = true; }
        }
        if (this.sampler.epoch >= s.epochs) st.done = true;
        this.saveLast();
        if (stopping() && !st.done) {
          this.progress.line(`${this.stopReason()}: saved ${path.join(this.out.dir, 'checkpoint-last')} at step ${st.step}; continue with --resume`);
          return { reason: 'interrupted', state: st, best: this.bestMetrics() };
        }
      }
      if ((!s.evalEachEpoch || !this.data.dev) && dp.isRoot) {
        // no per-epoch selection: the final weights are the best we have
        this.model.save(path.join(this.out.dir, 'checkpoint-best'), this.out.vocabText, this.out.doLowerCase);
      }
      return { reason, state: st, best: this.bestMetrics() };
    } finally {
      this.progress.stop();
      log?.close();
    }
  }

  /** Why the loop stops early: this process's signal, or (data parallel) another rank's. */
  private stopReason(): string {
    return this.stopRequested ?? 'stop requested on another rank';
  }

  /** What the gradient all-reduces cost so far (zeros alone). */
  get commStats(): DataParallel['stats'] {
    return this.parallel.stats;
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

  /** Evaluates on dev, logs, saves checkpoint-best when the metric improves; returns true when early stopping fires. */
  private evalAndKeepBest(epoch: number, log: JsonlLog | null, train: { train_loss?: number; train_accuracy?: number }): boolean {
    const st = this.state;
    // sharded over the ranks: every rank gets every logit, so all agree on the metrics and the best epoch
    const res = evaluate(this.model, this.data.dev!, {
      batchSize: this.s.batchSize, maxLen: this.s.maxLen, padId: this.data.padId, threshold: this.s.threshold, comm: this.parallel.comm,
    });
    const m = res.metrics!;
    st.history.push({ ...m, epoch, step: st.step, ...train });
    const value = m[this.s.metric];
    if (value === undefined) throw new Error(`the dev metrics have no ${this.s.metric} (they have ${Object.keys(m).join(', ')})`);
    this.progress.line(`dev after epoch ${epoch}: ${formatMetrics(m)} (${m.examples} examples)` +
      (train.train_loss !== undefined ? `; epoch train loss ${train.train_loss.toFixed(4)}` : ''));
    log?.write({ type: 'eval', epoch, step: st.step, ...m, ...train });
    if (!st.best || value > st.best.value) {
      st.best = { value, epoch, step: st.step };
      st.evalsWithoutImprovement = 0;
      if (this.parallel.isRoot) {
        this.model.save(path.join(this.out.dir, 'checkpoint-best'), this.out.vocabText, this.out.doLowerCase);
        writeFileAtomic(path.join(this.out.dir, 'checkpoint-best', 'metrics.json'), JSON.stringify({ ...m, epoch, step: st.step }, null, 2) + '\n');
      }
      this.bestParams = Float32Array.from(this.model.params);
      return false;
    }
    st.evalsWithoutImprovement++;
    return this.s.earlyStop > 0 && st.evalsWithoutImprovement >= this.s.earlyStop;
  }

  /**
   * checkpoint-last = the model + optimizer moments + trainer state, written atomically as one directory. Data
   * parallel: rank 0 writes it (every rank holds the same state), and every rank waits until it is written, so a
   * job that ends right after (a stop) never loses it to a rank's early exit.
   */
  saveLast(): void {
    const dp = this.parallel;
    if (dp.isRoot) this.writeLast();
    if (dp.active) dp.comm.barrier();
  }

  private writeLast(): void {
    const opt = encodeSafetensors([
      { name: 'exp_avg', shape: [this.adam.m.length], data: this.adam.m },
      { name: 'exp_avg_sq', shape: [this.adam.v.length], data: this.adam.v },
    ], { metadata: { format: 'bertfit-adam', step: String(this.adam.step) } });
    this.model.save(path.join(this.out.dir, 'checkpoint-last'), this.out.vocabText, this.out.doLowerCase, {
      [OPT_FILE]: opt,
      [STATE_FILE]: JSON.stringify(this.state, null, 1) + '\n',
    });
  }
}

function freshStats(): RunningStats {
  return { lossSum: 0, correct: 0, seen: 0, windowLoss: 0, windowBatches: 0, windowSeqs: 0 };
}

/** Lets pending signal handlers and I/O callbacks run between steps of the synchronous compute loop. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
