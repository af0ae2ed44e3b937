// Adam / AdamW over the model's flat parameter buffer, PyTorch semantics (torch.optim.Adam / AdamW).
// Weight decay applies only to tensors flagged `decay` (matrices), never to biases or LayerNorm, as in
// the BERT and nanoGPT recipes.
import { native } from '../native/index.js';

export interface ParamTensorLike {
  name: string;
  offset: number;
  size: number;
  decay: boolean;
}

export interface AdamOptions {
  /** 'adamw' = decoupled weight decay (p *= 1 - lr*wd); 'adam' = L2 added to the gradient */
  kind: 'adam' | 'adamw';
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/** A contiguous run of tensors that share a decay flag: one native call per run instead of per tensor. */
interface Segment {
  offset: number;
  size: number;
  decay: boolean;
}

export class Adam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** optimizer steps taken so far (bias correction uses step + 1 for the next update) */
  step = 0;
  private readonly segments: Segment[];

  constructor(private readonly params: Float32Array, private readonly grads: Float32Array,
    tensors: readonly ParamTensorLike[], readonly options: AdamOptions) {
    this.m = new Float32Array(params.length);
    this.v = new Float32Array(params.length);
    this.segments = mergeSegments(tensors);
  }

  /** One update with learning rate lr, using the gradients currently in `grads`. */
  update(lr: number): void {
    this.step += 1;
    const o = this.options;
    for (const s of this.segments) {
      const end = s.offset + s.size;
      native.adamUpdate(this.params.subarray(s.offset, end), this.grads.subarray(s.offset, end),
        this.m.subarray(s.offset, end), this.v.subarray(s.offset, end), lr, o.beta1, o.beta2, o.eps,
        s.decay ? o.weightDecay : 0, this.step, o.kind === 'adamw');
    }
  }

  state(): AdamState {
    return { step: this.step, m: this.m, v: this.v };
  }

  restore(s: AdamState): void {
    if (s.m.length !== this.m.length || s.v.length !== this.v.length) {
      throw new Error(`optimizer state has ${s.m.length} moments, the model has ${this.m.length} parameters`);
    }
    this.m.set(s.m);
    this.v.set(s.v);
    this.step = s.step;
  }
}

function mergeSegments(tensors: readonly ParamTensorLike[]): Segment[] {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  const out: Segment[] = [];
  for (const t of sorted) {
    const last = out[out.length - 1];
    if (last && last.decay === t.decay && last.offset + last.size === t.offset) last.size += t.size;
    else out.push({ offset: t.offset, size: t.size, decay: t.decay });
  }
  return out;
}
