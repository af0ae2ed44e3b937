// Classification metrics: accuracy, F1 of the positive class (binary tasks such as MRPC), macro-F1.

export interface Metrics {
  accuracy: number;
  /** F1 of the positive class (label index 1) for 2-class tasks; macro-F1 otherwise */
  f1: number;
  macro_f1: number;
  loss: number;
  examples: number;
}

/** Per-class F1 from predicted and gold label indices. */
export function f1PerClass(pred: ArrayLike<number>, gold: ArrayLike<number>, numClasses: number): number[] {
  const tp = new Array<number>(numClasses).fill(0);
  const fp = new Array<number>(numClasses).fill(0);
  const fn = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < gold.length; i++) {
    const p = pred[i]!, g = gold[i]!;
    if (p === g) tp[g]!++;
    else { fp[p]!++; fn[g]!++; }
  }
  return tp.map((t, c) => (t === 0 ? 0 : (2 * t) / (2 * t + fp[c]! + fn[c]!)));
}

export function computeMetrics(pred: ArrayLike<number>, gold: ArrayLike<number>, numClasses: number, meanLoss: number): Metrics {
  let correct = 0;
  for (let i = 0; i < gold.length; i++) if (pred[i] === gold[i]) correct++;
  const perClass = f1PerClass(pred, gold, numClasses);
  const macro = perClass.reduce((a, b) => a + b, 0) / numClasses;
  return {
    accuracy: gold.length ? correct / gold.length : 0,
    f1: numClasses === 2 ? perClass[1]! : macro,
    macro_f1: macro,
    loss: meanLoss,
    examples: gold.length,
  };
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
