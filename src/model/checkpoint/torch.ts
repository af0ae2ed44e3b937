// Reader for state dicts written by torch.save: the zip format (torch >= 1.6: <archive>/data.pkl plus one
// <archive>/data/<key> file per storage) and the legacy format (a run of pickles followed by raw storages). Both go
// through the restricted unpickler in ./pickle.ts; tensors are rebuilt as strided views of their storages exactly as
// torch._utils._rebuild_tensor_v2 does, and decoded lazily.
//
// Memory: the storages a pickle declares are summed against the caller's cap (derived from config.json) as they
// appear, so a hostile "storage of 10^12 floats" is refused before any zip entry is inflated or any tensor decoded.
import { readFileSync } from 'node:fs';
import { describeValue } from './describe.js';
import { CheckpointError } from './errors.js';
import { PyGlobal, unpickle } from './pickle.js';
import { DTYPE_BYTES, decodeFloat32, numelOf, type DType, type TensorEntry } from './tensor.js';
import { ZIP_LIMITS, looksLikeZip, readZip } from './zip.js';

/** What a torch checkpoint may make the reader allocate. */
export interface WeightLimits {
  /** total bytes of all storages the pickle declares (default: ZIP_LIMITS.maxEntryBytes) */
  maxStorageBytes: number;
}

/** data.pkl of a state dict is ~100 bytes per tensor (BERT-large: ~40 KB); 64 MiB is far past any real one. */
const MAX_PICKLE_BYTES = 64 << 20;

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
    throw new CheckpointError(`${what} ${describeValue(v)} is not a tuple of non-negative integers`);
  }
  return v as number[];
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
function rebuildTensor(args: unknown[]): StridedTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new CheckpointError('first argument is not a storage');
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new CheckpointError(`bad storage offset ${describeValue(offset)}`);
  const shape = intTuple(size, 'size');
  const strides = intTuple(stride, 'stride');
  // torch tensors have at most 64 dimensions; more is a hostile file, and would make every message enormous.
  if (shape.length > 64) throw new CheckpointError(`${shape.length} dimensions (torch allows 64)`);
  if (shape.length !== strides.length) throw new CheckpointError(`size (${shape}) and stride (${strides}) differ in rank`);
  return new StridedTensor(storage, offset as number, shape.slice(), strides.slice());
}

function allowedGlobals(): Map<string, ((args: unknown[]) => unknown) | null> {
  const g = new Map<string, ((args: unknown[]) => unknown) | null>();
  g.set('collections.OrderedDict', (args) => {
    const d = new Map<unknown, unknown>();
    const items = args[0] ?? [];
    if (!Array.isArray(items)) throw new CheckpointError(`argument ${describeValue(items)} is not a list of pairs`);
    for (const kv of items) {
      if (!Array.isArray(kv) || kv.length !== 2) throw new CheckpointError('items are not key/value pairs');
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
 * a storage (tied embeddings) share its bytes. Errors thrown here are prefixed with the file and opcode by unpickle.
 */
function torchPickleOptions(storages: Map<string, StorageRef>, legacy: boolean, limits: WeightLimits) {
  let declared = 0;
  return {
    globals: allowedGlobals(),
    persistentLoad: (pid: unknown): StorageRef => {
      // zip: ('storage', storage_type, key, location, numel); legacy adds view_metadata, None unless a storage view.
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
        throw new CheckpointError(`persistent id ${describeValue(pid)} is not a ('storage', type, key, location, numel) tuple`);
      }
      const [, type, key, , numel, view] = pid;
      if (!(type instanceof PyGlobal) || !(type.qualname in STORAGE_DTYPES)) throw new CheckpointError('persistent id names no storage type (torch.FloatStorage, ...)');
      if (typeof key !== 'string' || !Number.isSafeInteger(numel) || numel < 0) throw new CheckpointError(`malformed storage id for key ${describeValue(key)}`);
      if (legacy && view !== null && view !== undefined) throw new CheckpointError(`storage ${describeValue(key)} is a legacy storage view, which is not supported`);
      const dtype = STORAGE_DTYPES[type.qualname];
      const seen = storages.get(key);
      if (seen) {
        if (seen.dtype !== dtype || seen.numel !== numel) throw new CheckpointError(`storage ${describeValue(key)} is declared twice with different types`);
        return seen;
      }
      declared += (numel as number) * DTYPE_BYTES[dtype];
      if (declared > limits.maxStorageBytes) {
        throw new CheckpointError(`storage ${describeValue(key)} (${numel} ${dtype} elements) takes the storages past ` +
          `${limits.maxStorageBytes} bytes, more than the model can need`);
      }
      const ref = new StorageRef(dtype, key, numel as number);
      storages.set(key, ref);
      return ref;
    },
    build: (obj: unknown) => {
      // OrderedDict state is its __dict__ (a state dict's _metadata with module versions): nothing to keep.
      if (!(obj instanceof Map)) throw new CheckpointError('BUILD on an object other than a dict is not supported');
    },
  };
}

/**
 * Reads a torch.save'd state dict (zip or legacy format) into name -> tensor; nothing in the file is executed.
 * `limits` bounds what the file may make the reader allocate (loadCheckpoint derives it from config.json).
 */
export function readTorchCheckpoint(file: string, limits?: WeightLimits): Map<string, TensorEntry> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return parseTorchCheckpoint(bytes, file, limits);
}

/** readTorchCheckpoint for a file already in memory; `file` only names it in errors. */
export function parseTorchCheckpoint(bytes: Buffer, file: string,
  limits: WeightLimits = { maxStorageBytes: ZIP_LIMITS.maxEntryBytes }): Map<string, TensorEntry> {
  const storages = new Map<string, StorageRef>();
  let root: unknown;
  if (looksLikeZip(bytes)) {
    const entries = readZip(bytes, file);
    const pkls = [...entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
    if (pkls.length !== 1) throw new CheckpointError(`${file}: a torch zip checkpoint has one <archive>/data.pkl, found ${pkls.length}`);
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    root = unpickle(entries.get(pkls[0])!.read(MAX_PICKLE_BYTES), `${file}: ${pkls[0]}`, torchPickleOptions(storages, false, limits)).value;
    for (const ref of storages.values()) {
      const entry = entries.get(`${prefix}data/${ref.key}`);
      if (!entry) continue;
      // The pickle says how big each storage is: a bigger entry is refused before it is inflated.
      const need = ref.numel * DTYPE_BYTES[ref.dtype];
      if (entry.size !== need) {
        throw new CheckpointError(`${file}: storage ${prefix}data/${ref.key} has ${entry.size} bytes, ` +
          `expected ${need} for ${ref.numel} ${ref.dtype} elements`);
      }
      ref.bytes = entry.read(need);
    }
  } else if (bytes.length > 2 && bytes[0] === 0x80) {
    root = readLegacy(bytes, file, storages, limits);
  } else {
    throw new CheckpointError(`${file}: not a PyTorch checkpoint (neither a zip archive nor a pickle); ` +
      'the legacy tar format of torch < 0.4 is not supported');
  }
  return checkStateDict(root, file);
}

// Legacy layout: pickle(magic) pickle(protocol 1001) pickle(sys_info) pickle(state dict) pickle([storage keys])
// then, per key in that order, a u64 element count and the raw little-endian elements.
function readLegacy(bytes: Buffer, file: string, storages: Map<string, StorageRef>, limits: WeightLimits): unknown {
  const plain = { globals: new Map() };
  const magic = unpickle(bytes, file, plain, 0);
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(`${file}: a pickle, but not a torch.save file (bad magic number)`);
  const proto = unpickle(bytes, file, plain, magic.end);
  if (proto.value !== 1001) throw new CheckpointError(`${file}: legacy torch.save protocol ${describeValue(proto.value)} is not supported (1001 is)`);
  const sysInfo = unpickle(bytes, file, plain, proto.end);
  if (!(sysInfo.value instanceof Map) || sysInfo.value.get('little_endian') !== true) {
    throw new CheckpointError(`${file}: written on a big-endian machine, which is not supported`);
  }
  const main = unpickle(bytes, file, torchPickleOptions(storages, true, limits), sysInfo.end);
  const keys = unpickle(bytes, file, plain, main.end);
  if (!Array.isArray(keys.value)) throw new CheckpointError(`${file}: the storage key list is missing`);
  let pos = keys.end;
  for (const key of keys.value) {
    const ref = typeof key === 'string' ? storages.get(key) : undefined;
    if (!ref) throw new CheckpointError(`${file}: storage ${describeValue(key)} is listed but no tensor uses it`);
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
    if (typeof name !== 'string') throw new CheckpointError(`${file}: state dict key ${describeValue(name)} is not a string`);
    if (!(t instanceof StridedTensor)) throw new CheckpointError(`${file}: state dict entry ${describeValue(name)} is not a tensor`);
    if (name.length > 1000) throw new CheckpointError(`${file}: state dict key ${describeValue(name)} is ${name.length} characters long, not a tensor name`);
    const ref = t.storage;
    const need = ref.numel * DTYPE_BYTES[ref.dtype];
    if (!ref.bytes) throw new CheckpointError(`${file}: tensor "${name}": its storage data/${ref.key} is missing from the archive`);
    if (ref.bytes.length !== need) {
      throw new CheckpointError(`${file}: tensor "${name}": storage data/${ref.key} has ${ref.bytes.length} bytes, ` +
        `expected ${need} for ${ref.numel} ${ref.dtype} elements`);
    }
    // Zero strides (an expanded view) could make a one-element storage decode to billions: parameters never are that.
    if (numelOf(t.shape) > ref.numel) {
      throw new CheckpointError(`${file}: tensor "${name}": view of size [${t.shape}] has more elements than its ` +
        `${ref.numel}-element storage (expanded views are not parameters)`);
    }
    if (t.extent() > ref.numel) {
      throw new CheckpointError(`${file}: tensor "${name}": view (offset ${t.offset}, size [${t.shape}], stride ` +
        `[${t.stride}]) reaches element ${t.extent() - 1} of a ${ref.numel}-element storage`);
    }
    out.set(name, t);
  }
  return out;
}
