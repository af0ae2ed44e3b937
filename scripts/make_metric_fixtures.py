"""Reference values for bertfit's evaluation metrics (src/train/stats.ts), computed by scikit-learn and SciPy.

Run from the repository root with any Python that has numpy, scipy and scikit-learn, e.g. the project venv:

    .venv-torch/bin/python scripts/make_metric_fixtures.py fixtures/metrics/metrics.json

(or: python3 -m venv /tmp/venv-metrics && /tmp/venv-metrics/bin/pip install scipy scikit-learn). The output is
deterministic for given library versions; the versions that made the committed fixture are recorded in its
"versions" field (numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1 for the committed file).

The JSON holds three lists of seeded cases, each with its inputs and the library outputs:
    classification  pred, gold (int labels), num_classes, positive ->
                    accuracy (accuracy_score), f1_binary (f1_score average='binary', pos_label=positive;
                    two-class cases only), macro_f1 (f1_score average='macro', labels=range(num_classes)),
                    mcc (matthews_corrcoef); every f1 with zero_division=0
    regression      x, y -> pearson (pearsonr), spearman (spearmanr), rank_x, rank_y (rankdata 'average');
                    null where SciPy returns NaN (constant input, for which bertfit returns 0)
    multilabel      scores (probabilities, or logits when from_logits), targets (0/1 indicator matrix),
                    threshold -> micro_f1, macro_f1 (f1_score average='micro'/'macro', zero_division=0),
                    exact_match (accuracy_score on the indicator matrices = subset accuracy), computed on
                    pred = (prob >= threshold), prob = 1 / (1 + exp(-logit)) for logits
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def num(v):
    """A float for JSON, None for NaN (JSON has no NaN)."""
    v = float(v)
    return None if math.isnan(v) else v


def classification_case(name, pred, gold, num_classes, positive=1):
    pred = np.asarray(pred, dtype=np.int64)
    gold = np.asarray(gold, dtype=np.int64)
    labels = list(range(num_classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # UndefinedMetricWarning etc. for the degenerate cases: zero_division=0
        return _classification_case(name, pred, gold, num_classes, positive, labels)


def _classification_case(name, pred, gold, num_classes, positive, labels):
    case = {
        "name": name,
        "num_classes": num_classes,
        "positive": positive,
        "pred": pred.tolist(),
        "gold": gold.tolist(),
        "accuracy": num(accuracy_score(gold, pred)),
        "macro_f1": num(f1_score(gold, pred, average="macro", labels=labels, zero_division=0)),
        "mcc": num(matthews_corrcoef(gold, pred)),
    }
    if num_classes == 2:
        case["f1_binary"] = num(f1_score(gold, pred, average="binary", pos_label=positive, labels=labels,
                                         zero_division=0))
    return case


def regression_case(name, x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConstantInputWarning: the NaN it comes with is what we record
        r = scipy.stats.pearsonr(x, y).statistic
        rho = scipy.stats.spearmanr(x, y).statistic
    return {
        "name": name,
        "x": x.tolist(),
        "y": y.tolist(),
        "pearson": num(r),
        "spearman": num(rho),
        "rank_x": scipy.stats.rankdata(x, method="average").tolist(),
        "rank_y": scipy.stats.rankdata(y, method="average").tolist(),
    }


def multilabel_case(name, scores, targets, threshold, from_logits=False):
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    probs = 1.0 / (1.0 + np.exp(-scores)) if from_logits else scores
    # Keep clear of the threshold so that float rounding (exp in V8 vs numpy) cannot flip a decision.
    assert np.min(np.abs(probs - threshold)) > 1e-9, name
    pred = (probs >= threshold).astype(np.int64)
    return {
        "name": name,
        "num_labels": int(targets.shape[1]),
        "threshold": threshold,
        "from_logits": from_logits,
        "scores": scores.tolist(),
        "targets": targets.tolist(),
        "micro_f1": num(f1_score(targets, pred, average="micro", zero_division=0)),
        "macro_f1": num(f1_score(targets, pred, average="macro", zero_division=0)),
        "exact_match": num(accuracy_score(targets, pred)),
    }


def noisy_labels(rng, gold, num_classes, flip):
    """gold with a fraction `flip` of entries replaced by a uniformly drawn (possibly equal) label."""
    pred = gold.copy()
    m = rng.random(len(gold)) < flip
    pred[m] = rng.integers(0, num_classes, size=int(m.sum()))
    return pred


def classification_cases(rng):
    cases = []
    gold = rng.integers(0, 2, size=200)
    cases.append(classification_case("binary_random", rng.integers(0, 2, size=200), gold, 2))
    cases.append(classification_case("binary_noisy", noisy_labels(rng, gold, 2, 0.4), gold, 2))
    cases.append(classification_case("binary_noisy_pos0", noisy_labels(rng, gold, 2, 0.4), gold, 2, positive=0))

    gold = (rng.random(500) < 0.08).astype(np.int64)   # 8% positive
    pred = np.where(rng.random(500) < 0.1, 1 - gold, gold)
    cases.append(classification_case("binary_imbalanced", pred, gold, 2))
    cases.append(classification_case("binary_imbalanced_pos0", pred, gold, 2, positive=0))

    cases.append(classification_case("binary_all_negative", np.zeros(40, np.int64), np.zeros(40, np.int64), 2))
    gold = rng.integers(0, 2, size=40)
    cases.append(classification_case("binary_pred_all_positive", np.ones(40, np.int64), gold, 2))
    cases.append(classification_case("binary_pred_all_negative", np.zeros(40, np.int64), gold, 2))
    cases.append(classification_case("binary_perfect", gold, gold, 2))
    cases.append(classification_case("binary_inverted", 1 - gold, gold, 2))

    gold = rng.integers(0, 3, size=300)
    pred = noisy_labels(rng, gold, 3, 0.5)
    pred[pred == 2] = rng.integers(0, 2, size=int((pred == 2).sum()))   # class 2 never predicted
    cases.append(classification_case("three_class_never_predicts_2", pred, gold, 3))
    cases.append(classification_case("three_class_random", rng.integers(0, 3, size=300), gold, 3))

    gold = rng.integers(0, 5, size=250)   # class 5 of 6 absent from both: counts 0 in macro-F1
    cases.append(classification_case("six_class_one_absent", noisy_labels(rng, gold, 5, 0.6), gold, 6))
    cases.append(classification_case("three_class_all_one", np.full(30, 2, np.int64), rng.integers(0, 3, size=30), 3))
    return cases


def regression_cases(rng):
    cases = []
    x = rng.normal(size=100)
    cases.append(regression_case("gaussian_correlated", x, 0.6 * x + 0.8 * rng.normal(size=100)))

    # STS-B-like: gold similarity in [0, 5] in steps of 0.2, predictions rounded to 0.2 too: many ties on both sides.
    gold = np.round(rng.uniform(0, 5, size=400) / 0.2) * 0.2
    pred = np.clip(np.round((gold + rng.normal(scale=1.0, size=400)) / 0.2) * 0.2, 0, 5)
    cases.append(regression_case("stsb_ties", pred, gold))
    cases.append(regression_case("integer_ties", rng.integers(0, 4, size=60), rng.integers(0, 3, size=60)))

    x = rng.uniform(-1, 1, size=80)
    cases.append(regression_case("negative", x, -2 * x + 0.3 * rng.normal(size=80)))
    cases.append(regression_case("perfect_negative_monotone", x, -np.exp(x)))
    cases.append(regression_case("constant_x", np.full(20, 3.2), rng.normal(size=20)))
    cases.append(regression_case("constant_y", rng.normal(size=20), np.full(20, 0.1)))
    cases.append(regression_case("two_points", [1.0, 2.0], [5.0, -1.0]))
    # Large offset relative to the spread: a one-pass (sum of squares) formula loses most digits here.
    x = 1e8 + rng.normal(size=200)
    cases.append(regression_case("large_offset", x, 3e-3 * (x - 1e8) + 1e-3 * rng.normal(size=200) - 7e6))
    # float32-rounded model outputs, as the trainer produces them
    x = rng.normal(size=150).astype(np.float32).astype(np.float64)
    cases.append(regression_case("float32_values", x, (x + rng.normal(size=150)).astype(np.float32).astype(np.float64)))
    return cases


def multilabel_cases(rng):
    cases = []
    targets = (rng.random((60, 5)) < 0.3).astype(np.int64)
    probs = np.clip(0.45 * targets + rng.uniform(0, 0.6, size=(60, 5)), 0, 1)
    cases.append(multilabel_case("probs_t0.5", probs, targets, 0.5))
    cases.append(multilabel_case("probs_t0.3", probs, targets, 0.3))

    targets = (rng.random((80, 6)) < 0.25).astype(np.int64)
    targets[:, 4] = 0   # label 4 never present ...
    logits = 2.0 * (2 * targets - 1) + rng.normal(scale=2.0, size=(80, 6))
    logits[:, 4] = -5.0 - rng.random(80)   # ... nor predicted: contributes 0 to macro-F1
    cases.append(multilabel_case("logits_t0.5_absent_label", logits, targets, 0.5, from_logits=True))
    cases.append(multilabel_case("logits_t0.7", logits, targets, 0.7, from_logits=True))

    targets = (rng.random((30, 4)) < 0.5).astype(np.int64)
    cases.append(multilabel_case("nothing_predicted", rng.uniform(0, 0.5, size=(30, 4)), targets, 0.9))
    cases.append(multilabel_case("perfect", np.where(targets == 1, 0.9, 0.1), targets, 0.5))
    return cases


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("fixtures", "metrics", "metrics.json")
    rng = np.random.default_rng(14)
    doc = {
        "generator": "scripts/make_metric_fixtures.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "scikit-learn": sklearn.__version__},
        "classification": classification_cases(rng),
        "regression": regression_cases(rng),
        "multilabel": multilabel_cases(rng),
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: {len(doc['classification'])} classification, {len(doc['regression'])} regression, "
          f"{len(doc['multilabel'])} multi-label cases; {doc['versions']}")


if __name__ == "__main__":
    main()
