// Dynamic int8 quantization of an exported graph, the way onnxruntime's quantize_dynamic(per_channel=True,
// weight_type=QInt8) rewrites it, with standard operators only (no com.microsoft ops), so any ONNX runtime runs it:
//
//   y = x W + b        (MatMul by an [in, out] float weight, then Add)
// becomes
//   x_q, x_scale, x_zp = DynamicQuantizeLinear(x)            uint8, per tensor, computed at run time
//   acc = MatMulInteger(x_q, W_q, x_zp, 0)                   int32;  W_q int8 [in, out]
//   y   = Cast<float>(acc) * (x_scale * w_scale) + b         w_scale [out]: one scale per output channel
//
// Weights are symmetric per output channel: w_scale[n] = max_k |W[k, n]| / 127, W_q = round(W / w_scale) in
// [-127, 127] (round half to even, as numpy), zero point 0. Activations are asymmetric uint8 over the whole tensor
// (DynamicQuantizeLinear's rule), so an int8 model's outputs for one sequence depend slightly on what else is in the
// batch, padding included. Which linears are quantized is the caller's choice; the default is every linear layer
// of the encoder (query, key, value, attention output, intermediate, output: all but a sliver of the compute), while
// the pooler and classifier, which write the logits directly and cost almost nothing, stay float32. Embeddings,
// LayerNorm, softmax and the attention products (activation x activation) stay float32 too.
//
// On x86 CPUs without VNNI, onnxruntime's u8 x s8 kernels add pairs of products in int16 (vpmaddubsw), which can
// saturate; its quantizer offers reduce_range (7-bit weights) for those machines. bertfit writes full-range weights,
// which CPUs with AVX-512 VNNI or AVX-VNNI multiply exactly.
import { DataType, type GraphProto, type NodeProto, type TensorProto, attr, floatData, floatTensor, int8Tensor, makeNode } from './onnx-proto.js';

export interface QuantizeResult {
  graph: GraphProto;
  /** the linear layers quantized (transformers names, e.g. bert.encoder.layer.0.attention.self.query) */
  quantized: string[];
}

const ENCODER_LINEAR = /^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$/;

/** The default selection: the six linear layers of every encoder layer. */
export function isEncoderLinear(linear: string): boolean {
  return ENCODER_LINEAR.test(linear);
}

/** round half to even, as numpy.round (onnxruntime's quantizer) rounds */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric int8 quantization of a [K, N] weight, one scale per column (output channel).
 *
 * Args: w: [K, N] row-major; K inputs, N outputs.
 * Returns: q [K, N] int8 in [-127, 127]; scale [N] (1 for an all-zero column, as onnxruntime).
 */
export function quantizePerColumn(w: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n]!, Math.abs(w[k * N + n]!));
  }
  for (let n = 0; n < N; n++) scale[n] = scale[n]! > 0 ? Math.fround(scale[n]! / 127) : 1;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) q[k * N + n] = Math.max(-127, Math.min(127, roundHalfEven(w[k * N + n]! / scale[n]!)));
  }
  return { q, scale };
}

/**
 * Rewrites the selected linear layers of a graph built by bertGraph into integer products (see the top of the file).
 * The input graph is not changed; float weights of quantized layers are left out of the result.
 *
 * Args:
 *   graph: MatMul nodes whose second input is an initializer named <linear>.weight.T ([in, out] float32)
 *   select: which linears to quantize (default: isEncoderLinear)
 * Returns: the new graph and the names of the quantized linears, in graph order.
 */
export function quantizeDynamicInt8(graph: GraphProto, select: (linear: string) => boolean = isEncoderLinear): QuantizeResult {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const nodes: NodeProto[] = [];
  const added: TensorProto[] = [];
  const dropped = new Set<string>();
  const quantized: string[] = [];
  // one DynamicQuantizeLinear per activation, shared by the linears that read it (query, key and value)
  const quantizedInputs = new Map<string, [string, string, string]>();
  const weightZeroPoint = 'int8_zero_point';

  for (const node of graph.node) {
    const w = node.op_type === 'MatMul' ? inits.get(node.input[1]!) : undefined;
    const linear = w?.name.endsWith('.weight.T') ? w.name.slice(0, -'.weight.T'.length) : undefined;
    if (!w || linear === undefined || !select(linear) || w.data_type !== DataType.FLOAT || w.dims.length !== 2) {
      nodes.push(node);
      continue;
    }
    const [K, N] = w.dims as [number, number];
    const { q, scale } = quantizePerColumn(floatData(w), K, N);
    const wq = `${w.name}_quantized`, ws = `${w.name}_scale`;
    added.push(int8Tensor(wq, [K, N], q), floatTensor(ws, [N], scale));
    dropped.add(w.name);

    const x = node.input[0]!;
    let xq = quantizedInputs.get(x);
    if (!xq) {
      xq = [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`];
      nodes.push(makeNode('DynamicQuantizeLinear', [x], xq, `${x}_DynamicQuantizeLinear`));
      quantizedInputs.set(x, xq);
    }
    const base = node.name.replace(/\/MatMul(_\d+)?$/, '');
    const acc = `${base}/MatMulInteger_output_0`, accF = `${base}/Cast_output_0`, sc = `${base}/scale_output_0`;
    nodes.push(
      makeNode('MatMulInteger', [xq[0], wq, xq[2], weightZeroPoint], [acc], `${base}/MatMulInteger`),
      makeNode('Cast', [acc], [accF], `${base}/Cast`, [attr.int('to', DataType.FLOAT)]),
      makeNode('Mul', [xq[1], ws], [sc], `${base}/Mul_scale`),
      // same output name as the MatMul it replaces: the bias Add after it reads it unchanged
      makeNode('Mul', [accF, sc], [node.output[0]!], `${base}/Mul_dequantize`),
    );
    quantized.push(linear);
  }
  if (quantized.length > 0) added.push(int8Tensor(weightZeroPoint, [], Int8Array.of(0)));
  const initializer = [...graph.initializer.filter((t) => !dropped.has(t.name)), ...added];
  return { graph: { ...graph, node: nodes, initializer }, quantized };
}
