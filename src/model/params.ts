// The flat parameter layout of BertForSequenceClassification: every tensor is a view (name, shape, offset) into
// ONE Float32Array of parameters, and the same offsets address ONE Float32Array of gradients, so the optimizer,
// gradient clipping and grad accumulation each work on a single buffer.
//
// Names are the canonical Hugging Face ones (Linear weights [out, in]). The query/key/value weights of a layer are
// laid out back to back, so together they are the fused [3H, H] projection matrix (and their biases a [3H] vector)
// without any copy.
import type { BertConfig } from './config.js';
import { expectedTensors } from './checkpoint/names.js';

export interface ParamTensor {
  /** canonical transformers name, e.g. `bert.encoder.layer.0.attention.self.query.weight` */
  name: string;
  shape: number[];
  /** element offset into the flat buffer */
  offset: number;
  /** element count (product of shape) */
  size: number;
  /** true for matrices (weight decay applies); false for biases and LayerNorm parameters */
  decay: boolean;
}

/** Views of one encoder layer's tensors inside a flat buffer (parameters or gradients). */
export interface LayerViews {
  qkvW: Float32Array;     // [3H, H]  query | key | value weights
  qkvB: Float32Array;     // [3H]
  attnOutW: Float32Array; // [H, H]
  attnOutB: Float32Array; // [H]
  ln1G: Float32Array;     // [H]  attention.output.LayerNorm
  ln1B: Float32Array;     // [H]
  interW: Float32Array;   // [F, H]
  interB: Float32Array;   // [F]
  outW: Float32Array;     // [H, F]
  outB: Float32Array;     // [H]
  ln2G: Float32Array;     // [H]  output.LayerNorm
  ln2B: Float32Array;     // [H]
}

/** Views of the whole model inside a flat buffer. */
export interface ModelViews {
  wordEmb: Float32Array;  // [V, H]
  posEmb: Float32Array;   // [P, H]
  typeEmb: Float32Array;  // [T, H]
  embLnG: Float32Array;   // [H]
  embLnB: Float32Array;   // [H]
  layers: LayerViews[];
  poolW: Float32Array;    // [H, H]
  poolB: Float32Array;    // [H]
  clsW: Float32Array;     // [C, H]
  clsB: Float32Array;     // [C]
}

// Tensors (or fused groups) start on 64-byte boundaries so vectorised kernels see aligned rows.
const ALIGN = 16;

export class ParamLayout {
  readonly tensors: ParamTensor[] = [];
  /** total element count of the flat buffer (including alignment padding, which stays zero) */
  readonly size: number;
  private readonly byName = new Map<string, ParamTensor>();

  constructor(readonly config: BertConfig) {
    let offset = 0;
    const add = (name: string, shape: number[], aligned: boolean): void => {
      if (aligned) offset = Math.ceil(offset / ALIGN) * ALIGN;
      const size = shape.reduce((a, b) => a * b, 1);
      const t: ParamTensor = { name, shape, offset, size, decay: shape.length === 2 };
      this.tensors.push(t);
      this.byName.set(name, t);
      offset += size;
    };
    // Names and shapes come from the checkpoint module's list, so the model and the loader cannot disagree; only
    // the order changes: query, key, value weights (and biases) of a layer go back to back, unpadded, so that they
    // form the fused [3H, H] weight and [3H] bias.
    const expected = expectedTensors(config);
    const shapeOf = new Map(expected.map((e) => [e.name, e.shape]));
    for (const e of expected) {
      const m = /^(.*\.attention\.self\.)(query|key|value)\.(weight|bias)$/.exec(e.name);
      if (!m) {
        add(e.name, e.shape, true);
      } else if (m[2] === 'query') {
        for (const part of ['query', 'key', 'value']) {
          const name = `${m[1]}${part}.${m[3]}`;
          const shape = shapeOf.get(name);
          if (!shape) throw new Error(`expectedTensors lists ${e.name} but not ${name}`);
          add(name, shape, part === 'query');
        }
      }
    }
    this.size = Math.ceil(offset / ALIGN) * ALIGN;
  }

  /** The tensor called `name`; throws naming it when the layout has no such tensor. */
  get(name: string): ParamTensor {
    const t = this.byName.get(name);
    if (!t) throw new Error(`no parameter named "${name}" in this model`);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** View of tensor `name` inside `buf` (a params or grads buffer of this layout). */
  view(buf: Float32Array, name: string): Float32Array {
    const t = this.get(name);
    return buf.subarray(t.offset, t.offset + t.size);
  }

  /** Views of every tensor inside `buf`, grouped the way the forward/backward code uses them. */
  views(buf: Float32Array): ModelViews {
    if (buf.length !== this.size) throw new RangeError(`buffer has ${buf.length} elements, the layout needs ${this.size}`);
    const v = (name: string): Float32Array => this.view(buf, name);
    // A span from the first tensor of a fused group to the end of its last.
    const span = (first: string, last: string): Float32Array => {
      const a = this.get(first);
      const b = this.get(last);
      return buf.subarray(a.offset, b.offset + b.size);
    };
    const layers: LayerViews[] = [];
    for (let l = 0; l < this.config.num_hidden_layers; l++) {
      const p = `bert.encoder.layer.${l}.`;
      layers.push({
        qkvW: span(p + 'attention.self.query.weight', p + 'attention.self.value.weight'),
        qkvB: span(p + 'attention.self.query.bias', p + 'attention.self.value.bias'),
        attnOutW: v(p + 'attention.output.dense.weight'),
        attnOutB: v(p + 'attention.output.dense.bias'),
        ln1G: v(p + 'attention.output.LayerNorm.weight'),
        ln1B: v(p + 'attention.output.LayerNorm.bias'),
        interW: v(p + 'intermediate.dense.weight'),
        interB: v(p + 'intermediate.dense.bias'),
        outW: v(p + 'output.dense.weight'),
        outB: v(p + 'output.dense.bias'),
        ln2G: v(p + 'output.LayerNorm.weight'),
        ln2B: v(p + 'output.LayerNorm.bias'),
      });
    }
    return {
      wordEmb: v('bert.embeddings.word_embeddings.weight'),
      posEmb: v('bert.embeddings.position_embeddings.weight'),
      typeEmb: v('bert.embeddings.token_type_embeddings.weight'),
      embLnG: v('bert.embeddings.LayerNorm.weight'),
      embLnB: v('bert.embeddings.LayerNorm.bias'),
      layers,
      poolW: v('bert.pooler.dense.weight'),
      poolB: v('bert.pooler.dense.bias'),
      clsW: v('classifier.weight'),
      clsB: v('classifier.bias'),
    };
  }
}
