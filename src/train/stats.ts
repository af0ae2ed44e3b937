// Evaluation metrics as pure functions over ArrayLike<number>, defined to agree with scikit-learn / SciPy
// (checked against their values in fixtures/metrics/metrics.json, made by scripts/make_metric_fixtures.py):
//
//   accuracy          sklearn.metrics.accuracy_score
//   f1Binary          sklearn.metrics.f1_score(average='binary', pos_label=positive, zero_division=0)
//   macroF1           sklearn.metrics.f1_score(average='macro', labels=range(numClasses), zero_division=0)
//   matthews          sklearn.metrics.matthews_corrcoef (general multiclass form; 0 when undefined, as sklearn)
//   pearson           scipy.stats.pearsonr(x, y).statistic, except 0 (not NaN) for constant input
//   spearman          scipy.stats.spearmanr(x, y).statistic (average ranks for ties), except 0 for constant input
//   rankAverage       scipy.stats.rankdata(x, method='average')
//   multiLabelScores  sklearn f1_score(average='micro' | 'macro', zero_division=0) and accuracy_score (subset
//                     accuracy) on multi-label indicator matrices, predictions being prob >= threshold
//
// Conventions shared by every function here:
//   - inputs of different lengths throw RangeError; so do class labels that are not integers in [0, numClasses)
//     (macroF1, matthews) and multi-label targets that are not 0/1;
//   - empty input gives 0 (sklearn warns and returns 0 or NaN depending on the metric; a metric of nothing is
//     reported as 0 here, as computeMetrics in metrics.ts always did);
//   - all arithmetic is float64; counts are exact integers in float64 (matthews squares the example count, exact
//     below ~9.4e7 examples).

/** Options of multiLabelScores. */
export interface MultiLabelOptions {
  /** the scores are logits: each is passed through the logistic sigmoid before comparing with the threshold */
  fromLogits?: boolean;
}

/** Multi-label scores, named as in the metrics JSON the trainer writes. */
export interface MultiLabelScores {
  /** F1 over all (example, label) decisions pooled: sklearn f1_score(average='micro') */
  micro_f1: number;
  /** unweighted mean over the numLabels labels of each label's F1: sklearn f1_score(average='macro') */
  macro_f1: number;
  /** fraction of examples whose whole label set is predicted exactly (subset accuracy) */
  exact_match: number;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what}: inputs differ in length (${a.length} vs ${b.length})`);
}

function checkNumClasses(numClasses: number, what: string): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`${what}: numClasses must be a positive integer, got ${numClasses}`);
}

function checkLabel(v: number, numClasses: number, what: string, i: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
    throw new RangeError(`${what}: label ${v} at index ${i} is not an integer in [0, ${numClasses})`);
  }
}

/** F1 from counts with zero_division=0: 2tp / (2tp + fp + fn), or 0 when that is 0/0. */
function f1FromCounts(tp: number, fp: number, fn: number): number {
  const den = 2 * tp + fp + fn;
  return den === 0 ? 0 : (2 * tp) / den;
}

/** Fraction of positions where pred equals gold (sklearn accuracy_score); 0 for empty input. */
export function accuracy(pred: ArrayLike<number>, gold: ArrayLike<number>): number {
  checkSameLength(pred, gold, 'accuracy');
  const n = gold.length;
  if (n === 0) return 0;
  let correct = 0;
  for (let i = 0; i < n; i++) if (pred[i] === gold[i]) correct++;
  return correct / n;
}

/**
 * F1 of the class `positive` (sklearn f1_score average='binary', zero_division=0): 2tp / (2tp + fp + fn), 0 when
 * neither pred nor gold contains `positive`. Labels other than `positive` all count as negative (sklearn would
 * refuse more than two distinct labels).
 */
export function f1Binary(pred: ArrayLike<number>, gold: ArrayLike<number>, positive = 1): number {
  checkSameLength(pred, gold, 'f1Binary');
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < gold.length; i++) {
    const p = pred[i] === positive, g = gold[i] === positive;
    if (p && g) tp++;
    else if (p) fp++;
    else if (g) fn++;
  }
  return f1FromCounts(tp, fp, fn);
}

/**
 * Unweighted mean of the per-class F1 over every class 0..numClasses-1 (sklearn f1_score average='macro',
 * labels=range(numClasses), zero_division=0): a class absent from both pred and gold contributes 0.
 */
export function macroF1(pred: ArrayLike<number>, gold: ArrayLike<number>, numClasses: number): number {
  checkSameLength(pred, gold, 'macroF1');
  checkNumClasses(numClasses, 'macroF1');
  const tp = new Float64Array(numClasses), fp = new Float64Array(numClasses), fn = new Float64Array(numClasses);
  for (let i = 0; i < gold.length; i++) {
    const p = pred[i]!, g = gold[i]!;
    checkLabel(p, numClasses, 'macroF1 pred', i);
    checkLabel(g, numClasses, 'macroF1 gold', i);
    if (p === g) tp[g]!++;
    else { fp[p]!++; fn[g]!++; }
  }
  if (gold.length === 0) return 0;
  let sum = 0;
  for (let c = 0; c < numClasses; c++) sum += f1FromCounts(tp[c]!, fp[c]!, fn[c]!);
  return sum / numClasses;
}

/**
 * Matthews correlation coefficient, general multiclass form (Gorodkin's R_K), exactly as
 * sklearn.metrics.matthews_corrcoef computes it from the confusion matrix C (t = row sums / gold counts,
 * p = column sums / predicted counts, s = total):
 *   (trace(C)·s − t·p) / sqrt((s² − p·p)(s² − t·t)),
 * and 0 when the denominator is 0 (all gold or all predictions in one class), as sklearn returns 0.0.
 * For two classes this is the familiar (tp·tn − fp·fn) / sqrt(...).
 */
export function matthews(pred: ArrayLike<number>, gold: ArrayLike<number>, numClasses: number): number {
  checkSameLength(pred, gold, 'matthews');
  checkNumClasses(numClasses, 'matthews');
  const t = new Float64Array(numClasses), p = new Float64Array(numClasses);
  let correct = 0;
  const n = gold.length;
  for (let i = 0; i < n; i++) {
    const pi = pred[i]!, gi = gold[i]!;
    checkLabel(pi, numClasses, 'matthews pred', i);
    checkLabel(gi, numClasses, 'matthews gold', i);
    t[gi]!++;
    p[pi]!++;
    if (pi === gi) correct++;
  }
  let tp = 0, pp = 0, tt = 0;
  for (let c = 0; c < numClasses; c++) { tp += t[c]! * p[c]!; pp += p[c]! * p[c]!; tt += t[c]! * t[c]!; }
  const covYtYp = correct * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  const den = covYtYt * covYpYp;
  if (den === 0) return 0;
  return covYtYp / Math.sqrt(den);
}

/** Mean by two passes: the plain mean, then corrected by the mean of the residuals (exact to rounding). */
function mean(x: ArrayLike<number>): number {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  const m = s / n;
  let r = 0;
  for (let i = 0; i < n; i++) r += x[i]! - m;
  return m + r / n;
}

function isConstant(x: ArrayLike<number>): boolean {
  const first = x[0]!;
  for (let i = 1; i < x.length; i++) if (x[i] !== first) return false;
  return true;
}

/**
 * Pearson's correlation coefficient r (scipy.stats.pearsonr(x, y).statistic), computed in float64 from centred
 * values (two-pass means), scaled against overflow and underflow, and clamped to [-1, 1].
 *
 * Differences from SciPy, on purpose: a constant x or y (including fewer than 2 points) gives 0, where SciPy
 * returns NaN with a ConstantInputWarning (or raises for n < 2) — a constant predictor carries no correlation, and
 * a NaN would poison best-checkpoint selection and JSON output. NaN in the input still gives NaN.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'pearson');
  const n = x.length;
  if (n < 2 || isConstant(x) || isConstant(y)) return 0;
  const mx = mean(x), my = mean(y);
  // Deviations are divided by the largest |deviation| (as SciPy does) so that the sums of squares can neither
  // overflow nor underflow: each scaled deviation is in [-1, 1], one of them is ±1, so 1 <= sxx, syy <= n.
  let ax = 0, ay = 0;
  for (let i = 0; i < n; i++) { ax = Math.max(ax, Math.abs(x[i]! - mx)); ay = Math.max(ay, Math.abs(y[i]! - my)); }
  if (ax === 0 || ay === 0) return 0;   // non-constant values closer together than their mean's rounding
  let sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i]! - mx) / ax, dy = (y[i]! - my) / ay;
    sxx += dx * dx; syy += dy * dy; sxy += dx * dy;
  }
  const r = sxy / Math.sqrt(sxx * syy);
  return r > 1 ? 1 : r < -1 ? -1 : r;   // NaN passes through
}

/**
 * Ranks 1..n of x with ties given the average of the ranks they span (scipy.stats.rankdata(x, method='average')):
 * rankAverage([10, 20, 20, 5]) = [2, 3.5, 3.5, 1]. If x contains NaN every rank is NaN (as SciPy >= 1.10).
 */
export function rankAverage(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; i++) if (Number.isNaN(x[i])) return ranks.fill(NaN);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && x[order[j]!] === x[order[i]!]) j++;
    const r = (i + 1 + j) / 2;   // mean of the 1-based ranks i+1..j
    for (let k = i; k < j; k++) ranks[order[k]!] = r;
    i = j;
  }
  return ranks;
}

/**
 * Spearman's rank correlation rho (scipy.stats.spearmanr(x, y).statistic): Pearson's r of the average ranks, so ties
 * are handled as SciPy does. Constant input (or fewer than 2 points) gives 0, not NaN — see pearson.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'spearman');
  if (x.length < 2 || isConstant(x) || isConstant(y)) return 0;
  return pearson(rankAverage(x), rankAverage(y));
}

/**
 * Multi-label scores for n examples × numLabels labels, both arrays flat row-major [n * numLabels]. Label j of
 * example i is predicted when its probability is >= threshold; with { fromLogits: true } the scores are logits and
 * the probability is the logistic sigmoid 1 / (1 + exp(-z)). targets must be 0/1. Matches sklearn f1_score
 * (average='micro' and 'macro', zero_division=0) and accuracy_score on the indicator matrices; macro averages over
 * all numLabels labels, a label never present nor predicted counting 0. Empty input gives zeros.
 */
export function multiLabelScores(
  probsOrLogits: ArrayLike<number>, targets: ArrayLike<number>, numLabels: number, threshold = 0.5,
  { fromLogits = false }: MultiLabelOptions = {},
): MultiLabelScores {
  checkSameLength(probsOrLogits, targets, 'multiLabelScores');
  checkNumClasses(numLabels, 'multiLabelScores');
  if (targets.length % numLabels !== 0) {
    throw new RangeError(`multiLabelScores: length ${targets.length} is not a multiple of numLabels ${numLabels}`);
  }
  const n = targets.length / numLabels;
  if (n === 0) return { micro_f1: 0, macro_f1: 0, exact_match: 0 };
  const tp = new Float64Array(numLabels), fp = new Float64Array(numLabels), fn = new Float64Array(numLabels);
  let exact = 0;
  for (let i = 0; i < n; i++) {
    let allMatch = true;
    for (let j = 0; j < numLabels; j++) {
      const k = i * numLabels + j;
      const g = targets[k]!;
      if (g !== 0 && g !== 1) throw new RangeError(`multiLabelScores: target ${g} at index ${k} is not 0 or 1`);
      const s = probsOrLogits[k]!;
      const p = (fromLogits ? 1 / (1 + Math.exp(-s)) : s) >= threshold;
      if (p && g === 1) tp[j]!++;
      else if (p) { fp[j]!++; allMatch = false; }
      else if (g === 1) { fn[j]!++; allMatch = false; }
    }
    if (allMatch) exact++;
  }
  let TP = 0, FP = 0, FN = 0, macro = 0;
  for (let j = 0; j < numLabels; j++) {
    TP += tp[j]!; FP += fp[j]!; FN += fn[j]!;
    macro += f1FromCounts(tp[j]!, fp[j]!, fn[j]!);
  }
  return { micro_f1: f1FromCounts(TP, FP, FN), macro_f1: macro / numLabels, exact_match: exact / n };
}
