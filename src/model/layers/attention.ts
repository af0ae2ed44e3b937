// Multi-head scaled dot-product self-attention on the fused projection buffer.
//
// qkv holds, for each token, its query | key | value vectors side by side ([B, S, 3H], head h of each at columns
// h*D .. h*D+D-1 of its third). In fp32 the head matrices are strided views of qkv, and every product below is one
// strided-batched GEMM over (batch, head) with no transposing copies.
//
// bf16 rounds q, k and v into head-major copies ([B, NH, S, D] each, dense) instead: the rounding pass is needed
// anyway, moving the heads costs nothing extra in it, and dense heads let oneDNN run each product as ONE batched
// AMX primitive rather than B*NH small ones (native/gemm.cc; ~3x faster at BERT-base size). The context is written
// token-major straight from the GEMM; the gradients of q, k, v come out head-major and are moved into dqkv.
import { native } from '../../native/index.js';
import type { DropSite } from '../dropout.js';
import { Bf16Operands, type Operands } from '../mixed.js';

type F32 = Float32Array;

export interface AttnDims {
  B: number;
  S: number;
  H: number;
  NH: number;
}

/** bf16 training: the rounded q | k | v heads and dropped probabilities forward writes and backward multiplies with. */
export interface AttnBf16 {
  qkv: Uint16Array; // [3, B, NH, S, D]
  P: Uint16Array;   // [B, NH, S, S]
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
 *   ops: GEMM operand precision
 *   keep: bf16 training: where to leave the rounded heads and dropped probabilities for backward
 */
export function attentionForward(ctx: F32, probs: F32, dropped: F32, qkv: F32, validLen: Int32Array, dims: AttnDims,
  drop: DropSite, ops: Operands, keep: AttnBf16 | null = null): void {
  if (ops instanceof Bf16Operands) {
    attentionForwardBf16(ctx, probs, dropped, qkv, validLen, dims, drop, ops, keep);
    return;
  }
  const { B, S, H, NH } = dims;
  const D = H / NH;
  // Head h of sequence b starts at b*S*width + h*D in a [B, S, width] token buffer, at (b*NH + h)*S*S in probs.
  const q = { outer: S * 3 * H, inner: D };
  const heads = { batchOuter: B, batchInner: NH };
  const att = { outer: NH * S * S, inner: S * S };
  // scores[b, h] (S x S) = Q[b, h] (S x D) @ K[b, h]^T
  native.gemm({
    ...heads, transB: true, m: S, n: S, k: D,
    a: qkv, lda: 3 * H, strideAOuter: q.outer, strideAInner: q.inner,
    b: qkv.subarray(H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: probs, ldc: S, strideCOuter: att.outer, strideCInner: att.inner,
  });
  const useDrop = drop.p > 0;
  native.softmaxForward(probs, validLen, B, NH, S, S, 1 / Math.sqrt(D), drop.p, drop.seed, drop.offset,
    useDrop ? dropped : null);
  // ctx[b, :, h] (S x D) = P[b, h] (S x S) @ V[b, h] (S x D)
  const c = { outer: S * H, inner: D };
  native.gemm({
    ...heads, m: S, n: D, k: S,
    a: useDrop ? dropped : probs, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: qkv.subarray(2 * H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
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
 *   kept: bf16: forward's rounded heads and dropped probabilities (required; qkv is then not read)
 */
export function attentionBackward(dqkv: F32, dctx: F32, qkv: F32, probs: F32, scratch: F32, dims: AttnDims,
  drop: DropSite, ops: Operands, kept: AttnBf16 | null = null): void {
  if (ops instanceof Bf16Operands) {
    if (!kept) throw new Error('attentionBackward: bf16 multiplies with the operands forward kept; none were given');
    attentionBackwardBf16(dqkv, dctx, probs, scratch, dims, drop, ops, kept);
    return;
  }
  const { B, S, H, NH } = dims;
  const D = H / NH;
  const q = { outer: S * 3 * H, inner: D };
  const c = { outer: S * H, inner: D };
  const heads = { batchOuter: B, batchInner: NH };
  const att = { outer: NH * S * S, inner: S * S };
  const useDrop = drop.p > 0;
  // The dropped probabilities are the left operand of dV; regenerate them rather than keep them from forward.
  if (useDrop) native.dropoutForward(probs, scratch, probs.length, drop.p, drop.seed, drop.offset);
  // dV[b, h] (S x D) = P[b, h]^T (S x S) @ dctx[b, :, h] (S x D)
  native.gemm({
    ...heads, transA: true, m: S, n: D, k: S,
    a: useDrop ? scratch : probs, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: dctx, ldb: H, strideBOuter: c.outer, strideBInner: c.inner,
    c: dqkv.subarray(2 * H), ldc: 3 * H, strideCOuter: q.outer, strideCInner: q.inner,
  });
  // dP[b, h] (S x S) = dctx[b, :, h] (S x D) @ V[b, h]^T
  native.gemm({
    ...heads, transB: true, m: S, n: S, k: D,
    a: dctx, lda: H, strideAOuter: c.outer, strideAInner: c.inner,
    b: qkv.subarray(2 * H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: scratch, ldc: S, strideCOuter: att.outer, strideCInner: att.inner,
  });
  // dScores = softmax'(dP) including the 1/sqrt(D) scale (and the dropout mask), in place.
  native.softmaxBackward(probs, scratch, scratch, B * NH * S, S, 1 / Math.sqrt(D), drop.p, drop.seed, drop.offset);
  // dQ[b, h] (S x D) = dScores (S x S) @ K[b, h] (S x D)
  native.gemm({
    ...heads, m: S, n: D, k: S,
    a: scratch, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: qkv.subarray(H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: dqkv, ldc: 3 * H, strideCOuter: q.outer, strideCInner: q.inner,
  });
  // dK[b, h] (S x D) = dScores^T (S x S) @ Q[b, h] (S x D)
  native.gemm({
    ...heads, transA: true, m: S, n: D, k: S,
    a: scratch, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
    b: qkv, ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner,
    c: dqkv.subarray(H), ldc: 3 * H, strideCOuter: q.outer, strideCInner: q.inner,
  });
}

// ---- bf16: dense head-major operands ----

/** Strides of the (batch, head) matrices of a dense [B, NH, rows, cols] tensor. */
function dense(NH: number, rows: number, cols: number) {
  return { outer: NH * rows * cols, inner: rows * cols, ld: cols };
}

/** q | k | v of qkv [B, S, 3H] rounded into head-major [3, B, NH, S, D] (`into`, or the 'a' scratch slot). */
function roundHeads(qkv: F32, dims: AttnDims, ops: Bf16Operands, into: Uint16Array | null): Uint16Array[] {
  const { B, S, H, NH } = dims;
  const n = B * S * H;
  const all = into ? into.subarray(0, 3 * n) : ops.bf16Scratch('a', 3 * n);
  return [0, 1, 2].map((i) => {
    const part = all.subarray(i * n, (i + 1) * n);
    native.toHeadsBf16(qkv.subarray(i * H), 3 * H, part, B, S, NH, H / NH);
    return part;
  });
}

function attentionForwardBf16(ctx: F32, probs: F32, dropped: F32, qkv: F32, validLen: Int32Array, dims: AttnDims,
  drop: DropSite, ops: Bf16Operands, keep: AttnBf16 | null): void {
  const { B, S, H, NH } = dims;
  const D = H / NH;
  const [Q, K, V] = roundHeads(qkv, dims, ops, keep?.qkv ?? null);
  const heads = { batchOuter: B, batchInner: NH };
  const hd = dense(NH, S, D);
  const att = dense(NH, S, S);
  // scores[b, h] (S x S) = Q[b, h] (S x D) @ K[b, h]^T
  native.gemm({
    ...heads, transB: true, m: S, n: S, k: D,
    a: Q!, lda: hd.ld, strideAOuter: hd.outer, strideAInner: hd.inner,
    b: K!, ldb: hd.ld, strideBOuter: hd.outer, strideBInner: hd.inner,
    c: probs, ldc: att.ld, strideCOuter: att.outer, strideCInner: att.inner,
  });
  const useDrop = drop.p > 0;
  native.softmaxForward(probs, validLen, B, NH, S, S, 1 / Math.sqrt(D), drop.p, drop.seed, drop.offset,
    useDrop ? dropped : null);
  const P = ops.act(useDrop ? dropped : probs, 'att', B * NH * S, S, S, keep?.P).data;
  // ctx[b, :, h] (S x D) = P[b, h] (S x S) @ V[b, h] (S x D), written token-major (row stride H)
  native.gemm({
    ...heads, m: S, n: D, k: S,
    a: P, lda: att.ld, strideAOuter: att.outer, strideAInner: att.inner,
    b: V!, ldb: hd.ld, strideBOuter: hd.outer, strideBInner: hd.inner,
    c: ctx, ldc: H, strideCOuter: S * H, strideCInner: D,
  });
}

function attentionBackwardBf16(dqkv: F32, dctx: F32, probs: F32, scratch: F32, dims: AttnDims, drop: DropSite,
  ops: Bf16Operands, kept: AttnBf16): void {
  const { B, S, H, NH } = dims;
  const D = H / NH;
  const n = B * S * H;
  const rows = B * NH * S;
  const heads = { batchOuter: B, batchInner: NH };
  const hd = dense(NH, S, D);
  const att = dense(NH, S, S);
  const [Q, K, V] = [0, 1, 2].map((i) => kept.qkv.subarray(i * n, (i + 1) * n));
  const P = kept.P.subarray(0, rows * S);
  const dC = ops.bf16Scratch('b', n);
  native.toHeadsBf16(dctx, H, dC, B, S, NH, D);
  const dh = ops.f32Scratch(3 * n);
  const [dQ, dK, dV] = [0, 1, 2].map((i) => dh.subarray(i * n, (i + 1) * n));
  // dV[b, h] (S x D) = P[b, h]^T (S x S) @ dctx[b, h] (S x D)
  native.gemm({
    ...heads, transA: true, m: S, n: D, k: S,
    a: P, lda: att.ld, strideAOuter: att.outer, strideAInner: att.inner,
    b: dC, ldb: hd.ld, strideBOuter: hd.outer, strideBInner: hd.inner,
    c: dV!, ldc: hd.ld, strideCOuter: hd.outer, strideCInner: hd.inner,
  });
  // dP[b, h] (S x S) = dctx[b, h] (S x D) @ V[b, h]^T
  native.gemm({
    ...heads, transB: true, m: S, n: S, k: D,
    a: dC, lda: hd.ld, strideAOuter: hd.outer, strideAInner: hd.inner,
    b: V!, ldb: hd.ld, strideBOuter: hd.outer, strideBInner: hd.inner,
    c: scratch, ldc: att.ld, strideCOuter: att.outer, strideCInner: att.inner,
  });
  // dScores = softmax'(dP) including the 1/sqrt(D) scale (and the dropout mask), in place, then rounded
  native.softmaxBackward(probs, scratch, scratch, rows, S, 1 / Math.sqrt(D), drop.p, drop.seed, drop.offset);
  const dS = ops.act(scratch, 'att', rows, S).data;
  // dQ[b, h] (S x D) = dScores (S x S) @ K[b, h] (S x D)
  native.gemm({
    ...heads, m: S, n: D, k: S,
    a: dS, lda: att.ld, strideAOuter: att.outer, strideAInner: att.inner,
    b: K!, ldb: hd.ld, strideBOuter: hd.outer, strideBInner: hd.inner,
    c: dQ!, ldc: hd.ld, strideCOuter: hd.outer, strideCInner: hd.inner,
  });
  // dK[b, h] (S x D) = dScores^T (S x S) @ Q[b, h] (S x D)
  native.gemm({
    ...heads, transA: true, m: S, n: D, k: S,
    a: dS, lda: att.ld, strideAOuter: att.outer, strideAInner: att.inner,
    b: Q!, ldb: hd.ld, strideBOuter: hd.outer, strideBInner: hd.inner,
    c: dK!, ldc: hd.ld, strideCOuter: hd.outer, strideCInner: hd.inner,
  });
  // head-major gradients -> the q | k | v column blocks of dqkv
  [dQ, dK, dV].forEach((g, i) => native.fromHeads(g!, dqkv.subarray(i * H), 3 * H, B, S, NH, D));
}
