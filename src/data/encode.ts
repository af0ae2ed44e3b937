// Examples -> EncodedExamples: tokenize, pack [CLS] a [SEP] b [SEP], truncate, map labels to indices.
import type { BertTokenizer } from '../tokenizer/tokenizer.js';
import { DataError } from './errors.js';
import { checkLabels } from './labels.js';
import type { EncodedExample, Example } from './types.js';

/**
 * Encodes a dataset for the model.
 *
 * Args:
 *   examples: from readDataset / taskDatasets.
 *   tokenizer: the model's tokenizer.
 *   labels: the label list (index = class id), or null to ignore labels (prediction). Examples
 *     without a label get -1 either way.
 *   maxLen: truncate each example to at most this many ids.
 * Returns: one EncodedExample per example, `index` = position in `examples`.
 * Throws: DataError naming file and line for a label that is not in `labels` (e.g. an eval file
 *   with a class the training file never had).
 */
export function encodeDataset(examples: readonly Example[], tokenizer: BertTokenizer, labels: readonly string[] | null, maxLen: number): EncodedExample[] {
  if (!Number.isInteger(maxLen) || maxLen < 3) throw new RangeError(`maxLen must be an integer >= 3, got ${maxLen}`);
  let classOf: Map<string, number> | null = null;
  if (labels !== null) {
    checkLabels(labels);
    classOf = new Map(labels.map((l, i) => [l, i]));
  }
  return examples.map((ex, index) => {
    let label = -1;
    if (classOf !== null && ex.label !== undefined) {
      const c = classOf.get(ex.label);
      if (c === undefined) {
        throw new DataError({ file: ex.source ?? '<examples>', line: ex.line, field: 'label' },
          `unknown label ${JSON.stringify(ex.label)} (the labels are ${labels!.map((l) => JSON.stringify(l)).join(', ')})`);
      }
      label = c;
    }
    const { inputIds, tokenTypeIds } = tokenizer.encodePair(ex.textA, ex.textB, maxLen);
    return { inputIds, tokenTypeIds, label, index };
  });
}
