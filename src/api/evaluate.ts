// evaluate() and predictFile(): a classifier over a labelled file (metrics) or any file (one prediction per row),
// the library side of `bertfit eval` and `bertfit predict`.
import { existsSync } from 'node:fs';
import { readDataset } from '../data/dataset.js';
import { encodeDataset } from '../data/encode.js';
import type { EncodedExample, Example } from '../data/types.js';
import { OptionError } from '../errors.js';
import { bceWithLogitsLoss, mseLoss } from '../model/bert.js';
import { problemTypeOf } from '../model/config.js';
import { scoreOutputs, type Metrics } from '../train/metrics.js';
import { checkLogitRows } from '../train/nonfinite.js';
import { checkPairs } from '../train/fit-check.js';
import { Classifier, type LoadOptions, applyFunction } from './classifier.js';
import { type DataFileOptions, datasetOptions } from './data.js';

export interface FileOptions extends DataFileOptions, LoadOptions {
  /** a loaded Classifier, or a spec to load one from (checkpoint directory, pulled name, HF id) */
  model: string | Classifier;
  /** the data file (.tsv/.csv/.jsonl); empty texts are valid inputs */
  data: string;
}

export interface Prediction {
  /** the best label (regression: the model's one label name) */
  label: string;
  /** class probabilities (softmax; sigmoid for multi-label models), class order; regression: the outputs */
  probs: number[];
  logits: number[];
  /** regression: the predicted value */
  score?: number;
  /** multi-label: every label whose probability is >= the threshold */
  labels?: string[];
}

async function classifierOf(o: FileOptions): Promise<{ clf: Classifier; owned: boolean }> {
  if (typeof o.model !== 'string') return { clf: o.model, owned: false };
  return { clf: await Classifier.load(o.model, o), owned: true };
}

function readFile(o: FileOptions, labelled: boolean, labelSep?: string): Example[] {
  if (!existsSync(o.data)) throw new OptionError('data', `${o.data}: no such file`);
  const d = datasetOptions(o, labelled, 'allow', o.data);
  if (labelSep !== undefined) d.labelSep = labelSep;
  return readDataset(o.data, d);
}

/**
 * The classifier's logits over encoded rows of a file, after checking that the model takes them (pairs) and that the
 * pass fits in memory; a row whose
 * logits are not finite fails with NonFiniteError naming its file and line.
 */
function checkedRun(clf: Classifier, rows: readonly Example[], examples: readonly EncodedExample[]): Float32Array {
  checkPairs(clf.config, clf.source, rows, 'data');
  const longest = examples.reduce((m, e) => Math.max(m, e.inputIds.length), 1);
  clf.checkMemory(Math.min(clf.maxLen, Math.ceil(longest / 8) * 8));
  const logits = clf.run(examples);
  checkLogitRows(logits, examples.length, clf.labels.length, (i) => `${rows[i]?.source ?? 'input'}:${rows[i]?.line ?? i + 1}`);
  return logits;
}

/**
 * Scores a classifier on a labelled file: accuracy, F1 (of class 1 for two classes, else macro), macro-F1 and
 * Matthews correlation for classifiers; Pearson, Spearman and MSE for regression; micro/macro-F1 and exact match for
 * multi-label models (threshold); always the mean training loss. Inputs longer than maxLen are truncated.
 *
 * Throws: DataError naming file, line and label for a label the model does not know.
 */
export async function evaluate(o: FileOptions & { threshold?: number; labelSep?: string }): Promise<Metrics> {
  const { clf, owned } = await classifierOf(o);
  try {
    const labels = [...clf.labels];
    const problemType = problemTypeOf(clf.config);
    const rows = readFile(o, true, o.labelSep);
    const examples = encodeDataset(rows, clf.tokenizer, labels, clf.maxLen, problemType);
    const logits = checkedRun(clf, rows, examples);
    const C = labels.length, N = examples.length;
    let loss = 0;
    let gold: Array<number | Float32Array>;
    if (problemType === 'single_label_classification') {
      gold = examples.map((e) => e.label);
      for (let i = 0; i < N; i++) loss -= Math.log(applyFunction(Array.from(logits.subarray(i * C, (i + 1) * C)), 'softmax')[examples[i]!.label]!);
      loss /= N;
    } else {
      gold = examples.map((ex) => ex.target ?? new Float32Array(C));
      const targets = new Float32Array(N * C);
      gold.forEach((t, i) => targets.set(t as Float32Array, i * C));
      const scratch = new Float32Array(N * C);
      loss = (problemType === 'regression' ? mseLoss : bceWithLogitsLoss)(logits, targets, scratch, N * C);
    }
    return scoreOutputs(logits, gold, { problemType, numLabels: C, threshold: o.threshold }, loss);
  } finally {
    if (owned) clf.dispose();
  }
}

/** One prediction per row of the file, in file order (labels in the file, if any, are ignored). */
export async function predictFile(o: FileOptions & { threshold?: number }): Promise<Prediction[]> {
  const { clf, owned } = await classifierOf(o);
  try {
    const examples = readFile(o, false);
    const logits = checkedRun(clf, examples, encodeDataset(examples, clf.tokenizer, null, clf.maxLen));
    const C = clf.labels.length;
    const problemType = problemTypeOf(clf.config);
    const threshold = o.threshold ?? 0.5;
    return examples.map((_, i) => {
      const row = Array.from(logits.subarray(i * C, (i + 1) * C));
      let best = 0;
      for (let c = 1; c < C; c++) if (row[c]! > row[best]!) best = c;
      if (problemType === 'regression') return { label: clf.labels[0]!, probs: row, logits: row, score: row[0]! };
      if (problemType === 'multi_label_classification') {
        const probs = applyFunction(row, 'sigmoid');
        return { label: clf.labels[best]!, probs, logits: row, labels: clf.labels.filter((_, c) => probs[c]! >= threshold) };
      }
      return { label: clf.labels[best]!, probs: applyFunction(row, 'softmax'), logits: row };
    });
  } finally {
    if (owned) clf.dispose();
  }
}
