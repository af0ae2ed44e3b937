// The file-format readers and writer: safetensors, torch.save zip and legacy pickles, and how each refuses bad files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { CheckpointError } from '../src/model/checkpoint/errors.js';
import { unpickle } from '../src/model/checkpoint/pickle.js';
import { encodeSafetensors, parseSafetensors, readSafetensors } from '../src/model/checkpoint/safetensors.js';
import { readTorchCheckpoint } from '../src/model/checkpoint/torch.js';
import { readZip } from '../src/model/checkpoint/zip.js';
import { assertSameBits, fixture, reference, scratchDir } from './checkpoint-fixtures.js';

const EVIL_MARKER = '/tmp/bertfit-evil-pickle-marker';

function assertMatchesReference(tensors: Map<string, { shape: number[]; toFloat32(): Float32Array }>,
  want: Map<string, Float32Array>, rename: (n: string) => string = (n) => n): void {
  let checked = 0;
  for (const [name, t] of tensors) {
    const ref = want.get(rename(name));
    if (!ref) continue;
    assertSameBits(t.toFloat32(), ref, name);
    checked++;
  }
  assert.equal(checked, want.size, 'every reference tensor was found');
}

test('safetensors written by Python (F32, with an I64 position_ids buffer) read back exactly', () => {
  const f = readSafetensors(fixture('bert-cls', 'model.safetensors'));
  assert.deepEqual(f.metadata, { format: 'pt' });
  assertMatchesReference(f.tensors, reference.f32);
  const pos = f.tensors.get('bert.embeddings.position_ids')!;
  assert.equal(pos.dtype, 'I64');
  assert.deepEqual(pos.shape, [1, 16]);
  assert.throws(() => pos.toFloat32(), /position_ids.*I64 is not a floating-point type/);
  assert.deepEqual(f.tensors.get('bert.encoder.layer.1.intermediate.dense.weight')!.shape, [16, 8]);
});

test('safetensors F16 and BF16 tensors decode to the float32 values torch gives', () => {
  const f = readSafetensors(fixture('half', 'model.safetensors'));
  const dtypes = new Set([...f.tensors.values()].map((t) => t.dtype));
  assert.deepEqual([...dtypes].sort(), ['BF16', 'F16']);
  assertMatchesReference(f.tensors, reference.half);
});

test('torch.save zip: strided views, storage offsets, shared storages and _metadata (BUILD) read exactly', () => {
  const t = readTorchCheckpoint(fixture('bert-cls', 'pytorch_model.bin'));
  assertMatchesReference(t, reference.f32);
  assert.equal(t.get('bert.embeddings.position_ids')!.dtype, 'I64');
});

test('torch.save zip with float16/bfloat16 storages, and the same archive re-zipped with deflate', () => {
  assertMatchesReference(readTorchCheckpoint(fixture('half', 'pytorch_model.bin')), reference.half);
  assertMatchesReference(readTorchCheckpoint(fixture('torch-variants', 'deflated.bin')), reference.f32);
});

test('legacy (pre-1.6) torch.save format with LayerNorm.gamma/beta names', () => {
  const t = readTorchCheckpoint(fixture('legacy-gamma-beta', 'pytorch_model.bin'));
  assert.ok(t.has('bert.embeddings.LayerNorm.gamma'));
  assertMatchesReference(t, reference.f32,
    (n) => n.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias'));
});

test('encodeSafetensors round-trips F32 bit for bit (NaN, -0, infinities, subnormals) with 8-byte aligned data', () => {
  const special = new Float32Array([NaN, -0, 0, Infinity, -Infinity, 1e-45, -3.4028234663852886e38, 1 / 3]);
  const tensors = [
    { name: 'a', shape: [2, 4], data: special },
    { name: 'b', shape: [0], data: new Float32Array(0) },
    { name: 'c', shape: [], data: new Float32Array([42]) },
  ];
  const buf = encodeSafetensors(tensors, { metadata: { format: 'pt', note: 'x' } });
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  assert.match(buf.toString('utf8', 8, 8 + n), /^\{"__metadata__":\{"format":"pt","note":"x"\},"a":\{"dtype":"F32","shape":\[2,4\],"data_offsets":\[0,32\]\}/);
  const f = parseSafetensors(buf, 'mem');
  assert.deepEqual(f.metadata, { format: 'pt', note: 'x' });
  for (const t of tensors) {
    assert.deepEqual(f.tensors.get(t.name)!.shape, t.shape);
    assertSameBits(f.tensors.get(t.name)!.toFloat32(), t.data, t.name);
  }
  assert.throws(() => encodeSafetensors([{ name: 'a', shape: [3], data: new Float32Array(2) }]), /tensor "a": shape \[3\] does not match its 2 values/);
  assert.throws(() => encodeSafetensors([tensors[0], tensors[0]]), /"a" is reserved or repeated/);
});

test('encodeSafetensors BF16 rounds to nearest even exactly as torch .to(torch.bfloat16)', () => {
  // The half fixture holds odd-indexed tensors as torch-rounded bfloat16 of the same float32 values.
  const names = [...reference.f32.keys()];
  const tensors = names.filter((_, i) => i % 2 === 1).map((name) => ({ name, shape: [reference.f32.get(name)!.length], data: reference.f32.get(name)! }));
  const f = parseSafetensors(encodeSafetensors(tensors, { dtype: 'BF16' }), 'mem');
  for (const t of tensors) {
    assert.equal(f.tensors.get(t.name)!.dtype, 'BF16');
    assertSameBits(f.tensors.get(t.name)!.toFloat32(), reference.half.get(t.name)!, t.name);
  }
  // Ties go to even; NaN stays NaN instead of rounding into infinity.
  const ties = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN, 3.4028234663852886e38]);
  const g = parseSafetensors(encodeSafetensors([{ name: 't', shape: [4], data: ties }], { dtype: 'BF16' }), 'mem').tensors.get('t')!.toFloat32();
  assert.deepEqual([...g.subarray(0, 2)], [1, 1 + 2 ** -6]);
  assert.ok(Number.isNaN(g[2]));
  assert.equal(g[3], Infinity);
});

/** The bert-cls safetensors file with its JSON header replaced by `edit(header)`. */
function withHeader(edit: (h: Record<string, any>) => void): Buffer {
  const buf = readFileSync(fixture('bert-cls', 'model.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.toString('utf8', 8, 8 + n));
  edit(h);
  const json = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, buf.subarray(8 + n)]);
}

test('malformed safetensors are refused with the file and tensor named', () => {
  const file = fixture('bert-cls', 'model.safetensors');
  const good = readFileSync(file);
  const bad = (bytes: Buffer, re: RegExp): void => {
    assert.throws(() => parseSafetensors(bytes, 'x/model.safetensors'), (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /^x\/model\.safetensors: /);
      assert.match(e.message, re);
      return true;
    });
  };
  bad(good.subarray(0, good.length - 100), /tensor "[^"]+": data ends at buffer byte \d+ but the file holds only \d+ bytes after the header \(truncated file\?\)/);
  bad(good.subarray(0, 5), /shorter than the 8-byte header length/);
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(BigInt(good.length), 0);
  bad(huge, new RegExp(`header length ${good.length} exceeds the file size ${good.length}`));
  const notJson = Buffer.from(good);
  notJson[8] = 0x5b; // '[' opens an array that never closes
  bad(notJson, /header is not valid JSON/);
  bad(withHeader((h) => { h['classifier.bias'].data_offsets[1] += 4; }),
    /tensor "classifier.bias": data_offsets \[\d+, \d+\] span 16 bytes but F32 shape \[3\] needs 12/);
  bad(withHeader((h) => { const b = h['classifier.weight'].data_offsets[0]; h['classifier.bias'].data_offsets = [b, b + 12]; }),
    /tensor "classifier\.weight" data \[\d+, \d+\) overlaps tensor "classifier\.bias"/);
  bad(withHeader((h) => { h['classifier.bias'].dtype = 'F8_E4M3'; }), /tensor "classifier.bias": unsupported dtype "F8_E4M3"/);
  bad(withHeader((h) => { h['classifier.bias'].shape = [3.5]; }), /tensor "classifier.bias": shape \[3.5\] is not a list of non-negative integers/);
  bad(withHeader((h) => { h['classifier.bias'].data_offsets = [20, 8]; }), /tensor "classifier.bias": data_offsets \[20,8\] is not \[begin, end\]/);
  bad(withHeader((h) => { delete h['classifier.bias']; }), /unused bytes \[\d+, \d+\) in the data buffer before tensor/);
  bad(Buffer.concat([good, Buffer.alloc(4)]), /4 bytes after the last tensor's data/);
  bad(withHeader((h) => { h.__metadata__ = { format: 1 }; }), /"__metadata__" field "format" is not a string/);
  assert.throws(() => readSafetensors('/nonexistent/model.safetensors'), /\/nonexistent\/model\.safetensors: cannot read/);
});

test('a pickle that calls os.system is refused by name and nothing runs', () => {
  rmSync(EVIL_MARKER, { force: true });
  const file = fixture('evil-pickle', 'pytorch_model.bin');
  assert.ok(readFileSync(file).includes('posix'), 'the fixture really references posix.system');
  assert.throws(() => readTorchCheckpoint(file),
    /evil-pickle\/pytorch_model\.bin: pytorch_model\/data\.pkl: pickle opcode GLOBAL \(0x63\) at byte 78: refusing to load global posix\.system: only collections\.OrderedDict, torch\._utils\._rebuild_tensor_v2, .* are allowed \(the file may be malicious; nothing was executed\)/);
  assert.equal(existsSync(EVIL_MARKER), false, 'os.system was not executed');
});

test('the unpickler refuses other globals, opcodes outside the torch subset, and truncation', () => {
  const globals = new Map([['collections.OrderedDict', () => new Map()]]);
  // protocol 4 STACK_GLOBAL('builtins', 'eval')
  const stackGlobal = Buffer.concat([Buffer.from([0x80, 4, 0x8c, 8]), Buffer.from('builtins'), Buffer.from([0x8c, 4]), Buffer.from('eval'), Buffer.from([0x93, 0x2e])]);
  assert.throws(() => unpickle(stackGlobal, 'p', { globals }), /refusing to load global builtins\.eval/);
  // INST 'os\nsystem\n' builds objects by name without GLOBAL: not in the subset at all.
  assert.throws(() => unpickle(Buffer.from('(S"ls"\nios\nsystem\n.', 'latin1'), 'p', { globals }), /opcode STRING \(0x53\) at byte 1: opcode is not allowed/);
  assert.throws(() => unpickle(Buffer.from('\x80\x02ios\nsystem\n.', 'latin1'), 'p', { globals }), /opcode INST \(0x69\) at byte 2: opcode is not allowed/);
  assert.throws(() => unpickle(Buffer.from([0x80, 2, 0x58, 0xff, 0, 0, 0, 0x61]), 'p', { globals }), /opcode BINUNICODE \(0x58\) at byte 2: pickle is truncated/);
  assert.throws(() => unpickle(Buffer.from([0x80, 2, 0x7d]), 'p', { globals }), /pickle is truncated/);
  // A well-formed dict of ints, strings, floats and a big LONG1 comes through.
  const ok = unpickle(Buffer.from([0x80, 2, 0x7d, 0x28, 0x8c, 1, 0x61, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x8c, 1, 0x62,
    0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x8c, 1, 0x63, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x75, 0x2e]), 'p', { globals });
  assert.deepEqual(ok.value, new Map<string, unknown>([['a', -1], ['b', 1.5], ['c', 2n ** 64n]]));
});

test('torch zip archives with a missing storage, corrupt bytes or a cut end are refused', () => {
  assert.throws(() => readTorchCheckpoint(fixture('torch-variants', 'missing-storage.bin')),
    /missing-storage\.bin: tensor "bert\.embeddings\.LayerNorm\.weight": its storage data\/3 is missing from the archive/);
  const good = readFileSync(fixture('bert-cls', 'pytorch_model.bin'));
  const { dir, cleanup } = scratchDir();
  try {
    const word = reference.f32.get('bert.embeddings.word_embeddings.weight')!;
    const at = good.indexOf(Buffer.from(word.buffer, word.byteOffset, 16));
    assert.ok(at > 0);
    const flipped = Buffer.from(good);
    flipped[at] ^= 1;
    const f1 = path.join(dir, 'flipped.bin');
    writeFileSync(f1, flipped);
    assert.throws(() => readTorchCheckpoint(f1), /flipped\.bin: entry pytorch_model\/data\/0: CRC-32 mismatch \(corrupt file\)/);
    const f2 = path.join(dir, 'cut.bin');
    writeFileSync(f2, good.subarray(0, good.length - 200));
    assert.throws(() => readTorchCheckpoint(f2), /cut\.bin: not a zip archive or truncated: no end-of-central-directory record/);
    const f3 = path.join(dir, 'text.bin');
    writeFileSync(f3, 'version https://git-lfs.github.com/spec/v1\n');
    assert.throws(() => readTorchCheckpoint(f3), /text\.bin: not a PyTorch checkpoint \(neither a zip archive nor a pickle\)/);
    const f4 = path.join(dir, 'list.bin');
    writeFileSync(f4, Buffer.from([0x80, 2, 0x5d, 0x2e])); // a pickled empty list
    assert.throws(() => readTorchCheckpoint(f4), /list\.bin: a pickle, but not a torch\.save file \(bad magic number\)/);
  } finally {
    cleanup();
  }
});

test('readZip lists stored entries with sizes and reads them back, also with the CRC-32 of Node < 20.15', () => {
  const bytes = readFileSync(fixture('bert-cls', 'pytorch_model.bin'));
  const entries = readZip(bytes, 'bert-cls.bin');
  assert.ok(entries.has('pytorch_model/data.pkl'));
  assert.equal(entries.get('pytorch_model/version')!.read().toString().trim(), '3');
  assert.equal(entries.get('pytorch_model/data/0')!.size, 100 * 8 * 4);
  const native = zlib.crc32;
  try {
    (zlib as { crc32?: unknown }).crc32 = undefined;
    for (const e of readZip(bytes, 'x').values()) e.read();
    const bad = Buffer.from(bytes);
    bad[bad.indexOf('FloatStorage') + 400] ^= 1;
    assert.throws(() => { for (const e of readZip(bad, 'x').values()) e.read(); }, /x: entry pytorch_model\/data\.pkl: CRC-32 mismatch/);
  } finally {
    zlib.crc32 = native;
  }
});
