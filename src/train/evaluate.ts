// Running a classifier in eval mode over a dataset: metrics (when labelled), predictions and probabilities.
import { collate, type Padding } from '../data/collate.js';
import type { EncodedExample } from '../data/types.js';
import type { BertClassifier } from '../model/bert.js';
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
 * Throws: NonFiniteError naming the first example whose logits are not finite.
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
 * let a Ctrl-C in during a long dev evaluation (and abandon it).
 */
export function* evaluateSteps(model: BertClassifier, examples: readonly EncodedExample[], o: EvalOptions): Generator<void, EvalResult> {
  const C = model.config.num_labels;
  const N = examples.length;
  const logits = new Float32Array(N * C);
  const predictions = new Int32Array(N);
  let lossSum = 0;
  let labelled = 0;
  const problem = model.problemType;
  for (let start = 0; start < N; start += o.batchSize) {
    const idx = Array.from({ length: Math.min(o.batchSize, N - start) }, (_, i) => start + i);
    const batch = collate(examples, idx, { padding: o.padding ?? 'dynamic', maxLen: o.maxLen, padId: o.padId });
    const out = model.forward(batch, { train: false, grad: false });
    // a NaN row would count as a wrong answer (or print as null): refuse, naming the example
    checkLogitRows(out, batch.size, C, (r) => (o.describe ?? ((i: number) => `example ${i + 1}`))(start + r));
    logits.set(out.subarray(0, batch.size * C), start * C);
    argmaxRows(out, batch.size, C, predictions.subarray(start, start + batch.size));
    const answered = problem === 'single_label_classification' ? batch.labels.every((l) => l >= 0) : batch.targets !== undefined;
    if (answered) {
      lossSum += model.loss(batch.labels, batch.targets) * batch.size;
      labelled += batch.size;
    }
    yield;
  }
  const gold = examples.map((e) => (problem === 'single_label_classification' ? e.label : e.target ?? -1));
  const metrics = labelled === N && N > 0
    ? scoreOutputs(logits, gold, { problemType: problem, numLabels: C, threshold: o.threshold }, lossSum / N) : null;
  return { metrics, predictions, logits };
}
