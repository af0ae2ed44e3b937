// Running a classifier in eval mode over a dataset: metrics (when labelled), predictions and probabilities.
// Data parallel: the batches are dealt round-robin over the ranks and the logits summed (each row is non-zero on
// one rank only, so the sum is exact), so every rank ends with all logits and the same metrics.
import { collate, type Padding } from '../data/collate.js';
import type { EncodedExample } from '../data/types.js';
import type { BertClassifier } from '../model/bert.js';
import type { Comm } from '../parallel/comm.js';
import { ownsBatch } from '../parallel/shard.js';
import { argmaxRows, scoreOutputs, type Metrics } from './metrics.js';
import { checkLogitRows } from './nonfinite.js';

export interface EvalOptions {
  batchSize: number;
  maxLen: number;
  padId: number;
  /** default 'dynamic': eval batches only cost what their length says */
  padding?: Padding;
  /** multi-label decision threshold (default 0.5) */
  threshold?: number;
  /** names example i in an error (default "example i+1") */
  describe?: (index: number) => string;
  /** share the batches among these ranks (every rank must call evaluate with the same examples); default: alone */
  comm?: Comm;
}

export interface EvalResult {
  /** null when the examples carry no labels */
  metrics: Metrics | null;
  /** predicted class per example (argmax of the logits), input order */
  predictions: Int32Array;
  /** logits [N, C], input order */
  logits: Float32Array;
}

/**
 * Eval-mode pass over `examples` in order; loss and metrics when every example has its answer.
 *
 * Throws: NonFiniteError naming the first example whose logits are not finite (data parallel: on every rank, after
 *   the logits are gathered, so the ranks stop together).
 */
export function evaluate(model: BertClassifier, examples: readonly EncodedExample[], o: EvalOptions): EvalResult {
  const g = evaluateSteps(model, examples, o);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * evaluate() one batch at a time: the generator yields after each batch and returns the result, so the trainer can
 * let a Ctrl-C in during a long dev evaluation (and abandon it; data parallel: run it to its end, the ranks stop
 * together after it).
 */
export function* evaluateSteps(model: BertClassifier, examples: readonly EncodedExample[], o: EvalOptions): Generator<void, EvalResult> {
  const C = model.config.num_labels;
  const N = examples.length;
  const logits = new Float32Array(N * C);
  const predictions = new Int32Array(N);
  let lossSum = 0;
  let labelled = 0;
  const problem = model.problemType;
  const rank = o.comm?.rank ?? 0, size = o.comm?.size ?? 1;
  const describe = o.describe ?? ((i: number) => `example ${i + 1}`);
  for (let start = 0, index = 0; start < N; start += o.batchSize, index++) {
    if (!ownsBatch(index, rank, size)) continue;
    const idx = Array.from({ length: Math.min(o.batchSize, N - start) }, (_, i) => start + i);
    const batch = collate(examples, idx, { padding: o.padding ?? 'dynamic', maxLen: o.maxLen, padId: o.padId });
    const out = model.forward(batch, { train: false, grad: false });
    // a NaN row would count as a wrong answer (or print as null): refuse, naming the example (data parallel: below,
    // once every rank has every row, so that no rank stops alone)
    if (size === 1) checkLogitRows(out, batch.size, C, (r) => describe(start + r));
    logits.set(out.subarray(0, batch.size * C), start * C);
    const answered = problem === 'single_label_classification' ? batch.labels.every((l) => l >= 0) : batch.targets !== undefined;
    if (answered) {
      lossSum += model.loss(batch.labels, batch.targets) * batch.size;
      labelled += batch.size;
    }
    yield;
  }
  if (o.comm && size > 1) {
    o.comm.allreduce(logits, 'sum');
    const totals = new Float64Array([lossSum, labelled]);
    o.comm.allreduce(totals, 'sum');
    [lossSum, labelled] = [totals[0]!, totals[1]!];
    // a non-finite logit stays non-finite in the sum
    checkLogitRows(logits, N, C, describe);
  }
  argmaxRows(logits, N, C, predictions);
  const gold = examples.map((e) => (problem === 'single_label_classification' ? e.label : e.target ?? -1));
  const metrics = labelled === N && N > 0
    ? scoreOutputs(logits, gold, { problemType: problem, numLabels: C, threshold: o.threshold }, lossSum / N) : null;
  return { metrics, predictions, logits };
}
