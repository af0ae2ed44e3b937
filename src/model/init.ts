// Parameter initialisation as in BERT / transformers' BertPreTrainedModel._init_weights: matrices (Linear and
// Embedding weights) ~ N(0, initializer_range), biases 0, LayerNorm weight 1 and bias 0.
//
// Every tensor draws from its own stream seeded by (seed, tensor name), so a tensor's initial values do not
// depend on which other tensors exist or were initialised (a new classifier head gets the same values whatever
// checkpoint it sits on).
import { Rng } from '../data/rng.js';
import type { ParamTensor } from './params.js';

/** 32-bit FNV-1a of a string: turns "seed:tensor name" into the seed of that tensor's stream. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Fills `out` with N(0, std) samples: Marsaglia's polar method on the Rng's uniform stream, both values of a pair used. */
function fillNormal(out: Float32Array, std: number, rng: Rng): void {
  const uniform = (): number => (rng.nextU32() + 0.5) / 4294967296;  // in (0, 1)
  for (let i = 0; i < out.length;) {
    const u = 2 * uniform() - 1;
    const v = 2 * uniform() - 1;
    const q = u * u + v * v;
    if (q === 0 || q >= 1) continue;
    const f = std * Math.sqrt((-2 * Math.log(q)) / q);
    out[i++] = u * f;
    if (i < out.length) out[i++] = v * f;
  }
}

/** Fills `data` (the values of tensor `t`) with its BERT initial values. */
export function initTensor(t: ParamTensor, data: Float32Array, std: number, seed: number): void {
  if (t.name.endsWith('LayerNorm.weight')) {
    data.fill(1);
  } else if (t.shape.length === 1) {
    data.fill(0);
  } else {
    fillNormal(data, std, new Rng(fnv1a(`${seed}:${t.name}`)));
  }
}

/** Initialises every tensor of `tensors` inside the flat buffer `params`. */
export function initParams(tensors: readonly ParamTensor[], params: Float32Array, std: number, seed: number): void {
  for (const t of tensors) initTensor(t, params.subarray(t.offset, t.offset + t.size), std, seed);
}
