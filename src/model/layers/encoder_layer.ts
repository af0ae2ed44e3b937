// One post-LayerNorm transformer encoder layer (BertLayer):
//   h1  = LayerNorm(x + dropout(Attention(x) Wo^T + bo))
//   out = LayerNorm(h1 + dropout(gelu(h1 Wi^T + bi) Wo2^T + bo2))
import { native } from '../../native/index.js';
import type { GeluKind } from '../../native/api.js';
import type { LayerActs, Scratch } from '../activations.js';
import type { LayerDrops } from '../dropout.js';
import type { Operands } from '../mixed.js';
import type { LayerViews } from '../params.js';
import { attentionBackward, attentionForward } from './attention.js';
import { linearBackward, linearForward } from './linear.js';
import { dropoutBackwardTo, dropoutResidualForward } from './residual.js';

export interface LayerDims {
  B: number;
  S: number;
  H: number;
  NH: number;
  F: number;
  eps: number;
  gelu: GeluKind;
}

/**
 * Args:
 *   a: the layer's activations; reads a.x [B*S, H], writes everything else, a.out [B*S, H] last
 *   P: the layer's parameters
 *   sc: scratch (sc.att holds dropped attention probabilities, sc.ff the GELU output)
 *   validLen: [B] real tokens per sequence (attention mask)
 *   ops: GEMM operand precision (fp32 or bf16 copies); with a.b16 (bf16 training) the rounded operands are kept there
 */
export function layerForward(a: LayerActs, P: LayerViews, sc: Scratch, validLen: Int32Array, d: LayerDims,
  drop: LayerDrops, ops: Operands): void {
  const { H, F } = d;
  const N = d.B * d.S;
  const k = a.b16;
  // qkv[N, 3H] = x @ [Wq; Wk; Wv]^T + [bq; bk; bv]: one GEMM for all three projections
  linearForward(a.qkv, a.x, P.qkvW, P.qkvB, N, H, 3 * H, { ops, keepX: k?.x });
  attentionForward(a.ctx, a.probs, sc.att, a.qkv, validLen, d, drop.attn, ops, k);
  // res1[N, H] = x + dropout(ctx @ Wo^T + bo);  h1 = LayerNorm(res1)
  linearForward(a.res1, a.ctx, P.attnOutW, P.attnOutB, N, H, H, { ops, keepX: k?.ctx });
  dropoutResidualForward(a.res1, a.x, drop.attnOut);
  native.layerNormForward(a.res1, P.ln1G, P.ln1B, a.h1, a.ln1Mean, a.ln1Rstd, N, H, d.eps);
  // pre[N, F] = h1 @ Wi^T + bi (bias folded into the GELU kernel);  act = gelu(pre) -> sc.ff
  linearForward(a.pre, a.h1, P.interW, null, N, H, F, { ops, keepX: k?.h1 });
  native.biasGeluForward(a.pre, P.interB, sc.ff, N, F, d.gelu);
  // res2[N, H] = h1 + dropout(act @ Wo2^T + bo2);  out = LayerNorm(res2)
  linearForward(a.res2, sc.ff, P.outW, P.outB, N, F, H, { ops, keepX: k?.act });
  dropoutResidualForward(a.res2, a.h1, drop.ffnOut);
  native.layerNormForward(a.res2, P.ln2G, P.ln2B, a.out, a.ln2Mean, a.ln2Rstd, N, H, d.eps);
}

/**
 * Backward of layerForward. On entry sc.g holds d(out) [N, H]; on return it holds d(x). Parameter gradients
 * accumulate into G.
 *
 * Args:
 *   zerosF: [F] zeros, to recompute gelu(pre) with the bias kernel without changing pre
 *   ops: GEMM operand precision, the forward's; with a.b16 (bf16 training) backward multiplies with the kept
 *        bf16 operands and reads no fp32 qkv, ctx or h1 (those buffers are shared by all layers then)
 */
export function layerBackward(a: LayerActs, P: LayerViews, G: LayerViews, sc: Scratch, zerosF: Float32Array,
  d: LayerDims, drop: LayerDrops, ops: Operands): void {
  const { H, F } = d;
  const N = d.B * d.S;
  const k = a.b16;
  // d res2 -> t1
  native.layerNormBackward(sc.g, a.res2, P.ln2G, a.ln2Mean, a.ln2Rstd, sc.t1, G.ln2G, G.ln2B, N, H, false);
  const dffn = dropoutBackwardTo(sc.t1, sc.t2, drop.ffnOut);
  // fp32 did not keep the GELU output: recompute it into sc.ff. linearBackward reads it for dWo2 before it writes
  // d(act) over it.
  if (!k) native.biasGeluForward(a.pre, zerosF, sc.ff, N, F, d.gelu);
  linearBackward(sc.ff, dffn, sc.ff, P.outW, G.outW, G.outB, N, F, H, { ops, keptX: k?.act });
  native.geluBackward(a.pre, sc.ff, sc.ff, N * F, d.gelu);
  // d h1 = d pre @ Wi + d res2 (the residual), accumulated into t1 which holds d res2
  linearBackward(sc.t1, sc.ff, a.h1, P.interW, G.interW, G.interB, N, H, F, { accumulateDx: true, ops, keptX: k?.h1 });
  // d res1 -> g
  native.layerNormBackward(sc.t1, a.res1, P.ln1G, a.ln1Mean, a.ln1Rstd, sc.g, G.ln1G, G.ln1B, N, H, false);
  const dattnOut = dropoutBackwardTo(sc.g, sc.t2, drop.attnOut);
  // d ctx -> t1
  linearBackward(sc.t1, dattnOut, a.ctx, P.attnOutW, G.attnOutW, G.attnOutB, N, H, H, { ops, keptX: k?.ctx });
  attentionBackward(sc.dqkv, sc.t1, a.qkv, a.probs, sc.att, d, drop.attn, ops, k);
  // d x = d qkv @ [Wq; Wk; Wv] + d res1 (the residual), accumulated into g which holds d res1
  linearBackward(sc.g, sc.dqkv, a.x, P.qkvW, G.qkvW, G.qkvB, N, H, 3 * H, { accumulateDx: true, ops, keptX: k?.x });
}
