// Packing token ids into BERT's sentence(-pair) input: [CLS] a [SEP] (b [SEP]), with truncation.

/** Model input for one example, without padding. */
export interface Encoding {
  /** [CLS] a [SEP] b [SEP] ids [len] */
  inputIds: Int32Array;
  /** 0 for [CLS], a and the first [SEP]; 1 for b and the last [SEP] [len] */
  tokenTypeIds: Int32Array;
}

/** Special ids used to pack an encoding. */
export interface PackIds {
  clsId: number;
  sepId: number;
}

/**
 * Shortens a and b in place until they fit max_len together with their special tokens, removing the
 * last token of the longer one each time (of b on a tie), like the original run_classifier.py's
 * _truncate_seq_pair. A single sentence (b undefined) is cut to maxLen - 2.
 *
 * Args:
 *   a: ids of the first sentence; b: ids of the second, or undefined.
 *   maxLen: the longest allowed packed length (>= 3 with b, >= 2 without).
 */
export function truncatePair(a: number[], b: number[] | undefined, maxLen: number): void {
  const special = b === undefined ? 2 : 3;
  if (!Number.isInteger(maxLen) || maxLen < special) {
    throw new RangeError(`max_len must be an integer >= ${special} for a ${b === undefined ? 'single sentence' : 'sentence pair'}, got ${maxLen}`);
  }
  const budget = maxLen - special;
  if (b === undefined) {
    if (a.length > budget) a.length = budget;
    return;
  }
  while (a.length + b.length > budget) {
    if (a.length > b.length) a.pop();
    else b.pop();
  }
}

/**
 * Packs ids as [CLS] a [SEP] (b [SEP]) with token types 0 for the first part and 1 for b and its [SEP].
 *
 * Args:
 *   a, b: piece ids of the two sentences (b undefined for a single sentence); already truncated.
 * Returns: the encoding, length len(a) + 2 (+ len(b) + 1).
 */
export function packPair(a: readonly number[], b: readonly number[] | undefined, ids: PackIds): Encoding {
  const lenA = a.length + 2;
  const len = b === undefined ? lenA : lenA + b.length + 1;
  const inputIds = new Int32Array(len);
  const tokenTypeIds = new Int32Array(len);
  inputIds[0] = ids.clsId;
  inputIds.set(a, 1);
  inputIds[lenA - 1] = ids.sepId;
  if (b !== undefined) {
    inputIds.set(b, lenA);
    inputIds[len - 1] = ids.sepId;
    tokenTypeIds.fill(1, lenA);
  }
  return { inputIds, tokenTypeIds };
}
