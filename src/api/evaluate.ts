// evaluate() and predictFile(): a classifier over a labelled file (metrics) or any file (one prediction per row),
// the library side of `bertfit eval` and `bertfit predict`.
import { existsSync } from 'node:fs';
import { readDataset } from '../data/dataset.js';
import { encodeDataset } from '../data/encode.js';
import type { Example } from '../data/types.js';
import { OptionError } from '../errors.js';
import { argmaxRows, computeMetrics, type Metrics } from '../train/metrics.js';
import { Classifier, type LoadOptions, applyFunction } from './classifier.js';
import { type DataFileOptions, datasetOptions } from './data.js';

export interface FileOptions extends DataFileOptions, LoadOptions {
  /** a loaded Classifier, or a spec to load one from (checkpoint directory, pulled name, HF id) */
  model: string | Classifier;
  /** the data file (.tsv/.csv/.jsonl); empty texts are valid inputs */
  data: string;
}

export interface Prediction {
  /** the best label */
  label: string;
  /** class probabilities (softmax; sigmoid for multi-label models), class order */
  probs: number[];
  logits: number[];
}

async function classifierOf(o: FileOptions): Promise<{ clf: Classifier; owned: boolean }> {
  if (typeof o.model !== 'string') return { clf: o.model, owned: false };
  return { clf: await Classifier.load(o.model, o), owned: true };
}

function readFile(o: FileOptions, labelled: boolean): Example[] {
  if (!existsSync(o.data)) throw new OptionError('data', `${o.data}: no such file`);
  return readDataset(o.data, datasetOptions(o, labelled, 'allow'));
}

/**
 * Accuracy, F1 (of class 1 for two classes, else macro), macro-F1 and mean cross-entropy of a classifier on a
 * labelled file. Inputs longer than the classifier's maxLen are truncated.
 *
 * Throws: DataError naming file, line and label for a label the model does not know.
 */
export async function evaluate(o: FileOptions): Promise<Metrics> {
  const { clf, owned } = await classifierOf(o);
  try {
    const labels = [...clf.labels];
    const examples = encodeDataset(readFile(o, true), clf.tokenizer, labels, clf.maxLen);
    const logits = clf.run(examples);
    const C = labels.length;
    const gold = examples.map((e) => e.label);
    let loss = 0;
    for (let i = 0; i < examples.length; i++) {
      const row = Array.from(logits.subarray(i * C, (i + 1) * C));
      loss -= Math.log(applyFunction(row, 'softmax')[gold[i]!]!);
    }
    return computeMetrics(argmaxRows(logits, examples.length, C), gold, C, loss / examples.length);
  } finally {
    if (owned) clf.dispose();
  }
}

/** One prediction per row of the file, in file order (labels in the file, if any, are ignored). */
export async function predictFile(o: FileOptions): Promise<Prediction[]> {
  const { clf, owned } = await classifierOf(o);
  try {
    const examples = readFile(o, false);
    const logits = clf.run(encodeDataset(examples, clf.tokenizer, null, clf.maxLen));
    const C = clf.labels.length;
    const fn = clf.defaultFunction === 'sigmoid' ? 'sigmoid' : 'softmax';
    return examples.map((_, i) => {
      const row = Array.from(logits.subarray(i * C, (i + 1) * C));
      let best = 0;
      for (let c = 1; c < C; c++) if (row[c]! > row[best]!) best = c;
      return { label: clf.labels[best]!, probs: applyFunction(row, fn), logits: row };
    });
  } finally {
    if (owned) clf.dispose();
  }
}
