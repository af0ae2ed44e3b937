// The ONNX graph of BertForSequenceClassification, with Optimum's names and axes, as onnxruntime and transformers.js
// load it:
//
//   inputs   input_ids, attention_mask, token_type_ids   int64 [batch_size, sequence_length]
//   output   logits                                     float32 [batch_size, num_labels]
//
// Standard operators only, from opset 14 on (no LayerNormalization, no Gelu: both are decomposed, the way
// torch.onnx exported BERT before they existed). The graph computes what bertfit's forward pass computes in
// evaluation mode (src/model/bert.ts): embeddings word + position + token type, post-LN encoder layers, tanh pooler
// on the first token, linear classifier. The head is the same for every problem type (regression and multi-label
// models output their raw logits too; config.json's problem_type tells readers how to use them).
//
// Linear layers are MatMul by the transposed weight ([in, out], named <hf name>.T) plus Add of the bias, which is the
// pattern onnxruntime's dynamic quantizer, and ./quantize.ts, rewrite into integer matrix products.
import type { BertClassifier } from '../model/bert.js';
import { geluKind } from '../model/config.js';
import { OptionError } from '../errors.js';
import { type AttributeProto, DataType, GraphBuilder, type GraphProto, attr, floatTensor, tensorValueInfo } from './onnx-proto.js';

/** The operator-set versions bertfit can write (14: the first with everything used here, as Optimum's default). */
export const MIN_OPSET = 14;
export const MAX_OPSET = 21;
export const DEFAULT_OPSET = 14;

/** Optimum's input and output names for text classification; transformers.js feeds exactly these. */
export const INPUT_NAMES = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export const OUTPUT_NAME = 'logits';

/**
 * The additive attention mask of padding keys: torch.finfo(float32).min, as transformers uses. exp(score + min -
 * max) is exactly 0 in float32, so padding keys get weight 0 as in bertfit's masked softmax.
 */
const MASK_VALUE = -3.4028234663852886e38;

/** The name of a linear layer's transposed ([in, out]) weight initializer. */
export function transposedWeightName(linear: string): string {
  return `${linear}.weight.T`;
}

/**
 * Builds the graph of a model.
 *
 * Args:
 *   model: a BertClassifier; its parameters are copied (transposed for linear weights) or viewed, so the model must
 *     not change until the graph has been written.
 *   opset: the default-domain opset version, MIN_OPSET..MAX_OPSET (18 and later take ReduceMean's axes as an input).
 * Returns: the GraphProto (nodes topologically sorted, weights as float32 initializers).
 */
export function bertGraph(model: BertClassifier, opset: number = DEFAULT_OPSET): GraphProto {
  if (!(Number.isInteger(opset) && opset >= MIN_OPSET && opset <= MAX_OPSET)) {
    throw new OptionError('opset', `must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  const c = model.config;
  const H = c.hidden_size, NH = c.num_attention_heads, D = H / NH, C = c.num_labels;
  const gelu = geluKind(c.hidden_act);
  const g = new GraphBuilder();
  const weight = (name: string, dims: number[]): string => g.init(floatTensor(name, dims, model.tensor(name)));

  // y = x W^T + b, with W [out, in] stored transposed as [in, out]
  const linear = (scope: string, x: string): string => {
    const w = model.layout.get(`${scope}.weight`);
    const [outDim, inDim] = w.shape as [number, number];
    const src = model.tensor(`${scope}.weight`);
    const t = new Float32Array(inDim * outDim);
    for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) t[i * outDim + o] = src[o * inDim + i]!;
    const wt = g.init(floatTensor(transposedWeightName(scope), [inDim, outDim], t));
    const b = weight(`${scope}.bias`, [outDim]);
    return g.op1(scope, 'Add', [g.op1(scope, 'MatMul', [x, wt]), b]);
  };

  // mean over the last axis, keepdims; opset 18 moved axes from an attribute to an input
  const reduceMeanLast = (scope: string, x: string): string =>
    opset >= 18 ? g.op1(scope, 'ReduceMean', [x, g.constInt64([-1])]) : g.op1(scope, 'ReduceMean', [x], [attr.ints('axes', [-1])]);

  // LayerNorm over the last axis with the biased variance (torch's): (x - mean) / sqrt(var + eps) * gamma + beta
  const layerNorm = (scope: string, x: string): string => {
    const mean = reduceMeanLast(scope, x);
    const d = g.op1(scope, 'Sub', [x, mean]);
    const variance = reduceMeanLast(scope, g.op1(scope, 'Mul', [d, d]));
    const std = g.op1(scope, 'Sqrt', [g.op1(scope, 'Add', [variance, g.constFloat([c.layer_norm_eps])])]);
    const y = g.op1(scope, 'Div', [d, std]);
    return g.op1(scope, 'Add', [g.op1(scope, 'Mul', [y, weight(`${scope}.weight`, [H])]), weight(`${scope}.bias`, [H])]);
  };

  // hidden_act "gelu": x * 0.5 * (1 + erf(x / sqrt 2)); "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast":
  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), the two forms bertfit's kernels compute
  const geluOf = (scope: string, x: string): string => {
    let inner: string;
    if (gelu === 'erf') {
      inner = g.op1(scope, 'Erf', [g.op1(scope, 'Div', [x, g.constFloat([Math.SQRT2])])]);
    } else {
      const cube = g.op1(scope, 'Mul', [g.op1(scope, 'Mul', [x, x]), x]);
      const poly = g.op1(scope, 'Add', [x, g.op1(scope, 'Mul', [cube, g.constFloat([0.044715])])]);
      inner = g.op1(scope, 'Tanh', [g.op1(scope, 'Mul', [poly, g.constFloat([Math.sqrt(2 / Math.PI)])])]);
    }
    const half = g.op1(scope, 'Mul', [x, g.constFloat([0.5])]);
    return g.op1(scope, 'Mul', [half, g.op1(scope, 'Add', [inner, g.constFloat([1])])]);
  };

  // ---- embeddings: word[ids] + token_type[tt] + position[0..S-1], then LayerNorm ----
  const emb = 'bert.embeddings';
  const [inputIds, attentionMask, tokenTypeIds] = INPUT_NAMES;
  const words = g.op1(emb, 'Gather', [weight(`${emb}.word_embeddings.weight`, [c.vocab_size, H]), inputIds]);
  const types = g.op1(emb, 'Gather', [weight(`${emb}.token_type_embeddings.weight`, [c.type_vocab_size, H]), tokenTypeIds]);
  // positions 0..S-1 for every row, padding or not (bertfit and transformers both do this)
  const seqLen = g.op1(emb, 'Gather', [g.op1(emb, 'Shape', [inputIds]), g.constInt64([1], [])], [attr.int('axis', 0)]);
  const positionIds = g.op1(emb, 'Range', [g.constInt64([0], []), seqLen, g.constInt64([1], [])]);
  const positions = g.op1(emb, 'Gather', [weight(`${emb}.position_embeddings.weight`, [c.max_position_embeddings, H]), positionIds]);
  const summed = g.op1(emb, 'Add', [g.op1(emb, 'Add', [words, types]), positions]);
  let hidden = layerNorm(`${emb}.LayerNorm`, summed);

  // ---- attention mask [B, S] (1 = token, 0 = padding) -> additive [B, 1, 1, S]: 0 or MASK_VALUE ----
  const ext = 'bert.extended_attention_mask';
  const mask4 = g.op1(ext, 'Cast', [g.op1(ext, 'Unsqueeze', [attentionMask, g.constInt64([1, 2])])], [attr.int('to', DataType.FLOAT)]);
  const additiveMask = g.op1(ext, 'Mul', [g.op1(ext, 'Sub', [g.constFloat([1]), mask4]), g.constFloat([MASK_VALUE])]);

  const perm = (p: number[]): AttributeProto[] => [attr.ints('perm', p)];
  const headsShape = g.constInt64([0, 0, NH, D]);   // Reshape: 0 keeps that input dimension (B, S)
  const mergedShape = g.constInt64([0, 0, H]);
  const sqrtD = g.constFloat([Math.sqrt(D)]);

  // ---- encoder layers ----
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const self = `${p}.attention.self`;
    const heads = (name: string, order: number[]): string =>
      g.op1(self, 'Transpose', [g.op1(self, 'Reshape', [linear(`${self}.${name}`, hidden), headsShape])], perm(order));
    const q = heads('query', [0, 2, 1, 3]);   // [B, NH, S, D]
    const kT = heads('key', [0, 2, 3, 1]);    // [B, NH, D, S]
    const v = heads('value', [0, 2, 1, 3]);   // [B, NH, S, D]
    const scores = g.op1(self, 'Add', [g.op1(self, 'Div', [g.op1(self, 'MatMul', [q, kT]), sqrtD]), additiveMask]);
    const probs = g.op1(self, 'Softmax', [scores], [attr.int('axis', -1)]);
    const ctxHeads = g.op1(self, 'Transpose', [g.op1(self, 'MatMul', [probs, v])], perm([0, 2, 1, 3]));   // [B, S, NH, D]
    const ctx = g.op1(self, 'Reshape', [ctxHeads, mergedShape]);
    const attnOut = linear(`${p}.attention.output.dense`, ctx);
    const h1 = layerNorm(`${p}.attention.output.LayerNorm`, g.op1(`${p}.attention.output`, 'Add', [attnOut, hidden]));
    const act = geluOf(`${p}.intermediate.intermediate_act_fn`, linear(`${p}.intermediate.dense`, h1));
    const ffn = linear(`${p}.output.dense`, act);
    hidden = layerNorm(`${p}.output.LayerNorm`, g.op1(`${p}.output`, 'Add', [ffn, h1]));
  }

  // ---- pooler on the first token, classifier ----
  const first = g.op1('bert.pooler', 'Gather', [hidden, g.constInt64([0], [])], [attr.int('axis', 1)]);   // [B, H]
  const pooled = g.op1('bert.pooler.activation', 'Tanh', [linear('bert.pooler.dense', first)]);
  const logits = linear('classifier', pooled);
  // the classifier's bias Add is the last node and nothing reads its output: give that the graph output's name
  const last = g.nodes[g.nodes.length - 1]!;
  if (last.output[0] !== logits) throw new Error('bertGraph: the classifier must be the last node');
  last.output[0] = OUTPUT_NAME;

  const io: [string, string] = ['batch_size', 'sequence_length'];
  return {
    name: 'main_graph',
    node: g.nodes,
    initializer: g.initializers,
    input: INPUT_NAMES.map((n) => tensorValueInfo(n, DataType.INT64, io)),
    output: [tensorValueInfo(OUTPUT_NAME, DataType.FLOAT, ['batch_size', C])],
  };
}
