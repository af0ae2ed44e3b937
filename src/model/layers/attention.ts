// Multi-head scaled dot-product self-attention on the fused projection buffer.
//
// qkv holds, for each token, its query | key | value vectors side by side ([B, S, 3H], head h of each at columns
// h*D .. h*D+D-1 of its third). The head matrices are therefore strided views of qkv, and every product below is one
// strided-batched GEMM over (batch, head) with no transposing copies. GEMM operands come from `ops` (../mixed.ts):
// in bf16 the fp32 qkv, probabilities and gradients are rounded into scratch right before the products that read them.
import { native } from '../../native/index.js';
import type { DropSite } from '../dropout.js';
import type { Operands } from '../mixed.js';

type F32 = Float32Array;

export interface AttnDims {
  B: number;
  S: number;
  H: number;
  NH: number;
}

/**
 * ctx = softmax(Q K^T / sqrt(D) + mask) V for every sequence and head; padding keys (j >= validLen[b]) get weight 0.
 *
 * Args:
 *   ctx: [B, S, H] output, heads concatenated
 *   probs: [B, NH, S, S] output, attention probabilities (kept for backward)
 *   dropped: [B, NH, S, S] scratch for dropout(probs); unused when drop.p == 0
 *   qkv: [B, S, 3H] fused projections
 *   validLen: [B] real tokens per sequence
 */
export function attentionForward(ctx: F32, probs: F32, dropped: F32, qkv: F32, validLen: Int32Array, dims: AttnDims,
  drop: DropSite, ops: Operands): void {
  const { B, S, H, NH } = dims;
  const D = H / NH;
  // Head h of sequence b starts at b*S*width + h*D in a [B, S, width] token buffer, at (b*NH + h)*S*S in probs.
  const q = { outer: S * 3 * H, inner: D };
  const heads = { batchOuter: B, batchInner: NH };
  const att = { outer: NH * S * S, inner: S * S };
  const QKV = ops.act(qkv, 'a', B * S, 3 * H).data;
  // scores[b, h] (S x S) = Q[b, h] (S x D) @ K[b, h]^T
  native.gemm({
    ...heads, transB: true, m: S, n: S, k: D,
    a: QKV, lda: 3 * H, strideAOuter: q.outer, strideAInner: q.inner,
    b: QKV.subarray(H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: probs, ldc: S, strideCOuter: att.outer, strideCInner: att.inner,
  });
  const useDrop = drop.p > 0;
  native.softmaxForward(probs, validLen, B, NH, S, S, 1 / Math.sqrt(D), drop.p, drop.seed, drop.offset,
    useDrop ? dropped : null);
  const P = ops.act(useDrop ? dropped : probs, 'att', B * NH * S, S).data;
  // ctx[b, :, h] (S x D) = P[b, h] (S x S) @ V[b, h] (S x D)
  const c = { outer: S * H, inner: D };
  native.gemm({
    ...heads, m: S, n: D, k: S,
    a: P, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: QKV.subarray(2 * H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: ctx, ldc: H, strideCOuter: c.outer, strideCInner: c.inner,
  });
}

/**
 * Gradient of attentionForward with respect to qkv.
 *
 * Args:
 *   dqkv: [B, S, 3H] output (overwritten)
 *   dctx: [B, S, H] gradient of ctx
 *   qkv, probs: as kept by forward
 *   scratch: [B, NH, S, S] temporary (dropped probabilities, then the score gradient)
 */
export function attentionBackward(dqkv: F32, dctx: F32, qkv: F32, probs: F32, scratch: F32, dims: AttnDims,
  drop: DropSite, ops: Operands): void {
  const { B, S, H, NH } = dims;
  const D = H / NH;
  const q = { outer: S * 3 * H, inner: D };
  const c = { outer: S * H, inner: D };
  const heads = { batchOuter: B, batchInner: NH };
  const att = { outer: NH * S * S, inner: S * S };
  const rows = B * NH * S;
  const useDrop = drop.p > 0;
  // The dropped probabilities are the right operand of dV; regenerate them rather than keep them from forward.
  if (useDrop) native.dropoutForward(probs, scratch, probs.length, drop.p, drop.seed, drop.offset);
  const P = ops.act(useDrop ? scratch : probs, 'att', rows, S).data;
  const QKV = ops.act(qkv, 'a', B * S, 3 * H).data;
  const dC = ops.act(dctx, 'b', B * S, H).data;
  // dV[b, h] (S x D) = P[b, h]^T (S x S) @ dctx[b, :, h] (S x D)
  native.gemm({
    ...heads, transA: true, m: S, n: D, k: S,
    a: P, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: dC, ldb: H, strideBOuter: c.outer, strideBInner: c.inner,
    c: dqkv.subarray(2 * H), ldc: 3 * H, strideCOuter: q.outer, strideCInner: q.inner,
  });
  // dP[b, h] (S x S) = dctx[b, :, h] (S x D) @ V[b, h]^T   (P, when it is the fp32 scratch, is dead from here on)
  native.gemm({
    ...heads, transB: true, m: S, n: S, k: D,
    a: dC, lda: H, strideAOuter: c.outer, strideAInner: c.inner,
    b: QKV.subarray(2 * H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: scratch, ldc: S, strideCOuter: att.outer, strideCInner: att.inner,
  });
  // dScores = softmax'(dP) including the 1/sqrt(D) scale (and the dropout mask), in place.
  native.softmaxBackward(probs, scratch, scratch, rows, S, 1 / Math.sqrt(D), drop.p, drop.seed, drop.offset);
  const dS = ops.act(scratch, 'att', rows, S).data;
  // dQ[b, h] (S x D) = dScores (S x S) @ K[b, h] (S x D)
  native.gemm({
    ...heads, m: S, n: D, k: S,
    a: dS, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: QKV.subarray(H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: dqkv, ldc: 3 * H, strideCOuter: q.outer, strideCInner: q.inner,
  });
  // dK[b, h] (S x D) = dScores^T (S x S) @ Q[b, h] (S x D)
  native.gemm({
    ...heads, transA: true, m: S, n: D, k: S,
    a: dS, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: QKV, ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: dqkv.subarray(H), ldc: 3 * H, strideCOuter: q.outer, strideCInner: q.inner,
  });
}
