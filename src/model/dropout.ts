// Where each dropout mask of a training step comes from.
//
// The native core draws dropout masks from a counter-based generator: keep(i) = philox(seed, offset + i) >= p.
// A step's masks are a pure function of (seed, step): the step picks the Philox key, and every dropout site of the
// forward pass gets its own disjoint range of counters, so no two sites (or layers) ever share random numbers, and
// backward regenerates exactly the forward's masks instead of storing them.
import type { BertConfig } from './config.js';

/** One dropout site: probability p (0 = off), the Philox key and the first counter of its range. */
export interface DropSite {
  p: number;
  seed: number;
  offset: number;
}

export interface LayerDrops {
  /** attention probabilities [B, NH, S, S] */
  attn: DropSite;
  /** attention output projection [B*S, H] */
  attnOut: DropSite;
  /** feed-forward output projection [B*S, H] */
  ffnOut: DropSite;
}

export interface DropoutPlan {
  /** embeddings after LayerNorm [B*S, H] */
  emb: DropSite;
  layers: LayerDrops[];
  /** pooled [CLS] vector before the classifier [B, H] */
  cls: DropSite;
}

/**
 * The Philox key of training step `step` under `seed`: a bijection of the step for a fixed seed (odd multiply and
 * xorshift-multiply rounds are invertible mod 2^32), so two different steps never share a mask.
 */
export function stepKey(seed: number, step: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`dropout seed must be a non-negative integer, got ${seed}`);
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`dropout step must be a non-negative integer, got ${step}`);
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.floor(seed / 0x100000000)) >>> 0;
  h = (h + Math.imul(step >>> 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const OFF: DropSite = { p: 0, seed: 0, offset: 0 };

/**
 * Which rows of a larger batch a forward pass runs: rows [start, start + B) of a batch of `total` rows, padded to the
 * same S. Data-parallel ranks each run a slice of the global batch; laying the counters out for the global batch and
 * starting at the slice's first row gives every row the mask it gets when one process runs the whole batch.
 */
export interface RowSlice {
  start: number;
  total: number;
}

/**
 * Lays out the counter ranges of one forward pass over a [B, S] batch.
 *
 * Every site's tensor is row-major with the batch row outermost ([B, S, H], [B, NH, S, S], [B, H]), so row b's
 * counters are one contiguous run at offset + b * (elements per row): the ranges are laid out for the global batch
 * (rows.total rows) and each site's offset moves to row rows.start.
 *
 * Args:
 *   config: hidden_dropout_prob / attention_probs_dropout_prob, sizes.
 *   B, S: batch size and sequence length of this pass.
 *   train: false gives a plan with every site off.
 *   seed, step: the mask source (see stepKey).
 *   rows: this pass is a slice of a larger batch (default: the whole batch, {start: 0, total: B}).
 */
export function dropoutPlan(config: BertConfig, B: number, S: number, train: boolean, seed: number, step: number,
  rows: RowSlice = { start: 0, total: B }): DropoutPlan {
  const L = config.num_hidden_layers;
  if (!train) {
    return { emb: OFF, layers: Array.from({ length: L }, () => ({ attn: OFF, attnOut: OFF, ffnOut: OFF })), cls: OFF };
  }
  const { start, total } = rows;
  if (!(Number.isInteger(start) && Number.isInteger(total) && start >= 0 && start + B <= total)) {
    throw new RangeError(`dropoutPlan: rows [${start}, ${start + B}) are not inside a batch of ${total} rows`);
  }
  const key = stepKey(seed, step);
  const pH = config.hidden_dropout_prob;
  const pA = config.attention_probs_dropout_prob;
  const H = config.hidden_size;
  let next = 0;
  // a site of `perRow` counters per row of the global batch; this pass starts at row `start`
  const site = (p: number, perRow: number): DropSite => {
    const s = { p, seed: key, offset: next + start * perRow };
    next += total * perRow;
    return s;
  };
  const emb = site(pH, S * H);
  const layers: LayerDrops[] = [];
  for (let l = 0; l < L; l++) {
    layers.push({
      attn: site(pA, config.num_attention_heads * S * S),
      attnOut: site(pH, S * H),
      ffnOut: site(pH, S * H),
    });
  }
  const cls = site(pH, H);
  return { emb, layers, cls };
}
