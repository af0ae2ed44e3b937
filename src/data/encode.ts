// Examples -> EncodedExamples: tokenize, pack [CLS] a [SEP] b [SEP], truncate, map labels to indices.
import type { BertTokenizer } from '../tokenizer/tokenizer.js';
import { DataError } from './errors.js';
import { checkLabels } from './labels.js';
import type { EncodedExample, Example } from './types.js';
import type { ProblemType } from '../model/config.js';

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
 * Throws: DataError naming file and line for a label that is not in `labels` (e.g. an eval file
 *   with a class the training file never had).
 */
export function encodeDataset(examples: readonly Example[], tokenizer: BertTokenizer, labels: readonly string[] | null, maxLen: number,
  problemType: ProblemType = 'single_label_classification'): EncodedExample[] {
  if (!Number.isInteger(maxLen) || maxLen < 3) throw new RangeError(`maxLen must be an integer >= 3, got ${maxLen}`);
  let classOf: Map<string, number> | null = null;
  if (labels !== null && problemType !== 'regression') {
    checkLabels(labels);
    classOf = new Map(labels.map((l, i) => [l, i]));
  }
  const where = (ex: Example) => ({ file: ex.source ?? '<examples>', line: ex.line, field: 'label' });
  const classIndex = (ex: Example, l: string): number => {
    const c = classOf!.get(l);
    if (c === undefined) {
      throw new DataError(where(ex), `unknown label ${JSON.stringify(l)} (the labels are ${labels!.map((x) => JSON.stringify(x)).join(', ')})`);
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
      if (ex.label.trim() === '' || !Number.isFinite(v)) throw new DataError(where(ex), `a regression target must be a number, got ${JSON.stringify(ex.label)}`);
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
