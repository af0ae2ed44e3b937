// Reader for state dicts written by torch.save: the zip format (torch >= 1.6: <archive>/data.pkl plus one
// <archive>/data/<key> file per storage) and the legacy format (a run of pickles followed by raw storages). Both go
// through the restricted unpickler in ./pickle.ts; tensors are rebuilt as strided views of their storages exactly as
// torch._utils._rebuild_tensor_v2 does, and decoded lazily.
import { readFileSync } from 'node:fs';
import { CheckpointError } from './errors.js';
import { PyGlobal, unpickle } from './pickle.js';
import { DTYPE_BYTES, decodeFloat32, numelOf, type DType, type TensorEntry } from './tensor.js';
import { looksLikeZip, readZip } from './zip.js';

const STORAGE_DTYPES: Record<string, DType> = {
  'torch.FloatStorage': 'F32', 'torch.DoubleStorage': 'F64', 'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16', 'torch.LongStorage': 'I64', 'torch.IntStorage': 'I32',
  'torch.ShortStorage': 'I16', 'torch.CharStorage': 'I8', 'torch.ByteStorage': 'U8', 'torch.BoolStorage': 'BOOL',
};

/** torch's legacy-format magic number, the first pickle of such a file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** One storage a pickle refers to; its bytes come from the zip entry or the legacy file's tail. */
class StorageRef {
  bytes: Buffer | null = null;
  constructor(readonly dtype: DType, readonly key: string, readonly numel: number) {}
}

/** A tensor view as _rebuild_tensor_v2 describes it: shape and strides in elements over a storage. */
class StridedTensor implements TensorEntry {
  readonly dtype: DType;
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {
    this.dtype = storage.dtype;
  }

  /** One past the largest storage element the view touches (0 for an empty tensor). */
  extent(): number {
    if (this.shape.some((d) => d === 0)) return 0;
    let last = this.offset;
    for (let i = 0; i < this.shape.length; i++) last += (this.shape[i] - 1) * this.stride[i];
    return last + 1;
  }

  toFloat32(): Float32Array {
    const bytes = this.storage.bytes;
    if (!bytes) throw new CheckpointError(`storage ${this.storage.key} was never loaded`);
    const numel = numelOf(this.shape);
    const what = `storage ${this.storage.key}`;
    if (this.isContiguous()) return decodeFloat32(bytes, this.offset * DTYPE_BYTES[this.dtype], numel, this.dtype, what);
    // Non-contiguous view (e.g. a saved transpose): decode the storage span it covers, then gather in row-major order.
    const span = decodeFloat32(bytes, this.offset * DTYPE_BYTES[this.dtype], this.extent() - this.offset, this.dtype, what);
    const out = new Float32Array(numel);
    const rank = this.shape.length;
    const idx = new Array<number>(rank).fill(0);
    let src = 0;
    for (let i = 0; i < numel; i++) {
      out[i] = span[src];
      // Odometer increment of the multi-index, keeping `src` = sum(idx[d] * stride[d]).
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < this.shape[d]) { src += this.stride[d]; break; }
        src -= (this.shape[d] - 1) * this.stride[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  private isContiguous(): boolean {
    let expect = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expect) return false;
      expect *= this.shape[d];
    }
    return true;
  }
}

function intTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw new CheckpointError(`${what} ${String(v)} is not a tuple of non-negative integers`);
  }
  return v as number[];
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
function rebuildTensor(args: unknown[]): StridedTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new CheckpointError('_rebuild_tensor_v2: first argument is not a storage');
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new CheckpointError(`_rebuild_tensor_v2: bad storage offset ${String(offset)}`);
  const shape = intTuple(size, '_rebuild_tensor_v2: size');
  const strides = intTuple(stride, '_rebuild_tensor_v2: stride');
  if (shape.length !== strides.length) throw new CheckpointError(`_rebuild_tensor_v2: size (${shape}) and stride (${strides}) differ in rank`);
  return new StridedTensor(storage, offset as number, shape.slice(), strides.slice());
}

function allowedGlobals(): Map<string, ((args: unknown[]) => unknown) | null> {
  const g = new Map<string, ((args: unknown[]) => unknown) | null>();
  g.set('collections.OrderedDict', (args) => {
    const d = new Map<unknown, unknown>();
    for (const kv of (args[0] ?? []) as unknown[]) {
      if (!Array.isArray(kv) || kv.length !== 2) throw new CheckpointError('OrderedDict: items are not key/value pairs');
      d.set(kv[0], kv[1]);
    }
    return d;
  });
  g.set('torch._utils._rebuild_tensor_v2', rebuildTensor);
  // A saved nn.Parameter is its tensor plus requires_grad (and, newer, python state): only the tensor matters here.
  g.set('torch._utils._rebuild_parameter', (args) => args[0]);
  g.set('torch._utils._rebuild_parameter_with_state', (args) => args[0]);
  for (const name of Object.keys(STORAGE_DTYPES)) g.set(name, null);
  return g;
}

/**
 * The unpickler settings shared by both formats. `storages` collects one StorageRef per key so that tensors sharing
 * a storage (tied embeddings) share its bytes.
 */
function torchPickleOptions(file: string, storages: Map<string, StorageRef>, legacy: boolean) {
  return {
    globals: allowedGlobals(),
    persistentLoad: (pid: unknown): StorageRef => {
      // zip: ('storage', storage_type, key, location, numel); legacy adds view_metadata, None unless a storage view.
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
        throw new CheckpointError(`${file}: unexpected persistent id ${JSON.stringify(pid)}`);
      }
      const [, type, key, , numel, view] = pid;
      if (!(type instanceof PyGlobal) || !(type.qualname in STORAGE_DTYPES)) throw new CheckpointError(`${file}: persistent id names no storage type`);
      if (typeof key !== 'string' || !Number.isSafeInteger(numel) || numel < 0) throw new CheckpointError(`${file}: malformed storage id for key ${String(key)}`);
      if (legacy && view !== null && view !== undefined) throw new CheckpointError(`${file}: storage ${key} is a legacy storage view, which is not supported`);
      const dtype = STORAGE_DTYPES[type.qualname];
      const seen = storages.get(key);
      if (seen) {
        if (seen.dtype !== dtype || seen.numel !== numel) throw new CheckpointError(`${file}: storage ${key} is declared twice with different types`);
        return seen;
      }
      const ref = new StorageRef(dtype, key, numel as number);
      storages.set(key, ref);
      return ref;
    },
    build: (obj: unknown) => {
      // OrderedDict state is its __dict__ (a state dict's _metadata with module versions): nothing to keep.
      if (!(obj instanceof Map)) throw new CheckpointError(`${file}: BUILD on an object other than a dict is not supported`);
    },
  };
}

/** Reads a torch.save'd state dict (zip or legacy format) into name -> tensor; nothing in the file is executed. */
export function readTorchCheckpoint(file: string): Map<string, TensorEntry> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read: ${(e as Error).message}`);
  }
  const storages = new Map<string, StorageRef>();
  let root: unknown;
  if (looksLikeZip(bytes)) {
    const entries = readZip(bytes, file);
    const pkls = [...entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
    if (pkls.length !== 1) throw new CheckpointError(`${file}: a torch zip checkpoint has one <archive>/data.pkl, found ${pkls.length}`);
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    root = unpickle(entries.get(pkls[0])!.read(), `${file}: ${pkls[0]}`, torchPickleOptions(file, storages, false)).value;
    for (const ref of storages.values()) {
      const entry = entries.get(`${prefix}data/${ref.key}`);
      if (entry) ref.bytes = entry.read();
    }
  } else if (bytes.length > 2 && bytes[0] === 0x80) {
    root = readLegacy(bytes, file, storages);
  } else {
    throw new CheckpointError(`${file}: not a PyTorch checkpoint (neither a zip archive nor a pickle); ` +
      'the legacy tar format of torch < 0.4 is not supported');
  }
  return checkStateDict(root, file);
}

// Legacy layout: pickle(magic) pickle(protocol 1001) pickle(sys_info) pickle(state dict) pickle([storage keys])
// then, per key in that order, a u64 element count and the raw little-endian elements.
function readLegacy(bytes: Buffer, file: string, storages: Map<string, StorageRef>): unknown {
  const plain = { globals: new Map() };
  const magic = unpickle(bytes, file, plain, 0);
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(`${file}: a pickle, but not a torch.save file (bad magic number)`);
  const proto = unpickle(bytes, file, plain, magic.end);
  if (proto.value !== 1001) throw new CheckpointError(`${file}: legacy torch.save protocol ${String(proto.value)} is not supported (1001 is)`);
  const sysInfo = unpickle(bytes, file, plain, proto.end);
  if (!(sysInfo.value instanceof Map) || sysInfo.value.get('little_endian') !== true) {
    throw new CheckpointError(`${file}: written on a big-endian machine, which is not supported`);
  }
  const main = unpickle(bytes, file, torchPickleOptions(file, storages, true), sysInfo.end);
  const keys = unpickle(bytes, file, plain, main.end);
  if (!Array.isArray(keys.value)) throw new CheckpointError(`${file}: the storage key list is missing`);
  let pos = keys.end;
  for (const key of keys.value) {
    const ref = storages.get(String(key));
    if (!ref) throw new CheckpointError(`${file}: storage ${String(key)} is listed but no tensor uses it`);
    if (pos + 8 > bytes.length) throw new CheckpointError(`${file}: truncated before storage ${ref.key}`);
    const numel = Number(bytes.readBigUInt64LE(pos));
    const nbytes = numel * DTYPE_BYTES[ref.dtype];
    pos += 8;
    if (numel !== ref.numel) throw new CheckpointError(`${file}: storage ${ref.key} holds ${numel} elements, its id says ${ref.numel}`);
    if (pos + nbytes > bytes.length) throw new CheckpointError(`${file}: truncated inside storage ${ref.key}`);
    ref.bytes = bytes.subarray(pos, pos + nbytes);
    pos += nbytes;
  }
  return main.value;
}

/** The pickle must be a flat name -> tensor dict, and every tensor must lie inside a present, full-sized storage. */
function checkStateDict(root: unknown, file: string): Map<string, TensorEntry> {
  if (!(root instanceof Map)) throw new CheckpointError(`${file}: expected a state dict (a dict of tensors) at the top level`);
  const out = new Map<string, TensorEntry>();
  for (const [name, t] of root) {
    if (typeof name !== 'string') throw new CheckpointError(`${file}: state dict key ${String(name)} is not a string`);
    if (!(t instanceof StridedTensor)) throw new CheckpointError(`${file}: state dict entry "${name}" is not a tensor`);
    const ref = t.storage;
    const need = ref.numel * DTYPE_BYTES[ref.dtype];
    if (!ref.bytes) throw new CheckpointError(`${file}: tensor "${name}": its storage data/${ref.key} is missing from the archive`);
    if (ref.bytes.length !== need) {
      throw new CheckpointError(`${file}: tensor "${name}": storage data/${ref.key} has ${ref.bytes.length} bytes, ` +
        `expected ${need} for ${ref.numel} ${ref.dtype} elements`);
    }
    if (t.extent() > ref.numel) {
      throw new CheckpointError(`${file}: tensor "${name}": view (offset ${t.offset}, size [${t.shape}], stride ` +
        `[${t.stride}]) reaches element ${t.extent() - 1} of a ${ref.numel}-element storage`);
    }
    out.set(name, t);
  }
  return out;
}
