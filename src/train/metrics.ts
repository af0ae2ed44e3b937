// Evaluation metrics of a model's outputs, by problem type (the functions themselves are in ./stats.ts, checked
// against scikit-learn / SciPy):
//   single-label classification: accuracy, f1 (of class 1 for two classes, else macro), macro_f1, mcc
//   regression:                  pearson, spearman, mse
//   multi-label:                 micro_f1, macro_f1, exact_match (label predicted when sigmoid >= threshold)
// plus `loss` (the training loss, mean over examples) and `examples`.
import type { ProblemType } from '../model/config.js';
import { accuracy, f1Binary, macroF1, matthews, multiLabelScores, pearson, spearman } from './stats.js';

/** Named scores of one evaluation; which names appear depends on the problem type (see METRIC_NAMES). */
export type Metrics = { loss: number; examples: number } & Record<string, number>;

/** The metrics each problem type reports (every one: higher is better), the first is the default selection metric. */
export const METRIC_NAMES: Record<ProblemType, readonly string[]> = {
  single_label_classification: ['accuracy', 'f1', 'macro_f1', 'mcc'],
  regression: ['pearson', 'spearman'],
  multi_label_classification: ['micro_f1', 'macro_f1', 'exact_match'],
};

export interface ScoreOptions {
  problemType: ProblemType;
  /** outputs per example (classes, labels, or 1) */
  numLabels: number;
  /** multi-label decision threshold on the sigmoid (default 0.5) */
  threshold?: number;
}

/**
 * Scores outputs against the gold answers.
 *
 * Args:
 *   logits: [N, C] model outputs, input order.
 *   gold: per example the class index (single-label) or its target [C] (regression: [1]; multi-label: 0/1).
 *   meanLoss: the loss over the same examples.
 */
export function scoreOutputs(logits: Float32Array, gold: ReadonlyArray<number | Float32Array>, o: ScoreOptions, meanLoss: number): Metrics {
  const N = gold.length, C = o.numLabels;
  const base = { loss: meanLoss, examples: N };
  if (o.problemType === 'single_label_classification') {
    const pred = argmaxRows(logits, N, C);
    const g = gold as readonly number[];
    const macro = macroF1(pred, g, C);
    return { accuracy: accuracy(pred, g), f1: C === 2 ? f1Binary(pred, g, 1) : macro, macro_f1: macro, mcc: matthews(pred, g, C), ...base };
  }
  const targets = new Float32Array(N * C);
  (gold as readonly Float32Array[]).forEach((t, i) => targets.set(t, i * C));
  if (o.problemType === 'regression') {
    const pred = logits.subarray(0, N * C);
    let se = 0;
    for (let i = 0; i < N * C; i++) se += (pred[i]! - targets[i]!) ** 2;
    return { pearson: pearson(pred, targets), spearman: spearman(pred, targets), mse: N ? se / (N * C) : 0, ...base };
  }
  return { ...multiLabelScores(logits.subarray(0, N * C), targets, C, o.threshold ?? 0.5, { fromLogits: true }), ...base };
}

/** argmax over each row of logits [rows, cols] */
export function argmaxRows(logits: Float32Array, rows: number, cols: number, out: Int32Array = new Int32Array(rows)): Int32Array {
  for (let r = 0; r < rows; r++) {
    let best = 0, bv = logits[r * cols]!;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c]! > bv) { bv = logits[r * cols + c]!; best = c; }
    out[r] = best;
  }
  return out;
}

/** "accuracy 0.8431 f1 0.8872 ... loss 0.4012": every score but the example count, 4 decimals. */
export function formatMetrics(m: Metrics): string {
  const names = Object.keys(m).filter((k) => k !== 'loss' && k !== 'examples');
  return [...names, 'loss'].map((k) => `${k} ${m[k]!.toFixed(4)}`).join(' ');
}
