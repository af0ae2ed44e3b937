// Padding encoded examples into a Batch: fixed to max_len, or dynamic to the longest row.
import type { Batch, EncodedExample } from './types.js';
import type { BatchSampler } from './sampler.js';

/** 'fixed': every batch is max_len wide; 'dynamic': the longest row rounded up to a multiple of 8, at most max_len. */
export type Padding = 'fixed' | 'dynamic';

export interface CollateOptions {
  padding: Padding;
  maxLen: number;
  /** id of [PAD] */
  padId: number;
}

/** Round dynamic widths up to this multiple: fewer distinct shapes, and GEMM-friendly sizes. */
export const PAD_MULTIPLE = 8;

/**
 * Gathers examples into one padded batch.
 *
 * Args:
 *   examples: the dataset, encoded (each row at most maxLen ids).
 *   indices: which examples, in batch order [size].
 *   options: padding mode, max_len and [PAD] id.
 * Returns: a Batch with inputIds/tokenTypeIds [size, seqLen] (pad positions: [PAD], type 0),
 *   validLength/labels/indices [size].
 */
export function collate(examples: readonly EncodedExample[], indices: readonly number[], options: CollateOptions): Batch {
  const { padding, maxLen, padId } = options;
  if (!Number.isInteger(maxLen) || maxLen < 2) throw new RangeError(`maxLen must be an integer >= 2, got ${maxLen}`);
  const size = indices.length;
  if (size === 0) throw new RangeError('cannot collate an empty batch');
  let longest = 0;
  for (const i of indices) {
    const ex = examples[i];
    if (ex === undefined) throw new RangeError(`example index ${i} is outside the dataset (${examples.length} examples)`);
    if (ex.inputIds.length > maxLen) {
      throw new RangeError(`example ${ex.index} has ${ex.inputIds.length} tokens, more than max_len ${maxLen} (encode with the same max_len)`);
    }
    longest = Math.max(longest, ex.inputIds.length);
  }
  const seqLen = padding === 'fixed' ? maxLen : Math.min(maxLen, Math.ceil(longest / PAD_MULTIPLE) * PAD_MULTIPLE);
  const batch: Batch = {
    size, seqLen,
    inputIds: new Int32Array(size * seqLen).fill(padId),
    tokenTypeIds: new Int32Array(size * seqLen),
    validLength: new Int32Array(size),
    labels: new Int32Array(size),
    indices: new Int32Array(size),
  };
  const T = examples[indices[0]!]!.target?.length ?? 0;
  if (T > 0) batch.targets = new Float32Array(size * T);
  indices.forEach((i, row) => {
    const ex = examples[i]!;
    if (T > 0) {
      if (ex.target?.length !== T) throw new RangeError(`example ${ex.index} has ${ex.target?.length ?? 'no'} targets, the batch's first has ${T}`);
      batch.targets!.set(ex.target, row * T);
    }
    batch.inputIds.set(ex.inputIds, row * seqLen);
    batch.tokenTypeIds.set(ex.tokenTypeIds, row * seqLen);
    batch.validLength[row] = ex.inputIds.length;
    batch.labels[row] = ex.label;
    batch.indices[row] = ex.index;
  });
  return batch;
}

/**
 * Rows [start, end) of a batch as a batch of its own, with the same seqLen (views, no copy): a data-parallel rank's
 * share of a global batch. Keeping the global width keeps each row's computation (and dropout mask) what it is in
 * the whole batch.
 *
 * Args:
 *   batch: a collated batch [size, seqLen].
 *   start, end: 0 <= start < end <= batch.size.
 * Returns: a Batch of end - start rows whose arrays are subarrays of batch's.
 */
export function sliceBatch(batch: Batch, start: number, end: number): Batch {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= batch.size)) {
    throw new RangeError(`sliceBatch: rows [${start}, ${end}) are not a non-empty range inside a batch of ${batch.size}`);
  }
  const S = batch.seqLen;
  const T = batch.targets ? batch.targets.length / batch.size : 0;
  const out: Batch = {
    size: end - start, seqLen: S,
    inputIds: batch.inputIds.subarray(start * S, end * S),
    tokenTypeIds: batch.tokenTypeIds.subarray(start * S, end * S),
    validLength: batch.validLength.subarray(start, end),
    labels: batch.labels.subarray(start, end),
    indices: batch.indices.subarray(start, end),
  };
  if (batch.targets) out.targets = batch.targets.subarray(start * T, end * T);
  return out;
}

/** The padded batches of the sampler's current epoch that are still to come (see BatchSampler.remaining). */
export function* batches(examples: readonly EncodedExample[], sampler: BatchSampler, options: CollateOptions): Generator<Batch> {
  if (sampler.numExamples !== examples.length) {
    throw new RangeError(`the sampler was made for ${sampler.numExamples} examples, the dataset has ${examples.length}`);
  }
  for (const indices of sampler.remaining()) yield collate(examples, indices, options);
}
