// Checkpoint bytes built in TypeScript, for the fuzz seeds and test/security-checkpoint.test.ts: pickle opcodes, a
// torch.save-style state dict (zip and legacy layouts), a zip writer that can lie, and whole tiny checkpoint
// directories. Building them here keeps hostile fixtures out of the repository.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { expectedTensors } from '../../src/model/checkpoint/names.js';
import { crc32 } from '../../src/model/checkpoint/zip.js';
import { encodeSafetensors } from '../../src/model/checkpoint/safetensors.js';
import { parseConfig, type BertConfig } from '../../src/model/config.js';

// ---- pickle opcodes (protocol 2 plus MEMOIZE) -------------------------------------------------------------------

export const P = {
  proto: (v = 2) => Buffer.from([0x80, v]),
  stop: Buffer.from([0x2e]),
  mark: Buffer.from([0x28]),
  tuple: Buffer.from([0x74]),
  emptyTuple: Buffer.from([0x29]),
  emptyList: Buffer.from([0x5d]),
  emptyDict: Buffer.from([0x7d]),
  append: Buffer.from([0x61]),
  setitem: Buffer.from([0x73]),
  setitems: Buffer.from([0x75]),
  reduce: Buffer.from([0x52]),
  binpersid: Buffer.from([0x51]),
  newfalse: Buffer.from([0x89]),
  newtrue: Buffer.from([0x88]),
  none: Buffer.from([0x4e]),
  memoize: Buffer.from([0x94]),
  binput: (i: number) => Buffer.from([0x71, i]),
  binget: (i: number) => Buffer.from([0x68, i]),
  binint: (n: number) => { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(n, 1); return b; },
  str: (s: string) => { const d = Buffer.from(s, 'utf8'); const h = Buffer.alloc(5); h[0] = 0x58; h.writeUInt32LE(d.length, 1); return Buffer.concat([h, d]); },
  global: (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1'),
  /** LONG1 of a signed little-endian integer `width` bytes wide */
  long1: (v: bigint, width: number) => Buffer.concat([Buffer.from([0x8a, width]), leBytes(v, width)]),
  /** LONG4 header claiming `width` bytes, followed by those bytes */
  long4: (bytes: Buffer) => { const h = Buffer.alloc(5); h[0] = 0x8b; h.writeUInt32LE(bytes.length, 1); return Buffer.concat([h, bytes]); },
  tupleOf: (...items: Buffer[]) => Buffer.concat([Buffer.from([0x28]), ...items, Buffer.from([0x74])]),
};

function leBytes(v: bigint, width: number): Buffer {
  const b = Buffer.alloc(width);
  let x = BigInt.asUintN(8 * width, v);
  for (let i = 0; i < width; i++, x >>= 8n) b[i] = Number(x & 0xffn);
  return b;
}

export interface PickledTensor {
  name: string;
  /** storage key: data/<key> in a zip checkpoint */
  key: string;
  shape: number[];
  /** torch storage class name, default FloatStorage */
  storage?: string;
  /** elements of the storage (default: product of shape) */
  numel?: number;
}

/** data.pkl of torch.save(state_dict) for `tensors` (contiguous views); `legacy` adds the legacy format's view slot. */
export function statePickle(tensors: readonly PickledTensor[], legacy = false): Buffer {
  const parts: Buffer[] = [P.proto(2), P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce];
  for (const t of tensors) {
    const numel = t.numel ?? t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const pid = P.tupleOf(P.str('storage'), P.global('torch', t.storage ?? 'FloatStorage'), P.str(t.key), P.str('cpu'),
      P.binint(numel), ...(legacy ? [P.none] : []));
    parts.push(P.str(t.name), P.global('torch._utils', '_rebuild_tensor_v2'), P.tupleOf(
      pid, P.binpersid, P.binint(0), P.tupleOf(...t.shape.map(P.binint)), P.tupleOf(...stride.map(P.binint)), P.newfalse,
      P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce), P.reduce, P.setitem);
  }
  parts.push(P.stop);
  return Buffer.concat(parts);
}

// ---- zip --------------------------------------------------------------------------------------------------------

export interface ZipInput {
  name: string;
  data: Buffer;
  /** deflate the data (default: stored, as torch.save does) */
  deflate?: boolean;
  /** uncompressed size to declare instead of the true one (a lying header) */
  declaredSize?: number;
  /** central-directory extra field bytes */
  extra?: Buffer;
}

/** A zip archive of `entries` (no zip64); sizes and CRCs are true unless an entry says otherwise. */
export function zipArchive(entries: readonly ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const crc = crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const extra = e.extra ?? Buffer.alloc(0);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name, extra);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

// ---- tiny checkpoints -------------------------------------------------------------------------------------------

/** A 1-layer, hidden-4 BERT config (vocab 8): every tensor is a few dozen floats. */
export const TINY_CONFIG = {
  vocab_size: 8, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 8,
  max_position_embeddings: 8, type_vocab_size: 2, num_labels: 2, model_type: 'bert',
};
export const TINY_VOCAB = '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\ncat\n';

/** Canonical name -> deterministic float32 values for every parameter of `config`. */
export function tinyTensors(config: BertConfig = parseConfig(TINY_CONFIG)): Array<{ name: string; shape: number[]; data: Float32Array }> {
  let k = 0;
  return expectedTensors(config).map((e) => {
    const n = e.shape.reduce((a, b) => a * b, 1);
    return { name: e.name, shape: e.shape, data: Float32Array.from({ length: n }, () => Math.sin(++k) * 0.1) };
  });
}

/** pytorch_model.bin bytes in torch.save's zip layout (archive "archive"; `deflate` re-zips with deflate). */
export function torchZip(tensors: ReadonlyArray<{ name: string; shape: number[]; data: Float32Array }>, deflate = false): Buffer {
  const pkl = statePickle(tensors.map((t, i) => ({ name: t.name, key: String(i), shape: t.shape })));
  return zipArchive([
    { name: 'archive/data.pkl', data: pkl, deflate },
    ...tensors.map((t, i) => ({ name: `archive/data/${i}`, data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), deflate })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/** pytorch_model.bin bytes in torch's legacy (pre-1.6) layout: five pickles, then the raw storages. */
export function torchLegacy(tensors: ReadonlyArray<{ name: string; shape: number[]; data: Float32Array }>): Buffer {
  const magic = Buffer.concat([P.proto(2), P.long1(0x1950a86a20f9469cfc6cn, 10), P.stop]);
  const proto = Buffer.concat([P.proto(2), Buffer.from([0x4d, 0xe9, 0x03]), P.stop]); // BININT2 1001
  const sys = Buffer.concat([P.proto(2), P.emptyDict, P.str('little_endian'), P.newtrue, P.setitem, P.stop]);
  const main = statePickle(tensors.map((t, i) => ({ name: t.name, key: `k${i}`, shape: t.shape })), true);
  const keys = Buffer.concat([P.proto(2), P.emptyList, P.mark, ...tensors.map((_, i) => P.str(`k${i}`)), Buffer.from([0x65]), P.stop]);
  const data = tensors.flatMap((t) => {
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(t.data.length));
    return [n, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)];
  });
  return Buffer.concat([magic, proto, sys, main, keys, ...data]);
}

/**
 * Writes a tiny checkpoint directory: config.json (TINY_CONFIG with `config` over it), vocab.txt and the weights
 * (model.safetensors, or pytorch_model.bin when `weights` is a Buffer or 'bin'). `edit` may change the tensors first.
 */
export function writeTinyCheckpoint(dir: string, opts: {
  config?: Record<string, unknown>;
  weights?: 'safetensors' | 'bin' | Buffer;
  edit?: (t: Array<{ name: string; shape: number[]; data: Float32Array }>) => void;
} = {}): string {
  const raw = { ...TINY_CONFIG, ...opts.config };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw));
  writeFileSync(path.join(dir, 'vocab.txt'), TINY_VOCAB);
  writeFileSync(path.join(dir, 'tokenizer_config.json'), '{"do_lower_case": true}');
  const w = opts.weights ?? 'safetensors';
  if (Buffer.isBuffer(w)) {
    writeFileSync(path.join(dir, 'pytorch_model.bin'), w);
    return dir;
  }
  const tensors = tinyTensors(parseConfig(TINY_CONFIG));
  opts.edit?.(tensors);
  if (w === 'bin') writeFileSync(path.join(dir, 'pytorch_model.bin'), torchZip(tensors));
  else writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  return dir;
}
