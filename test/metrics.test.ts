// The evaluation metrics of src/train/stats.ts against scikit-learn / SciPy values (fixtures/metrics/metrics.json,
// made by scripts/make_metric_fixtures.py), hand-checked small cases, and the edge cases (length mismatch, empty
// input, constant input, bad labels).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  accuracy, f1Binary, macroF1, matthews, multiLabelScores, pearson, rankAverage, spearman,
} from '../src/train/stats.js';
import { packageRoot } from '../src/util/paths.js';

interface ClassificationCase {
  name: string; num_classes: number; positive: number; pred: number[]; gold: number[];
  accuracy: number; macro_f1: number; mcc: number; f1_binary?: number;
}
interface RegressionCase {
  name: string; x: number[]; y: number[]; pearson: number | null; spearman: number | null;
  rank_x: number[]; rank_y: number[];
}
interface MultiLabelCase {
  name: string; num_labels: number; threshold: number; from_logits: boolean; scores: number[][]; targets: number[][];
  micro_f1: number; macro_f1: number; exact_match: number;
}
interface Fixture {
  versions: Record<string, string>;
  classification: ClassificationCase[]; regression: RegressionCase[]; multilabel: MultiLabelCase[];
}

const fixture = JSON.parse(readFileSync(path.join(packageRoot, 'fixtures', 'metrics', 'metrics.json'), 'utf8')) as Fixture;

/** Measured with the committed fixture: counting metrics bit-identical to sklearn, correlations within 1e-15 of SciPy. */
const TOL = 1e-12;

function close(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} (|diff| ${Math.abs(got - want)} > ${tol})`);
}

test('fixture: made by SciPy / scikit-learn, with every kind of case present', () => {
  assert.ok(fixture.versions.scipy && fixture.versions['scikit-learn']);
  assert.ok(fixture.classification.length >= 10);
  assert.ok(fixture.regression.length >= 8);
  assert.ok(fixture.multilabel.length >= 4);
});

test('accuracy, f1Binary, macroF1, matthews match scikit-learn', () => {
  for (const c of fixture.classification) {
    const pred = Int32Array.from(c.pred), gold = c.gold;   // typed and plain arrays both accepted
    close(accuracy(pred, gold), c.accuracy, TOL, `${c.name} accuracy`);
    close(macroF1(pred, gold, c.num_classes), c.macro_f1, TOL, `${c.name} macro_f1`);
    close(matthews(pred, gold, c.num_classes), c.mcc, TOL, `${c.name} mcc`);
    if (c.f1_binary !== undefined) close(f1Binary(pred, gold, c.positive), c.f1_binary, TOL, `${c.name} f1_binary`);
  }
});

test('pearson, spearman, rankAverage match SciPy (constant input: 0 where SciPy gives NaN)', () => {
  for (const c of fixture.regression) {
    const x = Float64Array.from(c.x), y = c.y;
    assert.deepEqual(Array.from(rankAverage(x)), c.rank_x, `${c.name} rank_x`);
    assert.deepEqual(Array.from(rankAverage(y)), c.rank_y, `${c.name} rank_y`);
    close(pearson(x, y), c.pearson ?? 0, TOL, `${c.name} pearson`);
    close(spearman(x, y), c.spearman ?? 0, TOL, `${c.name} spearman`);
    // symmetric in its arguments
    close(pearson(y, x), c.pearson ?? 0, TOL, `${c.name} pearson(y, x)`);
    close(spearman(y, x), c.spearman ?? 0, TOL, `${c.name} spearman(y, x)`);
  }
  assert.ok(fixture.regression.some((c) => c.pearson === null), 'a constant-input case is in the fixture');
});

test('multiLabelScores matches scikit-learn f1_score micro/macro and subset accuracy', () => {
  for (const c of fixture.multilabel) {
    const got = multiLabelScores(Float64Array.from(c.scores.flat()), c.targets.flat(), c.num_labels, c.threshold,
      { fromLogits: c.from_logits });
    close(got.micro_f1, c.micro_f1, TOL, `${c.name} micro_f1`);
    close(got.macro_f1, c.macro_f1, TOL, `${c.name} macro_f1`);
    close(got.exact_match, c.exact_match, TOL, `${c.name} exact_match`);
  }
});

test('hand-checked small cases', () => {
  // ranks [1, 2.5, 2.5, 4] vs [1, 3, 2, 4]: centred [-1.5, 0, 0, 1.5] · [-1.5, 0.5, -0.5, 1.5] = 4.5;
  // norms sqrt(4.5) and sqrt(5): rho = 4.5 / sqrt(22.5) = 3 / sqrt(10)
  assert.deepEqual(Array.from(rankAverage([1, 2, 2, 3])), [1, 2.5, 2.5, 4]);
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 3 / Math.sqrt(10), 1e-15, 'spearman small');
  assert.deepEqual(Array.from(rankAverage([10, 20, 20, 5, 20])), [2, 4, 4, 1, 4]);
  assert.deepEqual(Array.from(rankAverage([3, 1, 2])), [3, 1, 2]);
  assert.deepEqual(Array.from(rankAverage([-0, 0])), [1.5, 1.5]);
  assert.ok(rankAverage([1, NaN, 2]).every(Number.isNaN), 'NaN input: all ranks NaN, as SciPy');

  close(pearson([1, 2, 3], [2, 4, 6]), 1, 0, 'pearson exact line');
  close(pearson([1, 2, 3], [3, 2, 1]), -1, 0, 'pearson exact negative line');
  // x = [1,2,3,4], y = [1,3,2,4]: centred dot 4, |x|² = |y|² = 5 -> 0.8
  close(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8, 1e-15, 'pearson 0.8');
  close(spearman([1, 2, 3, 4], [10, 100, 1000, 10000]), 1, 0, 'spearman monotone');
  assert.ok(Number.isNaN(pearson([1, NaN, 3], [1, 2, 3])), 'NaN propagates');

  // binary: tp=2, fp=1, fn=1, tn=2
  const pred = [1, 1, 1, 0, 0, 0], gold = [1, 1, 0, 1, 0, 0];
  close(accuracy(pred, gold), 4 / 6, 0, 'accuracy');
  close(f1Binary(pred, gold), 4 / 6, 0, 'f1 positive 1');
  close(f1Binary(pred, gold, 0), 4 / 6, 0, 'f1 positive 0');
  close(matthews(pred, gold, 2), (2 * 2 - 1 * 1) / Math.sqrt(3 * 3 * 3 * 3), 1e-15, 'mcc binary');
  close(macroF1(pred, gold, 2), 4 / 6, 1e-15, 'macro F1');
  // a class never seen counts 0 in the macro mean over numClasses
  close(macroF1(pred, gold, 4), (4 / 6 + 4 / 6) / 4, 1e-15, 'macro F1 over 4 classes');
  // degenerate: one class everywhere -> MCC 0, F1 0
  assert.equal(matthews([0, 0, 0], [0, 0, 0], 2), 0);
  assert.equal(matthews([1, 1, 1], [0, 1, 0], 2), 0);
  assert.equal(f1Binary([0, 0, 0], [0, 0, 0]), 0);
  assert.equal(matthews([1, 0, 1, 0], [0, 1, 0, 1], 2), -1);

  // multi-label: 2 examples × 3 labels; preds [1,0,1],[0,0,0]; targets [1,0,0],[0,0,0]
  const ml = multiLabelScores([0.9, 0.2, 0.5, 0.1, 0.3, 0.4], [1, 0, 0, 0, 0, 0], 3);
  close(ml.micro_f1, 2 / 3, 0, 'micro');        // tp 1, fp 1, fn 0
  close(ml.macro_f1, 1 / 3, 0, 'macro');        // label 0: 1, label 1: 0 (undefined), label 2: 0
  close(ml.exact_match, 0.5, 0, 'exact');
  // logits: sigmoid(0) = 0.5 >= 0.5 is predicted
  const lg = multiLabelScores([0, -1, 2, -3], [1, 0, 1, 0], 2, 0.5, { fromLogits: true });
  assert.deepEqual(lg, { micro_f1: 1, macro_f1: 0.5, exact_match: 1 });
});

test('numerical care: a large common offset does not cost digits (two-pass means)', () => {
  const base = [0.3, -1.2, 0.7, 2.1, -0.4, 1.1], other = [0.1, -0.9, 1.2, 1.8, -0.7, 0.6];
  const r = pearson(base, other);
  close(pearson(base.map((v) => v + 1e9), other.map((v) => v - 3e8)), r, 1e-6, 'offset 1e9');   // inputs rounded at 1e9 already
  close(pearson(base.map((v) => v * 1e-200), other.map((v) => v * 1e200)), r, 1e-14, 'tiny / huge scale');
  close(pearson(base.map((v) => v + 1), other.map((v) => v + 1)), r, 1e-14, 'offset 1');
  assert.ok(Math.abs(pearson([1, 2, 3], [1, 2, 3])) <= 1, 'clamped to [-1, 1]');
});

test('edge cases: length mismatch throws RangeError, empty input gives 0, constant input gives 0', () => {
  for (const f of [
    () => accuracy([1, 0], [1]), () => f1Binary([1], [1, 0]), () => macroF1([0], [0, 1], 2), () => matthews([0, 1], [0], 2),
    () => pearson([1, 2, 3], [1, 2]), () => spearman([1], [1, 2]), () => multiLabelScores([0.1, 0.2], [0], 1),
  ]) assert.throws(f, RangeError);
  // labels outside [0, numClasses), non-integer labels, non-0/1 targets, ragged multi-label input, bad numClasses
  assert.throws(() => macroF1([2], [0], 2), RangeError);
  assert.throws(() => matthews([0], [-1], 2), RangeError);
  assert.throws(() => matthews([0.5], [0], 2), RangeError);
  assert.throws(() => macroF1([0], [0], 0), RangeError);
  assert.throws(() => multiLabelScores([0.7], [2], 1), RangeError);
  assert.throws(() => multiLabelScores([0.7, 0.2, 0.1], [1, 0, 0], 2), RangeError);

  assert.equal(accuracy([], []), 0);
  assert.equal(f1Binary([], []), 0);
  assert.equal(macroF1([], [], 3), 0);
  assert.equal(matthews([], [], 3), 0);
  assert.equal(pearson([], []), 0);
  assert.equal(spearman([], []), 0);
  assert.equal(rankAverage([]).length, 0);
  assert.deepEqual(multiLabelScores([], [], 4), { micro_f1: 0, macro_f1: 0, exact_match: 0 });

  assert.equal(pearson([5], [1]), 0, 'one point');
  assert.equal(pearson([2, 2, 2], [1, 2, 3]), 0, 'constant x');
  assert.equal(spearman([1, 2, 3], [0.1, 0.1, 0.1]), 0, 'constant y');
});
