// The inputs of an exported model (and of any Optimum/transformers.js BERT classifier export): bertfit encodings
// packed into int64 [batch, seq] arrays, ready for onnxruntime's `new Tensor('int64', data, dims)`.
import type { Encoding } from '../tokenizer/pair.js';

/** One int64 input tensor: row-major data and its dims [batch, seq]. */
export interface OnnxFeed {
  data: BigInt64Array;
  dims: [number, number];
}

/** The three inputs `bertfit export` declares, by their ONNX names. */
export interface OnnxFeeds {
  input_ids: OnnxFeed;
  attention_mask: OnnxFeed;
  token_type_ids: OnnxFeed;
}

/**
 * Packs encodings into one padded batch.
 *
 * Args:
 *   encodings: from BertTokenizer.encode / encodePair or Classifier.encode, each already cut to the model's length.
 * Returns: input_ids, attention_mask and token_type_ids, each int64 [B, S] with S the longest encoding; shorter rows
 *   are padded with id 0 ([PAD] in BERT vocabularies), attention_mask 0 and token type 0, which the masked attention
 *   ignores, so a row's logits do not depend on what else is in the batch.
 */
export function onnxFeeds(encodings: readonly Encoding[]): OnnxFeeds {
  if (encodings.length === 0) throw new RangeError('onnxFeeds: no encodings (a batch needs at least one row)');
  const B = encodings.length;
  const S = Math.max(...encodings.map((e) => e.inputIds.length));
  const ids = new BigInt64Array(B * S), mask = new BigInt64Array(B * S), types = new BigInt64Array(B * S);
  encodings.forEach((e, b) => {
    if (e.tokenTypeIds.length !== e.inputIds.length) {
      throw new RangeError(`onnxFeeds: encoding ${b} has ${e.inputIds.length} ids but ${e.tokenTypeIds.length} token types`);
    }
    for (let i = 0; i < e.inputIds.length; i++) {
      ids[b * S + i] = BigInt(e.inputIds[i]!);
      mask[b * S + i] = 1n;
      types[b * S + i] = BigInt(e.tokenTypeIds[i]!);
    }
  });
  const feed = (data: BigInt64Array): OnnxFeed => ({ data, dims: [B, S] });
  return { input_ids: feed(ids), attention_mask: feed(mask), token_type_ids: feed(types) };
}
