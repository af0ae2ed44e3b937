// Examples -> EncodedExamples: tokenize, pack [CLS] a [SEP] b [SEP], truncate, map labels to indices.
import type { BertTokenizer } from '../tokenizer/tokenizer.js';
import { DataError, preview } from './errors.js';
import { labelIndex } from './labels.js';
import type { EncodedExample, Example } from './types.js';
import type { ProblemType } from '../model/config.js';

/** Labels listed in an unknown-label error (a regression file read as classes can have thousands). */
const MAX_LABELS_SHOWN = 20;

/**
 * Encodes a dataset for the model.
 *
 * Args:
 *   examples: from readDataset / taskDatasets.
 *   tokenizer: the model's tokenizer.
 *   labels: the label list (index = class id), or null to ignore labels (prediction). Examples
 *     without a label get -1 either way.
 *   maxLen: truncate each example to at most this many ids.
 *   problemType: single-label (label -> class index), regression (label -> target [1], a number), or
 *     multi-label (labels -> multi-hot target [labels.length]).
 * Returns: one EncodedExample per example, `index` = position in `examples`.
 *   A label matches its class exactly or by number ("1" in the data, "01" in the list; see labelIndex).
 * Throws: DataError naming file and line for a label that is not in `labels` (e.g. an eval file
 *   with a class the training file never had).
 */
export function encodeDataset(examples: readonly Example[], tokenizer: BertTokenizer, labels: readonly string[] | null, maxLen: number,
  problemType: ProblemType = 'single_label_classification'): EncodedExample[] {
  if (!Number.isInteger(maxLen) || maxLen < 3) throw new RangeError(`maxLen must be an integer >= 3, got ${maxLen}`);
  let classOf: ((label: string) => number | undefined) | null = null;
  if (labels !== null && problemType !== 'regression') classOf = labelIndex(labels);
  const where = (ex: Example) => ({ file: ex.source ?? '<examples>', line: ex.line, field: 'label' });
  const classIndex = (ex: Example, l: string): number => {
    const c = classOf!(l);
    if (c === undefined) {
      const shown = labels!.slice(0, MAX_LABELS_SHOWN).map(preview).join(', ') + (labels!.length > MAX_LABELS_SHOWN ? `, … (${labels!.length} in all)` : '');
      throw new DataError(where(ex), `unknown label ${preview(l)} (the labels are ${shown})`);
    }
    return c;
  };
  return examples.map((ex, index) => {
    const { inputIds, tokenTypeIds } = tokenizer.encodePair(ex.textA, ex.textB, maxLen);
    const out: EncodedExample = { inputIds, tokenTypeIds, label: -1, index };
    if (labels === null) return out;
    if (problemType === 'regression') {
      if (ex.label === undefined) return out;
      const v = Number(ex.label);
      if (ex.label.trim() === '' || !Number.isFinite(v)) throw new DataError(where(ex), `a regression target must be a number, got ${preview(ex.label)}`);
      out.target = Float32Array.of(v);
    } else if (problemType === 'multi_label_classification') {
      const given = ex.labels ?? (ex.label !== undefined ? [ex.label] : undefined);
      if (given === undefined) return out;
      out.target = new Float32Array(labels.length);
      for (const l of given) out.target[classIndex(ex, l)] = 1;
    } else {
      if (ex.labels !== undefined) throw new DataError(where(ex), `a list of labels, but the task is single-label (multi-label data needs problem type multi_label_classification)`);
      if (ex.label !== undefined) out.label = classIndex(ex, ex.label);
    }
    return out;
  });
}
