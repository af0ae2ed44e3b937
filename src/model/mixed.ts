// bf16 mixed precision: GEMM operands in bf16, everything else in fp32.
//
// What is bf16: the two inputs of every GEMM (weights and the activations / gradients multiplied with them).
// What stays fp32: the master weights (params), gradients, optimizer state, GEMM accumulation and outputs (C is fp32),
// LayerNorm, softmax, GELU, dropout, residual adds, the loss. That is PyTorch's CPU autocast policy for linear and
// matmul, with fp32 master weights as in its mixed-precision training recipes.
//
// The weights are rounded to bf16 ONCE per forward pass into a shadow buffer laid out exactly like params (a view
// of params at element offset o has its bf16 copy at offset o of the shadow), so backward reuses the forward's copy.
// Activation operands are rounded just before the GEMM that reads them, into grow-only scratch (no allocation per
// step) or, in training, into the layer's kept bf16 copies (./activations.ts LayerBf16), which backward then
// multiplies with directly instead of rounding the fp32 activations again.
import { native } from '../native/index.js';
import type { ParamTensor } from './params.js';

export type ComputeType = 'fp32' | 'bf16';

/** The scratch slots an operand can be rounded into; two operands of one GEMM must use different slots. */
export type Slot = 'a' | 'b' | 'att';

/** A GEMM operand: the data (Float32Array or bf16 Uint16Array) and the row stride to read it with. */
export interface Operand {
  data: Float32Array | Uint16Array;
  ld: number;
}

/**
 * How a layer gets the GEMM operands for the current compute type. Layers call it for every GEMM input; in fp32
 * it hands the arrays back unchanged, in bf16 it returns bf16 copies.
 */
export interface Operands {
  readonly type: ComputeType;
  /** The operand for weight W (a view of params). */
  weight(W: Float32Array): Float32Array | Uint16Array;
  /**
   * The operand for activation x read as [rows, cols] with row stride ld (default cols).
   * bf16: rounds the rows densely into `into` when given (a copy backward will reuse), else into `slot`
   * (the returned ld is cols); fp32: x itself with ld.
   */
  act(x: Float32Array, slot: Slot, rows: number, cols: number, ld?: number, into?: Uint16Array | null): Operand;
  /** The operand for activation x whose bf16 copy forward kept (`copy`, dense [rows, cols]); without one, act(). */
  kept(x: Float32Array, copy: Uint16Array | null | undefined, slot: Slot, rows: number, cols: number, ld?: number): Operand;
}

/** fp32: every operand is the fp32 array itself. */
export const FP32: Operands = {
  type: 'fp32',
  weight: (W) => W,
  act: (x, _slot, _rows, cols, ld = cols) => ({ data: x, ld }),
  kept: (x, _copy, _slot, _rows, cols, ld = cols) => ({ data: x, ld }),
};

/**
 * The bf16 copy of the GEMM weights. Only the span from the first encoder matrix to the end of params is rounded:
 * the embedding tables (a quarter of BERT-base) are gathered, never multiplied, and stay fp32 only.
 */
export class Bf16Weights {
  /** bf16 bits, indexed like params; outside [lo, hi) it stays zero */
  readonly bits: Uint16Array;
  readonly lo: number;
  readonly hi: number;

  constructor(private readonly params: Float32Array, tensors: readonly ParamTensor[]) {
    this.bits = new Uint16Array(params.length);
    const gemm = tensors.filter((t) => t.shape.length === 2 && !t.name.startsWith('bert.embeddings.'));
    if (gemm.length === 0) throw new Error('Bf16Weights: the model has no GEMM weights');
    this.lo = Math.min(...gemm.map((t) => t.offset));
    this.hi = Math.max(...gemm.map((t) => t.offset + t.size));
  }

  /** Rounds the current fp32 weights (call once per forward pass, after any optimizer step). */
  refresh(): void {
    const n = this.hi - this.lo;
    native.f32ToBf16(this.params.subarray(this.lo, this.hi), this.bits.subarray(this.lo, this.hi), n);
  }

  /** The bf16 view matching W, a view of params inside the rounded span. */
  of(W: Float32Array): Uint16Array {
    if (W.buffer !== this.params.buffer) throw new Error('Bf16Weights.of: the weight is not a view of the model parameters');
    const off = (W.byteOffset - this.params.byteOffset) / Float32Array.BYTES_PER_ELEMENT;
    if (off < this.lo || off + W.length > this.hi) {
      throw new RangeError(`Bf16Weights.of: elements [${off}, ${off + W.length}) are outside the rounded span [${this.lo}, ${this.hi})`);
    }
    return this.bits.subarray(off, off + W.length);
  }
}

/** Grow-only bf16 scratch, one buffer per slot. */
class Scratch {
  private readonly bufs: Record<Slot, Uint16Array> = { a: new Uint16Array(0), b: new Uint16Array(0), att: new Uint16Array(0) };

  get(slot: Slot, n: number): Uint16Array {
    // Grown to the largest request seen; the sizes of a model's GEMM operands are fixed per batch shape, so after
    // the first step nothing is allocated.
    if (this.bufs[slot].length < n) this.bufs[slot] = new Uint16Array(n);
    return this.bufs[slot].subarray(0, n);
  }

  get bytes(): number {
    return this.bufs.a.byteLength + this.bufs.b.byteLength + this.bufs.att.byteLength;
  }
}

/** bf16 operands: weights from the shadow, activations rounded into scratch. */
export class Bf16Operands implements Operands {
  readonly type = 'bf16' as const;
  readonly weights: Bf16Weights;
  private readonly scratch = new Scratch();
  private f32 = new Float32Array(0);

  constructor(params: Float32Array, tensors: readonly ParamTensor[]) {
    this.weights = new Bf16Weights(params, tensors);
  }

  /** Bytes of the weight shadow and the scratch. */
  get bytes(): number {
    return this.weights.bits.byteLength + this.scratch.bytes + this.f32.byteLength;
  }

  /** The bf16 scratch of `slot`, n values (valid until the slot's next use). */
  bf16Scratch(slot: Slot, n: number): Uint16Array {
    return this.scratch.get(slot, n);
  }

  /** fp32 scratch of n values (bf16 attention's per-head gradients), grow-only. */
  f32Scratch(n: number): Float32Array {
    if (this.f32.length < n) this.f32 = new Float32Array(n);
    return this.f32.subarray(0, n);
  }

  weight(W: Float32Array): Uint16Array {
    return this.weights.of(W);
  }

  act(x: Float32Array, slot: Slot, rows: number, cols: number, ld = cols, into: Uint16Array | null = null): Operand {
    const n = rows * cols;
    if (into && into.length < n) throw new RangeError(`Bf16Operands.act: the kept copy holds ${into.length} values, needs ${n}`);
    const dst = into ? into.subarray(0, n) : this.scratch.get(slot, n);
    if (ld === cols) {
      native.f32ToBf16(x, dst, n);
    } else {
      // Strided rows (the pooler reads the [CLS] row of each sequence): B small conversions.
      for (let r = 0; r < rows; r++) native.f32ToBf16(x.subarray(r * ld, r * ld + cols), dst.subarray(r * cols, (r + 1) * cols), cols);
    }
    return { data: dst, ld: cols };
  }

  kept(x: Float32Array, copy: Uint16Array | null | undefined, slot: Slot, rows: number, cols: number, ld = cols): Operand {
    return copy ? { data: copy.subarray(0, rows * cols), ld: cols } : this.act(x, slot, rows, cols, ld);
  }
}
