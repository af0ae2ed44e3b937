// Pooler and classification head: logits = dropout(tanh(h[CLS] Wp^T + bp)) Wc^T + bc.
import { native } from '../../native/index.js';
import type { HeadActs } from '../activations.js';
import type { DropSite } from '../dropout.js';
import type { Operands } from '../mixed.js';
import type { ModelViews } from '../params.js';
import { linearBackward, linearForward } from './linear.js';

type F32 = Float32Array;

/**
 * Args:
 *   a: head activations; writes a.pooled, a.pooledDrop [B, H] and a.logits [B, C]
 *   hidden: [B, S, H] final encoder output; only the [CLS] row (s = 0) of each sequence is read
 *   ops: GEMM operand precision (bf16 rounds the [CLS] rows and the pooled vector before their products)
 */
export function headForward(a: HeadActs, P: ModelViews, hidden: F32, B: number, S: number, H: number, C: number,
  drop: DropSite, ops: Operands): void {
  // pooled[B, H] = tanh(hidden[:, 0] @ Wp^T + bp): the [CLS] rows are read in place, S*H apart
  linearForward(a.pooled, hidden, P.poolW, P.poolB, B, H, H, { ldx: S * H, ops });
  native.tanhForward(a.pooled, a.pooled, B * H);
  const x = classifierInput(a, drop);
  if (drop.p > 0) native.dropoutForward(a.pooled, x, B * H, drop.p, drop.seed, drop.offset);
  // logits[B, C] = x @ Wc^T + bc
  linearForward(a.logits, x, P.clsW, P.clsB, B, H, C, { ops });
}

/** The classifier's input: the dropped pooled vector, or pooled itself when the site is off. */
function classifierInput(a: HeadActs, drop: DropSite): F32 {
  return drop.p > 0 ? a.pooledDrop : a.pooled;
}

/**
 * Backward from d logits. Writes d hidden into dhidden [B, S, H] (zero except the [CLS] rows).
 *
 * Args:
 *   dlogits: [B, C];  dpool: [B, H] scratch
 *   ops: GEMM operand precision, the forward's
 */
export function headBackward(dhidden: F32, dlogits: F32, dpool: F32, a: HeadActs, P: ModelViews, G: ModelViews,
  hidden: F32, B: number, S: number, H: number, C: number, drop: DropSite, ops: Operands): void {
  linearBackward(dpool, dlogits, classifierInput(a, drop), P.clsW, G.clsW, G.clsB, B, H, C, { ops });
  if (drop.p > 0) native.dropoutBackward(dpool, dpool, B * H, drop.p, drop.seed, drop.offset);
  native.tanhBackward(a.pooled, dpool, dpool, B * H);
  dhidden.fill(0);
  linearBackward(dhidden, dpool, hidden, P.poolW, G.poolW, G.poolB, B, H, H, { ldx: S * H, ops });
}
