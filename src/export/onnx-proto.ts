// ONNX files from TypeScript: the official schema (assets/onnx.proto, copied verbatim from onnx/onnx, Apache-2.0)
// loaded with protobufjs, plain objects shaped like its messages (field names as in the .proto, snake_case), small
// builders for tensors, attributes, nodes and value infos, and the writer that puts a model on disk, moving the
// weights to an external data file when the protobuf would come near its 2 GiB limit.
//
// Tensors are always stored as raw_data: fixed-width little-endian bytes, which is also what the external data file
// holds, so the two layouts differ only in where the bytes live.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { writeFileDurable } from '../util/atomic.js';
import { packageRoot } from '../util/paths.js';

/** TensorProto.DataType values bertfit writes. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values bertfit writes. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** TensorProto with its bytes in raw_data, or (external data) in another file described by external_data. */
export interface TensorProto {
  name: string;
  data_type: DataTypeCode;
  dims: number[];
  raw_data?: Uint8Array;
  /** 1 = EXTERNAL (then external_data says where) */
  data_location?: number;
  external_data?: StringStringEntry[];
}

export interface StringStringEntry {
  key: string;
  value: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  op_type: string;
  input: string[];
  output: string[];
  name: string;
  /** '' (or absent) = the default ONNX domain */
  domain?: string;
  attribute: AttributeProto[];
}

/** A dimension: a fixed size, or a named symbolic one ("batch_size"). */
export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface OnnxModel {
  graph: GraphProto;
  /** version of the default ("ai.onnx") operator set */
  opset: number;
  doc_string?: string;
  /** ModelProto.metadata_props */
  metadata?: Record<string, string>;
}

let schema: protobuf.Type | null = null;

/** onnx.ModelProto from assets/onnx.proto, loaded once; keepCase keeps the .proto's snake_case field names. */
export function modelProtoType(): protobuf.Type {
  if (!schema) {
    const file = path.join(packageRoot, 'assets', 'onnx.proto');
    const root = new protobuf.Root().loadSync(file, { keepCase: true });
    schema = root.lookupType('onnx.ModelProto');
  }
  return schema;
}

/** The version of bertfit (ModelProto.producer_version). */
export function bertfitVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The IR version to declare for an opset (onnx/onnx docs/Versioning.md): IR 8 (onnx 1.10-1.13, read by every
 * current runtime) up to opset 18, IR 9 for opsets 19-20, IR 10 for 21.
 */
export function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

// ---- tensors ----

const littleEndian = os.endianness() === 'LE';

/** The bytes of a typed array in little-endian order (a view when the machine is little-endian, else a copy). */
function leBytes(a: Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (littleEndian || a.BYTES_PER_ELEMENT === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) for (let j = 0; j < w; j++) out[i + j] = bytes[i + w - 1 - j]!;
  return out;
}

function checkCount(name: string, dims: readonly number[], n: number): void {
  const want = dims.reduce((a, b) => a * b, 1);
  if (want !== n) throw new RangeError(`tensor ${name}: dims [${dims}] need ${want} values, got ${n}`);
}

/** A float32 tensor; data is viewed, not copied, on little-endian machines (keep it unchanged until written). */
export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  checkCount(name, dims, data.length);
  return { name, data_type: DataType.FLOAT, dims: [...dims], raw_data: leBytes(data) };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  checkCount(name, dims, values.length);
  return { name, data_type: DataType.INT64, dims: [...dims], raw_data: leBytes(BigInt64Array.from(values, (v) => BigInt(v))) };
}

export function int8Tensor(name: string, dims: readonly number[], data: Int8Array): TensorProto {
  checkCount(name, dims, data.length);
  return { name, data_type: DataType.INT8, dims: [...dims], raw_data: leBytes(data) };
}

export function uint8Tensor(name: string, dims: readonly number[], data: Uint8Array): TensorProto {
  checkCount(name, dims, data.length);
  return { name, data_type: DataType.UINT8, dims: [...dims], raw_data: leBytes(data) };
}

/** A tensor's values as float32 (FLOAT tensors with raw_data only; for transforms such as quantization). */
export function floatData(t: TensorProto): Float32Array {
  if (t.data_type !== DataType.FLOAT || !t.raw_data) throw new TypeError(`tensor ${t.name} is not a float32 tensor with raw_data`);
  const b = t.raw_data;
  if (littleEndian && b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Float32Array.from({ length: b.byteLength / 4 }, (_, i) => dv.getFloat32(4 * i, true));
}

// ---- attributes, nodes, value infos ----

export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttrType.INT, i }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttrType.FLOAT, f }),
  ints: (name: string, ints: readonly number[]): AttributeProto => ({ name, type: AttrType.INTS, ints: [...ints] }),
  floats: (name: string, floats: readonly number[]): AttributeProto => ({ name, type: AttrType.FLOATS, floats: [...floats] }),
  string: (name: string, s: string): AttributeProto => ({ name, type: AttrType.STRING, s: Buffer.from(s, 'utf8') }),
  tensor: (name: string, t: TensorProto): AttributeProto => ({ name, type: AttrType.TENSOR, t }),
};

export function makeNode(opType: string, input: readonly string[], output: readonly string[], name: string,
  attribute: AttributeProto[] = []): NodeProto {
  return { op_type: opType, input: [...input], output: [...output], name, attribute };
}

/** A graph input/output: a tensor of elemType with named (symbolic) or fixed dimensions. */
export function tensorValueInfo(name: string, elemType: DataTypeCode, dims: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

/**
 * Builds a graph node by node with unique value and node names. Names follow torch.onnx's scoped style
 * ("/bert/encoder/layer.0/attention/self/MatMul"), so that graphs read the same in Netron and in error messages.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();

  /**
   * Adds a node; returns its output names.
   *
   * Args:
   *   scope: "bert.encoder.layer.0.attention.self"-style path of the module the node belongs to
   *   opType: the operator; inputs: value names ('' for an omitted optional input)
   *   attrs: its attributes; outputs: how many outputs
   */
  op(scope: string, opType: string, inputs: readonly string[], attrs: AttributeProto[] = [], outputs = 1): string[] {
    const base = `/${scope.split('.').join('/')}/${opType}`;
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    this.nodes.push(makeNode(opType, inputs, outs, name, attrs));
    return outs;
  }

  /** op() for single-output nodes. */
  op1(scope: string, opType: string, inputs: readonly string[], attrs: AttributeProto[] = []): string {
    return this.op(scope, opType, inputs, attrs, 1)[0]!;
  }

  /** Adds an initializer; returns its name (which must be new). */
  init(t: TensorProto): string {
    if (this.used.has(t.name)) throw new Error(`GraphBuilder: the name ${t.name} is taken`);
    this.used.add(t.name);
    this.initializers.push(t);
    return t.name;
  }

  /** A shared float32 constant (scalar when dims is []), added once per distinct value. */
  constFloat(values: readonly number[], dims: readonly number[] = []): string {
    return this.constant('f32', values, dims, (name) => floatTensor(name, dims, Float32Array.from(values)));
  }

  /** A shared int64 constant (scalar when dims is []), added once per distinct value. */
  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant('i64', values, dims, (name) => int64Tensor(name, dims, values));
  }

  private constant(kind: string, values: readonly number[], dims: readonly number[], make: (name: string) => TensorProto): string {
    const key = `${kind}[${dims}]:${values.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.init(make(`const_${kind}_${this.constants.size}`));
      this.constants.set(key, name);
    }
    return name;
  }
}

// ---- writing ----

/** Encodes a model whose tensors all carry their bytes (raw_data) or external_data entries. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const T = modelProtoType();
  const message = {
    ir_version: irVersionFor(model.opset),
    opset_import: [{ domain: '', version: model.opset }],
    producer_name: 'bertfit',
    producer_version: bertfitVersion(),
    doc_string: model.doc_string ?? '',
    graph: model.graph,
    metadata_props: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  return T.encode(message).finish();
}

/** Decodes an .onnx file's bytes (for tests and checks); tensors keep raw_data / external_data as stored. */
export function decodeModel(bytes: Uint8Array): { ir_version: number; opset_import: { domain: string; version: number }[]; producer_name: string; producer_version: string; graph: GraphProto } {
  const T = modelProtoType();
  return T.toObject(T.decode(bytes), { longs: Number, defaults: true, arrays: true }) as ReturnType<typeof decodeModel>;
}

/**
 * Size above which writeModel moves the weights out of the protobuf: protobuf messages cannot exceed 2 GiB, and the
 * graph itself (nodes, names, small tensors) needs some room besides the weights.
 */
export const EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 2 ** 26;

/** Tensors smaller than this stay inside the protobuf when the weights go external (onnx's size_threshold). */
const EXTERNAL_MIN_BYTES = 1024;
/** External tensors start at multiples of this (onnx.proto: offsets SHOULD be multiples of 4096, for mmap). */
const EXTERNAL_ALIGN = 4096;

export interface WriteModelOptions {
  /** weights bytes above which they go to `<file>_data` (default EXTERNAL_DATA_THRESHOLD; tests force it low) */
  externalDataThreshold?: number;
}

/**
 * Writes `model` to `file`, durably (fsynced; the caller renames the directory into place). When the tensors'
 * bytes exceed the threshold, every tensor of at least 1 KiB is stored in `<file>_data` (e.g. model.onnx_data, the
 * name Optimum and onnx use) at 4096-aligned offsets, with data_location EXTERNAL and location/offset/length entries.
 *
 * Returns: the files written (the model, and the data file when used).
 */
export function writeModel(file: string, model: OnnxModel, o: WriteModelOptions = {}): string[] {
  const threshold = o.externalDataThreshold ?? EXTERNAL_DATA_THRESHOLD;
  const tensors = model.graph.initializer;
  const weightBytes = tensors.reduce((n, t) => n + (t.raw_data?.byteLength ?? 0), 0);
  if (weightBytes <= threshold) {
    writeFileDurable(file, encodeModel(model));
    return [file];
  }
  const dataFile = `${file}_data`;
  const location = path.basename(dataFile);
  const chunks: { offset: number; bytes: Uint8Array }[] = [];
  let end = 0;
  const initializer = tensors.map((t): TensorProto => {
    const bytes = t.raw_data;
    if (!bytes || bytes.byteLength < EXTERNAL_MIN_BYTES) return t;
    const offset = Math.ceil(end / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    chunks.push({ offset, bytes });
    end = offset + bytes.byteLength;
    const { raw_data: _, ...rest } = t;
    return {
      ...rest, data_location: 1,
      external_data: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(bytes.byteLength) }],
    };
  });
  writeChunksDurable(dataFile, chunks);
  writeFileDurable(file, encodeModel({ ...model, graph: { ...model.graph, initializer } }));
  return [file, dataFile];
}

/** Writes byte chunks at their offsets (gaps are zeros) and fsyncs: the external data file, without one big buffer. */
function writeChunksDurable(file: string, chunks: readonly { offset: number; bytes: Uint8Array }[]): void {
  const fd = openSync(file, 'w');
  try {
    for (const { offset, bytes } of chunks) {
      for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done, offset + done);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
