// Preallocated activation memory of BertClassifier.
//
// Buffers are allocated for the largest batch seen so far (tokens B*S, attention elements B*NH*S*S, rows B) and
// reused by every step; a bigger batch grows them once. A forward pass binds exact-size views for its [B, S].
//
// Only what backward needs is kept per layer: the fused qkv, the attention probabilities (dropout masks are
// regenerated from Philox, the dropped probabilities recomputed), the context, both LayerNorm inputs with their
// statistics, the LayerNorm-1 output and the GELU input. The GELU output and the dropped probabilities live in
// shared scratch and are recomputed in backward. Inference (no backward) shares one layer slot and ping-pongs
// two hidden-state buffers.
//
// bf16 training keeps the GEMM operands backward multiplies with as the bf16 copies forward rounded anyway
// (LayerBf16: layer input, qkv, dropped probabilities, context, LayerNorm-1 output, GELU output), so backward
// neither re-rounds them nor recomputes GELU or the dropped probabilities. The fp32 qkv, context and LayerNorm-1
// output are then needed only inside forward and share one buffer set for all layers; per layer this costs about
// what fp32 training keeps (44 vs 48 bytes per token and hidden unit, plus 2 bytes per attention probability).
import type { BertConfig } from './config.js';

type F32 = Float32Array;
type BF16 = Uint16Array;

/** bf16 copies of one layer's GEMM operands, written by forward and read by backward (bf16 training only). */
export interface LayerBf16 {
  x: BF16;   // [N, H] layer input
  qkv: BF16; // [3, B, NH, S, D] query | key | value, each head-major (dense per head; see layers/attention.ts)
  P: BF16;   // [B, NH, S, S] attention probabilities after dropout (the P of ctx = P V)
  ctx: BF16; // [N, H]
  h1: BF16;  // [N, H] LayerNorm-1 output
  act: BF16; // [N, F] GELU output
}

/** What one encoder layer keeps from forward for backward. N = B*S. */
export interface LayerActs {
  x: F32;       // [N, H] layer input
  qkv: F32;     // [N, 3H] fused query | key | value (bias added)
  probs: F32;   // [B, NH, S, S] attention probabilities before dropout
  ctx: F32;     // [N, H] attention context, heads concatenated
  res1: F32;    // [N, H] x + dropout(attention output): LayerNorm-1 input
  ln1Mean: F32; // [N]
  ln1Rstd: F32; // [N]
  h1: F32;      // [N, H] LayerNorm-1 output
  pre: F32;     // [N, F] GELU input (intermediate bias added)
  res2: F32;    // [N, H] h1 + dropout(ffn output): LayerNorm-2 input
  ln2Mean: F32; // [N]
  ln2Rstd: F32; // [N]
  out: F32;     // [N, H] layer output (the next layer's x)
  /** bf16 training: the kept GEMM operands; then qkv, ctx and h1 above are shared by all layers (forward only) */
  b16: LayerBf16 | null;
}

export interface EmbActs {
  ids: Int32Array;     // [N] token ids (a copy: the caller may reuse its batch before backward)
  typeIds: Int32Array; // [N] token type ids
  posIds: Int32Array;  // [N] position of each token
  sum: F32;           // [N, H] word + position + type: LayerNorm input
  mean: F32;          // [N]
  rstd: F32;          // [N]
  out: F32;           // [N, H] after LayerNorm and dropout (the first layer's x)
}

export interface HeadActs {
  pooled: F32;    // [B, H] tanh(dense(h[CLS]))
  pooledDrop: F32; // [B, H] dropout(pooled): classifier input
  logits: F32;    // [B, C]
  probs: F32;     // [B, C] softmax(logits), from loss()
  labels: Int32Array; // [B] labels of the last loss()
}

/** Shared temporaries, valid only inside one forward or backward call. */
export interface Scratch {
  att: F32;  // [B, NH, S, S] dropped probabilities, then their gradient
  ff: F32;   // [N, F] GELU output, then its gradient
  dqkv: F32; // [N, 3H]
  g: F32;    // [N, H] gradient flowing down the residual stream
  t1: F32;   // [N, H]
  t2: F32;   // [N, H]
  dpool: F32; // [B, H]
  dlogits: F32; // [B, C]
}

export interface Bound {
  B: number;
  S: number;
  emb: EmbActs;
  layers: LayerActs[];
  head: HeadActs;
  scratch: Scratch;
}

interface SlotBuffers {
  qkv: F32; probs: F32; ctx: F32; res1: F32; ln1Mean: F32; ln1Rstd: F32; h1: F32; pre: F32; res2: F32;
  ln2Mean: F32; ln2Rstd: F32; b16: LayerBf16 | null;
}

/** What a bound pass keeps: fp32 for backward, bf16 operands for backward, or nothing (inference). */
export type KeepMode = 'fp32' | 'bf16' | 'none';

export class Activations {
  private capTokens = 0;
  private capAtt = 0;
  private capRows = 0;
  private slots: SlotBuffers[] = [];
  /** the mode the slots were laid out for ('none' and 'fp32' share a layout) */
  private slotsBf16 = false;
  private hidden: F32[] = [];
  private emb: { ids: Int32Array; typeIds: Int32Array; posIds: Int32Array; sum: F32; mean: F32; rstd: F32 } | null = null;
  private head: { pooled: F32; pooledDrop: F32; logits: F32; probs: F32; labels: Int32Array } | null = null;
  private scratch: Scratch | null = null;

  constructor(private readonly config: BertConfig) {}

  /** Bytes currently allocated (for reports). */
  get bytes(): number {
    let n = 0;
    const add = (a: { byteLength: number } | null | undefined): void => {
      if (a) n += a.byteLength;
    };
    // bf16 slots share their fp32 qkv/ctx/h1: count each buffer once
    const seen = new Set<ArrayBufferLike>();
    for (const s of this.slots) {
      for (const a of [...Object.values(s), ...Object.values(s.b16 ?? {})]) {
        if (a && typeof a === 'object' && 'buffer' in a && !seen.has(a.buffer)) {
          seen.add(a.buffer);
          add(a);
        }
      }
    }
    for (const h of this.hidden) add(h);
    if (this.emb) for (const a of Object.values(this.emb)) add(a);
    if (this.head) for (const a of Object.values(this.head)) add(a);
    if (this.scratch) for (const a of Object.values(this.scratch)) add(a);
    return n;
  }

  /**
   * Views for a [B, S] forward pass. keep 'fp32' / 'bf16' binds one slot per layer (training: backward follows;
   * 'bf16' with the bf16 operand copies); 'none' shares one slot and two hidden buffers among all layers.
   */
  bind(B: number, S: number, mode: KeepMode): Bound {
    const keep = mode !== 'none';
    const { hidden_size: H, intermediate_size: F, num_attention_heads: NH, num_labels: C } = this.config;
    const L = this.config.num_hidden_layers;
    const N = B * S;
    const A = B * NH * S * S;
    const nSlots = keep ? L : 1;
    const nHidden = keep ? L + 1 : 2;
    // Switching between fp32 and bf16 training lays the layer slots out anew; inference uses slot 0 of either
    // layout (its fp32 buffers are its own), so alternating training and evaluation reallocates nothing.
    const bf16 = mode === 'none' ? this.slotsBf16 : mode === 'bf16';
    if (bf16 !== this.slotsBf16) {
      this.slots = [];
      this.slotsBf16 = bf16;
    }
    if (N > this.capTokens || A > this.capAtt || B > this.capRows) {
      // Grow everything at once to the new maximum; the old buffers become garbage.
      this.capTokens = Math.max(this.capTokens, N);
      this.capAtt = Math.max(this.capAtt, A);
      this.capRows = Math.max(this.capRows, B);
      this.slots = [];
      this.hidden = [];
      this.emb = null;
      this.head = null;
      this.scratch = null;
    }
    const T = this.capTokens;
    const R = this.capRows;
    while (this.slots.length < nSlots) {
      const first = this.slots[0];
      const shared = bf16 && first !== undefined;
      this.slots.push({
        qkv: shared ? first.qkv : new Float32Array(T * 3 * H), probs: new Float32Array(this.capAtt),
        ctx: shared ? first.ctx : new Float32Array(T * H),
        res1: new Float32Array(T * H), ln1Mean: new Float32Array(T), ln1Rstd: new Float32Array(T),
        h1: shared ? first.h1 : new Float32Array(T * H), pre: new Float32Array(T * F), res2: new Float32Array(T * H),
        ln2Mean: new Float32Array(T), ln2Rstd: new Float32Array(T),
        b16: bf16 ? {
          x: new Uint16Array(T * H), qkv: new Uint16Array(T * 3 * H), P: new Uint16Array(this.capAtt),
          ctx: new Uint16Array(T * H), h1: new Uint16Array(T * H), act: new Uint16Array(T * F),
        } : null,
      });
    }
    while (this.hidden.length < nHidden) this.hidden.push(new Float32Array(T * H));
    this.emb ??= {
      ids: new Int32Array(T), typeIds: new Int32Array(T), posIds: new Int32Array(T), sum: new Float32Array(T * H), mean: new Float32Array(T), rstd: new Float32Array(T) };
    this.head ??= {
      pooled: new Float32Array(R * H), pooledDrop: new Float32Array(R * H), logits: new Float32Array(R * C),
      probs: new Float32Array(R * C), labels: new Int32Array(R),
    };
    this.scratch ??= {
      att: new Float32Array(this.capAtt), ff: new Float32Array(T * F), dqkv: new Float32Array(T * 3 * H),
      g: new Float32Array(T * H), t1: new Float32Array(T * H), t2: new Float32Array(T * H),
      dpool: new Float32Array(R * H), dlogits: new Float32Array(R * C),
    };

    const v = (a: F32, n: number): F32 => a.subarray(0, n);
    const w = (a: BF16, n: number): BF16 => a.subarray(0, n);
    const hiddenOf = (i: number): F32 => v(this.hidden[keep ? i : i % 2], N * H);
    const layers: LayerActs[] = [];
    for (let l = 0; l < L; l++) {
      const s = this.slots[keep ? l : 0];
      layers.push({
        x: hiddenOf(l), qkv: v(s.qkv, N * 3 * H), probs: v(s.probs, A), ctx: v(s.ctx, N * H), res1: v(s.res1, N * H),
        ln1Mean: v(s.ln1Mean, N), ln1Rstd: v(s.ln1Rstd, N), h1: v(s.h1, N * H), pre: v(s.pre, N * F),
        res2: v(s.res2, N * H), ln2Mean: v(s.ln2Mean, N), ln2Rstd: v(s.ln2Rstd, N), out: hiddenOf(l + 1),
        b16: s.b16 && keep ? {
          x: w(s.b16.x, N * H), qkv: w(s.b16.qkv, N * 3 * H), P: w(s.b16.P, A), ctx: w(s.b16.ctx, N * H),
          h1: w(s.b16.h1, N * H), act: w(s.b16.act, N * F),
        } : null,
      });
    }
    const e = this.emb;
    const posIds = e.posIds.subarray(0, N);
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) posIds[b * S + s] = s;
    const h = this.head;
    const sc = this.scratch;
    return {
      B, S,
      emb: { ids: e.ids.subarray(0, N), typeIds: e.typeIds.subarray(0, N), posIds, sum: v(e.sum, N * H), mean: v(e.mean, N), rstd: v(e.rstd, N), out: hiddenOf(0) },
      layers,
      head: {
        pooled: v(h.pooled, B * H), pooledDrop: v(h.pooledDrop, B * H), logits: v(h.logits, B * C),
        probs: v(h.probs, B * C), labels: h.labels.subarray(0, B),
      },
      scratch: {
        att: v(sc.att, A), ff: v(sc.ff, N * F), dqkv: v(sc.dqkv, N * 3 * H), g: v(sc.g, N * H), t1: v(sc.t1, N * H),
        t2: v(sc.t2, N * H), dpool: v(sc.dpool, B * H), dlogits: v(sc.dlogits, B * C),
      },
    };
  }
}
