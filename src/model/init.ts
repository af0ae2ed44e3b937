// Parameter initialisation as in BERT / transformers' BertPreTrainedModel._init_weights: matrices (Linear and
// Embedding weights) ~ N(0, initializer_range), biases 0, LayerNorm weight 1 and bias 0.
//
// Every tensor draws from its own stream seeded by (seed, tensor name), so a tensor's initial values do not
// depend on which other tensors exist or were initialised (a new classifier head gets the same values whatever
// checkpoint it sits on).
import type { ParamTensor } from './params.js';

/** 32-bit FNV-1a of a string, to turn tensor names into stream ids. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32: fast, 2^128 period, good enough for initialisation. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN;

  constructor(seed: number, stream = 0) {
    let x = (Math.floor(seed) ^ Math.imul(stream, 0x9e3779b9)) >>> 0;
    // High bits of seeds beyond 2^32 still matter.
    x = (x ^ Math.floor(seed / 0x100000000)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** uniform 32-bit unsigned integer */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** uniform in (0, 1) */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** standard normal (Marsaglia's polar method; the second value of each pair is kept for the next call) */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const q = u * u + v * v;
      if (q > 0 && q < 1) {
        const f = Math.sqrt((-2 * Math.log(q)) / q);
        this.spare = v * f;
        return u * f;
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fills `data` (the values of tensor `t`) with its BERT initial values. */
export function initTensor(t: ParamTensor, data: Float32Array, std: number, seed: number): void {
  if (t.name.endsWith('LayerNorm.weight')) {
    data.fill(1);
  } else if (t.shape.length === 1) {
    data.fill(0);
  } else {
    const rng = new Rng(seed, fnv1a(t.name));
    for (let i = 0; i < data.length; i++) data[i] = std * rng.normal();
  }
}

/** Initialises every tensor of `tensors` inside the flat buffer `params`. */
export function initParams(tensors: readonly ParamTensor[], params: Float32Array, std: number, seed: number): void {
  for (const t of tensors) initTensor(t, params.subarray(t.offset, t.offset + t.size), std, seed);
}
