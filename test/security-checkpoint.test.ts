// Hostile checkpoints (issue 18): every case is small, built here in bytes, and must end in the project's own error
// naming the file (and tensor or field) quickly and without using much memory: a huge LONG4 integer, zip bombs,
// deep and cyclic pickles, memo floods, config.json dimensions of 1e9, bad zip extra fields, NaN/Inf weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { CheckpointError } from '../src/model/checkpoint/errors.js';
import { loadCheckpoint } from '../src/model/checkpoint/load.js';
import { expectedTensors } from '../src/model/checkpoint/names.js';
import { PICKLE_LIMITS, unpickle } from '../src/model/checkpoint/pickle.js';
import { parseSafetensors } from '../src/model/checkpoint/safetensors.js';
import { parseTorchCheckpoint } from '../src/model/checkpoint/torch.js';
import { ZIP_LIMITS, readZip } from '../src/model/checkpoint/zip.js';
import { CONFIG_LIMITS, ConfigError, NAMED_SHAPES, namedConfig, parameterCount, parseConfig, parseConfigJson } from '../src/model/config.js';
import { DataError } from '../src/data/errors.js';
import { MAX_VOCAB_TOKENS, parseVocab } from '../src/tokenizer/vocab.js';
import { scratchDir } from './checkpoint-fixtures.js';
import { P, TINY_CONFIG, statePickle, tinyTensors, torchZip, writeTinyCheckpoint, zipArchive } from './fuzz/build.js';
import { repoRoot } from './model-helpers.js';

const QUERY = 'bert.encoder.layer.0.attention.self.query.weight';

/** Runs `fn`, which must throw CheckpointError (or `kind`) matching `re`, and returns the milliseconds it took. */
function refused(fn: () => unknown, re: RegExp, kind: new (...a: never[]) => Error = CheckpointError): number {
  const t0 = performance.now();
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e.name}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
  return performance.now() - t0;
}

/** A tiny checkpoint directory whose pytorch_model.bin is `bin`. */
function binDir(root: string, name: string, bin: Buffer): { dir: string; file: string } {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeTinyCheckpoint(dir, { weights: bin });
  return { dir, file: path.join(dir, 'pytorch_model.bin') };
}

/** A torch zip whose data.pkl is `pkl` (plus the tiny model's storages, so only the pickle is wrong). */
function zipWithPickle(pkl: Buffer): Buffer {
  const t = tinyTensors();
  return zipArchive([{ name: 'archive/data.pkl', data: pkl },
    ...t.map((x, i) => ({ name: `archive/data/${i}`, data: Buffer.from(x.data.buffer) }))]);
}

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a 256 KB pickle with a huge LONG4 integer is refused in well under a second, naming the file', () => {
  const { dir, cleanup } = scratchDir();
  try {
    for (const size of [256 << 10, 1 << 20]) {
      const pkl = Buffer.concat([P.proto(2), P.long4(Buffer.alloc(size, 0xff)), P.stop]);
      // As a legacy-format file (the whole .bin is the pickle) and as data.pkl of a zip.
      const legacy = binDir(dir, `legacy-${size}`, pkl);
      let ms = refused(() => loadCheckpoint(legacy.dir), new RegExp(`^${esc(legacy.file)}: pickle opcode LONG4 \\(0x8b\\) at byte 2: a ${size}-byte integer is wider than the 16 bytes`));
      assert.ok(ms < 1000, `took ${ms} ms`);
      const zipped = binDir(dir, `zip-${size}`, zipWithPickle(pkl));
      ms = refused(() => loadCheckpoint(zipped.dir), new RegExp(`^${esc(zipped.file)}: archive/data.pkl: pickle opcode LONG4`));
      assert.ok(ms < 1000, `took ${ms} ms`);
    }
    // LONG1 is bounded the same way; the legacy magic number (10 bytes) and 64-bit values still read.
    refused(() => unpickle(Buffer.concat([P.proto(2), P.long1(1n, 17), P.stop]), 'p', { globals: new Map() }), /LONG1 .*a 17-byte integer/);
    assert.equal(unpickle(Buffer.concat([P.proto(2), P.long1(-(2n ** 100n), 16), P.stop]), 'p', { globals: new Map() }).value, -(2n ** 100n));
  } finally {
    cleanup();
  }
});

/**
 * A raw deflate stream of `mb` MiB of zeros, built without deflating them: one sync-flushed (byte-aligned) block
 * for 1 MiB repeated, then a final empty block. ~1 KiB per MiB, the ratio deflate tops out at.
 */
function zeroBomb(mb: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
  return Buffer.concat([...Array(mb).fill(block), Buffer.from([0x03, 0x00])]);
}

/** A zip entry with a ready-made deflate stream and whatever uncompressed size and CRC it should claim. */
function rawDeflatedZip(name: string, stream: Buffer, declared: number): Buffer {
  const z = zipArchive([{ name, data: stream, declaredSize: declared }]);
  // zipArchive stores: switch the method to deflate (8) in the local and central headers.
  z.writeUInt16LE(8, 8);
  z.writeUInt16LE(8, z.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 10);
  return z;
}

test('the deflate bomb helper really inflates to what it says', () => {
  assert.equal(zlib.inflateRawSync(zeroBomb(3)).length, 3 << 20);
});

test('zip bombs in pytorch_model.bin are refused before they are inflated, with RSS growth under 100 MB', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const stream = zeroBomb(1000); // ~1 MB compressed, 1000 MiB of zeros
    assert.ok(stream.length < 1.2e6, `bomb is ${stream.length} bytes`);
    const cases: Array<{ name: string; bytes: Buffer; re: RegExp }> = [];
    // data.pkl claiming 3 GB: over the 64 MiB any state-dict pickle can need.
    cases.push({ name: 'claims', bytes: rawDeflatedZip('archive/data.pkl', stream, 3e9), re: /archive\/data\.pkl declares 3000000000 bytes uncompressed, more than the 67108864 it can need/ });
    // data.pkl claiming 60 MB (under that cap) from 100 KB: the ratio limit.
    cases.push({ name: 'ratio', bytes: rawDeflatedZip('archive/data.pkl', zeroBomb(100), 60e6), re: /compression ratio over 200:1/ });
    // data.pkl lying: claims 1000 bytes, inflates to 1000 MiB; inflation stops at the declared size.
    cases.push({ name: 'lies', bytes: rawDeflatedZip('archive/data.pkl', stream, 1000), re: /archive\/data\.pkl inflates to more than the 1000 bytes it declares/ });
    // A storage of 2^31 floats (8 GiB) in a tiny model: refused from the pickle, before its entry is looked at.
    const pkl = statePickle([{ name: QUERY, key: '0', shape: [4, 4], numel: 2 ** 31 - 1 }]);
    cases.push({ name: 'storage', bytes: zipArchive([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: stream }]),
      re: /storage "0" \(2147483647 F32 elements\) takes the storages past \d+ bytes, more than the model can need/ });
    const script = `
      import { loadCheckpoint } from ${JSON.stringify(path.join(repoRoot, 'dist/src/model/checkpoint/load.js'))};
      const base = process.memoryUsage.rss();
      const out = [];
      for (const dir of process.argv.slice(1)) {
        try { loadCheckpoint(dir); out.push('loaded'); } catch (e) { out.push(e.name + ': ' + e.message); }
      }
      console.log(JSON.stringify({ out, growth: process.resourceUsage().maxRSS * 1024 - base }));`;
    const dirs = cases.map((c) => binDir(dir, c.name, c.bytes).dir);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...dirs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { out, growth } = JSON.parse(r.stdout) as { out: string[]; growth: number };
    cases.forEach((c, i) => assert.match(out[i]!, new RegExp(`^CheckpointError: ${esc(path.join(dirs[i]!, 'pytorch_model.bin'))}: .*${c.re.source}`), c.name));
    assert.ok(growth < 100e6, `peak RSS grew ${(growth / 1e6).toFixed(0)} MB`);
  } finally {
    cleanup();
  }
});

test('zip directories with malformed extra fields or impossible sizes give CheckpointError naming the file', () => {
  const data = Buffer.from('3\n');
  const bad = (extra: Buffer, re: RegExp): void => {
    refused(() => readZip(zipArchive([{ name: 'archive/version', data, extra }]), 'x/pytorch_model.bin'), new RegExp(`^x/pytorch_model\\.bin: ${re.source}`));
  };
  const field = (id: number, len: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(id, 0);
    h.writeUInt16LE(len, 2);
    return Buffer.concat([h, body]);
  };
  bad(field(0x5455, 40, Buffer.alloc(5)), /entry archive\/version: extra field 0x5455 runs past the entry's extra data/);
  // zip64 field too short for the size it must carry (the directory says 0xffffffff).
  const z = zipArchive([{ name: 'archive/version', data, extra: field(0x0001, 4, Buffer.alloc(4)), declaredSize: 0xffffffff }]);
  refused(() => readZip(z, 'x/pytorch_model.bin'), /^x\/pytorch_model\.bin: entry archive\/version: zip64 extra field is too short/);
  // Name and extra field running past the central directory.
  const long = zipArchive([{ name: 'archive/version', data }]);
  long.writeUInt16LE(60000, long.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 30);
  refused(() => readZip(long, 'x/pytorch_model.bin'), /central directory entry 0: name, extra field or comment runs past the directory/);
  // A stored entry whose sizes disagree, and a compressed size beyond the archive.
  refused(() => readZip(zipArchive([{ name: 'a', data, declaredSize: 5 }]), 'x.bin'), /^x\.bin: entry a is stored \(not compressed\) but declares 5 bytes in 2/);
  const huge = zipArchive([{ name: 'a', data }]);
  huge.writeUInt32LE(1e9, huge.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 20);
  refused(() => readZip(huge, 'x.bin'), /^x\.bin: entry a: compressed size 1000000000 is larger than the whole \d+-byte archive/);
  assert.equal(ZIP_LIMITS.maxRatio, 200);
});

test('deep and cyclic pickles give CheckpointError naming the file, never a RangeError or TypeError', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const n = 100_000;
    const deep = Buffer.concat([Buffer.alloc(n, 0x5d), Buffer.alloc(n - 1, 0x61)]); // n nested lists
    const cycle = Buffer.concat([P.emptyList, P.binput(0), P.binget(0), P.append]); // a list inside itself
    const selfKey = Buffer.concat([P.emptyDict, P.binput(1), P.binget(1), P.binget(1), P.setitem]); // a dict that is its own key
    // A chain c1 = [], c(k) = [c(k-1)] whose links are all also listed, shallowest first, in one list: each link is
    // first met 2 levels down, but the chain is 1,000 deep.
    const chain: Buffer[] = [P.emptyList, P.mark, P.emptyList, Buffer.from([0x94])];
    for (let k = 1; k < 1000; k++) chain.push(P.emptyList, Buffer.from([0x6a]), u32(k - 1), P.append, Buffer.from([0x94]));
    const shared = Buffer.concat([...chain, Buffer.from([0x65])]);
    const asRoot = (v: Buffer): Buffer => Buffer.concat([P.proto(2), v, P.stop]);
    // Inside an otherwise valid state dict: as a value, as a key, and inside a persistent id (once printed by JSON.stringify).
    const asValue = (v: Buffer): Buffer => Buffer.concat([P.proto(2), P.emptyDict, P.str('x'), v, P.setitem, P.stop]);
    const asKey = (v: Buffer): Buffer => Buffer.concat([P.proto(2), P.emptyDict, v, P.none, P.setitem, P.stop]);
    const inPid = (v: Buffer): Buffer => Buffer.concat([P.proto(2), P.tupleOf(v, P.str('storage'), P.str('0'), P.str('cpu'), P.binint(1)), P.binpersid, P.stop]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['deep-root', asRoot(deep), /nests containers more than 64 levels deep/],
      ['cycle-root', asRoot(cycle), /cyclic structure/],
      ['deep-value', asValue(deep), /nests containers more than 64 levels deep/],
      ['cycle-value', asValue(cycle), /cyclic structure/],
      ['cycle-key', asKey(selfKey), /cyclic structure/],
      ['deep-shared', asRoot(shared), /nests containers more than 64 levels deep/],
      ['deep-key', asKey(deep), /nests containers more than 64 levels deep/],
      ['cycle-pid', inPid(cycle), /pickle opcode BINPERSID \(0x51\) at byte \d+: persistent id \(\(.* is not a \('storage', type, key, location, numel\) tuple/],
      ['deep-pid', inPid(deep), /pickle opcode BINPERSID .*is not a \('storage'/],
    ];
    for (const [name, pkl, re] of cases) {
      const { dir: d, file } = binDir(dir, name, zipWithPickle(pkl));
      const ms = refused(() => loadCheckpoint(d), new RegExp(`^${esc(file)}: archive/data\\.pkl: .*${re.source}`));
      assert.ok(ms < 1000, `${name}: ${ms} ms`);
    }
    // Deep structures passed to the allowed calls: OrderedDict over a nested list, _rebuild_tensor_v2 with deep sizes.
    const od = Buffer.concat([P.proto(2), P.global('collections', 'OrderedDict'), P.mark, deep, P.tuple, P.reduce, P.stop]);
    refused(() => parseTorchCheckpoint(zipWithPickle(od), 'f.bin'), /^f\.bin: archive\/data\.pkl: pickle opcode REDUCE \(0x52\) at byte \d+: collections\.OrderedDict: items are not key\/value pairs/);
    const rt = Buffer.concat([P.proto(2), P.global('torch._utils', '_rebuild_tensor_v2'), P.mark, P.none, deep, P.tuple, P.reduce, P.stop]);
    refused(() => parseTorchCheckpoint(zipWithPickle(rt), 'f.bin'), /^f\.bin: .*_rebuild_tensor_v2: first argument is not a storage/);
    const rt2 = Buffer.concat([P.proto(2), P.global('torch._utils', '_rebuild_tensor_v2'),
      P.tupleOf(P.tupleOf(P.str('storage'), P.global('torch', 'FloatStorage'), P.str('0'), P.str('cpu'), P.binint(16)), P.binpersid, P.binint(0), deep, deep), P.reduce, P.stop]);
    refused(() => parseTorchCheckpoint(zipWithPickle(rt2), 'f.bin'), /^f\.bin: .*_rebuild_tensor_v2: size \(\(\(.*is not a tuple of non-negative integers/);
  } finally {
    cleanup();
  }
});

test('memo floods and calls repeated on one big list are refused; a real torch pickle stays far inside the limits', () => {
  const flood = Buffer.concat([P.proto(2), P.none, Buffer.alloc(PICKLE_LIMITS.maxMemo + 1, 0x94), P.stop]);
  refused(() => unpickle(flood, 'f', { globals: new Map() }), /^f: pickle opcode MEMOIZE \(0x94\) at byte \d+: more than 100000 memo entries/);
  // 10,000 pairs, then OrderedDict over them 10,000 times via the memo: 1e8 steps if allowed, refused after ~2e6.
  const n = 10_000;
  const pairs = Buffer.concat(Array(n).fill(P.tupleOf(P.binint(1), P.binint(2))));
  const call = Buffer.concat([P.global('collections', 'OrderedDict'), P.binget(0), Buffer.from([0x85]), P.reduce, Buffer.from([0x30])]);
  const pkl = Buffer.concat([P.proto(2), P.emptyList, P.binput(0), P.mark, pairs, Buffer.from([0x65]), Buffer.concat(Array(n).fill(call)), P.stop]);
  const ms = refused(() => parseTorchCheckpoint(zipWithPickle(pkl), 'f.bin'), /^f\.bin: archive\/data\.pkl: pickle opcode REDUCE .*does more work than its \d+ bytes justify/);
  assert.ok(ms < 1000, `${ms} ms`);
  // APPENDS with 200,000 items (once a stack overflow through push(...items)) is fine.
  const wide = Buffer.concat([P.proto(2), P.emptyList, P.mark, Buffer.alloc(200_000, 0x4e), Buffer.from([0x65]), P.stop]);
  assert.equal((unpickle(wide, 'w', { globals: new Map() }).value as unknown[]).length, 200_000);
});

test('a pickle calling os.system (or eval, subprocess) is still refused by name', () => {
  for (const [m, f] of [['posix', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen']]) {
    const pkl = Buffer.concat([P.proto(2), P.global(m!, f!), P.tupleOf(P.str('touch /tmp/bertfit-pwned')), P.reduce, P.stop]);
    refused(() => parseTorchCheckpoint(zipWithPickle(pkl), 'f.bin'), new RegExp(`refusing to load global ${m}\\.${f}: only .* \\(the file may be malicious; nothing was executed\\)`));
  }
});

test('loading refuses NaN and infinite weights, naming the file, the tensor and the counts (both formats)', () => {
  const { dir, cleanup } = scratchDir();
  try {
    for (const weights of ['safetensors', 'bin'] as const) {
      const d = path.join(dir, `nan-${weights}`);
      mkdirSync(d);
      writeTinyCheckpoint(d, { weights, edit: (t) => { t.find((x) => x.name === QUERY)!.data[3] = NaN; } });
      const file = path.join(d, weights === 'bin' ? 'pytorch_model.bin' : 'model.safetensors');
      refused(() => loadCheckpoint(d), new RegExp(`^${esc(file)}: tensor ${esc(QUERY)} has 1 NaN and 0 infinite values of 16 `));
      const e = path.join(dir, `inf-${weights}`);
      mkdirSync(e);
      writeTinyCheckpoint(e, { weights, edit: (t) => { const c = t.find((x) => x.name === 'classifier.bias')!.data; c[0] = Infinity; c[1] = -Infinity; } });
      refused(() => loadCheckpoint(e), /: tensor classifier\.bias has 0 NaN and 2 infinite values of 2 \(a diverged or corrupt checkpoint/);
    }
  } finally {
    cleanup();
  }
});

test('config.json dimensions are bounded; num_labels 1e9 and num_hidden_layers 1e8 are a ConfigError naming file and field', () => {
  const bad = (over: Record<string, unknown>, re: RegExp, text = JSON.stringify({ ...TINY_CONFIG, ...over })): void => {
    refused(() => parseConfigJson(text, 'm/config.json'), new RegExp(`^m/config\\.json: ${re.source}`), ConfigError);
  };
  bad({ num_labels: 1e9 }, /field "num_labels" must be at most 100000, got 1000000000/);
  bad({ num_hidden_layers: 1e8 }, /field "num_hidden_layers" must be at most 256, got 100000000/);
  for (const [field, max] of Object.entries(CONFIG_LIMITS)) {
    const over: Record<string, unknown> = { [field]: max + 1 };
    // hidden_size must stay a multiple of num_attention_heads for the bound to be what is reported
    if (field === 'hidden_size') over.num_attention_heads = 1;
    if (field === 'num_attention_heads') over.hidden_size = 2 * (max + 1);
    bad(over, new RegExp(`field "${field}" must be at most ${max}, got ${max + 1}`));
  }
  bad({ num_labels: 2.5 }, /field "num_labels" must be a positive integer, got 2.5/);
  bad({ hidden_act: ['gelu'] }, /field "hidden_act" must be a string/);
  bad({ id2label: { 0: 'a', 5: 'b' } }, /field "id2label": key "5" is not one of the class ids 0\.\.1/);
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  bad({}, /field "architectures" nests more than 32 levels deep/, JSON.stringify(TINY_CONFIG).replace(/}$/, `,"architectures":${deep}}`));
  // Within every bound but not within memory: 256 layers of hidden 16384 (~825 G parameters).
  bad({ num_hidden_layers: 256, hidden_size: 16384, intermediate_size: 65536, num_attention_heads: 128 },
    /this model has \d+ parameters and needs about [\d.]+ [TP]iB for them and their gradients, but only .* is free .*most of it comes from field "num_hidden_layers" \(256\)/);
});

test('the memory check follows BERTFIT_MEMORY_LIMIT, and real model sizes pass', () => {
  const base = { vocab_size: 30522, max_position_embeddings: 512, type_vocab_size: 2 };
  const bertBase = { ...base, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 };
  const bertLarge = { ...base, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 };
  const miniLM = { ...base, hidden_size: 384, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 1536 };
  const saved = process.env.BERTFIT_MEMORY_LIMIT;
  try {
    process.env.BERTFIT_MEMORY_LIMIT = '64T';
    assert.equal(parameterCount(parseConfig(bertBase)), 109_483_778); // transformers' BertForSequenceClassification
    assert.equal(parameterCount(parseConfig(bertLarge)), 335_143_938);
    assert.equal(parameterCount(parseConfig(miniLM)), 33_360_770);
    for (const c of [bertBase, bertLarge, miniLM, TINY_CONFIG, { ...miniLM, num_labels: 100_000, id2label: undefined }]) {
      const cfg = parseConfig(c);
      assert.equal(parameterCount(cfg), expectedTensors(cfg).reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0));
    }
    for (const name of Object.keys(NAMED_SHAPES)) namedConfig(name, 3);
    process.env.BERTFIT_MEMORY_LIMIT = '2G';
    refused(() => parseConfig(bertLarge, 'big/config.json'), /^big\/config\.json: this model has 335143938 parameters and needs about 2\.5 GiB .*BERTFIT_MEMORY_LIMIT=2G/, ConfigError);
    refused(() => namedConfig('large'), /^random:large: this model has/, ConfigError);
    parseConfig(bertBase); // 876 MB fits in 2 GiB, less what this process holds
    process.env.BERTFIT_MEMORY_LIMIT = 'off';
    parseConfig({ ...bertLarge, num_hidden_layers: 256, hidden_size: 16384, num_attention_heads: 128 });
    process.env.BERTFIT_MEMORY_LIMIT = 'lots';
    assert.throws(() => parseConfig(bertBase), { name: 'UsageError', message: /BERTFIT_MEMORY_LIMIT must be a size such as 8G/ });
  } finally {
    if (saved === undefined) delete process.env.BERTFIT_MEMORY_LIMIT;
    else process.env.BERTFIT_MEMORY_LIMIT = saved;
  }
});

test('predict and eval on such a config exit 1 with the message, not a V8 abort (134)', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const data = path.join(dir, 'd.jsonl');
    writeFileSync(data, '{"text_a": "the cat", "label": "LABEL_0"}\n');
    const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    for (const [cmd, over, re] of [
      ['predict', { num_labels: 1e9 }, /field "num_labels" must be at most 100000, got 1000000000/],
      ['eval', { num_hidden_layers: 1e8 }, /field "num_hidden_layers" must be at most 256, got 100000000/],
    ] as const) {
      const d = path.join(dir, cmd);
      mkdirSync(d);
      writeTinyCheckpoint(d, { config: over });
      const r = spawnSync(process.execPath, [cli, cmd, '--model', d, '--data', data], { encoding: 'utf8', env: { ...process.env, BERTFIT_THREADS: '1' } });
      assert.equal(r.status, 1, `${cmd}: exit ${r.status}, stderr ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`(^|\\n)bertfit: ${esc(path.join(d, 'config.json'))}: ${re.source} \\(a corrupt or hostile config\\?\\)\\n`));
    }
  } finally {
    cleanup();
  }
});

test('weights far bigger than config.json allows are refused before they are read', () => {
  const { dir, cleanup } = scratchDir();
  try {
    writeTinyCheckpoint(dir);
    const file = path.join(dir, 'model.safetensors');
    truncateSync(file, 200 << 20); // sparse: no disk used
    refused(() => loadCheckpoint(dir), new RegExp(`^${esc(file)}: 200 MiB is more than the \\d+ MiB that the model .*config\\.json describes can occupy`));
  } finally {
    cleanup();
  }
});

test('oversized config.json, tokenizer_config.json and vocab.txt are refused before they are read', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const cases: Array<[string, number, RegExp, new (...a: never[]) => Error]> = [
      ['config.json', 20 << 20, /: cannot read config: 20971520 bytes is more than the 16777216 a config\.json can need/, ConfigError],
      ['tokenizer_config.json', 20 << 20, /: 20971520 bytes is more than the 16777216 a tokenizer config can need/, CheckpointError],
      ['vocab.txt', 65 << 20, /: 68157440 bytes is more than the 67108864 a vocabulary can need/, DataError],
    ];
    for (const [name, size, re, kind] of cases) {
      const d = path.join(dir, name);
      mkdirSync(d);
      writeTinyCheckpoint(d);
      truncateSync(path.join(d, name), size); // sparse: no disk used
      const ms = refused(() => loadCheckpoint(d), new RegExp(`^${esc(path.join(d, name))}${re.source}`), kind);
      assert.ok(ms < 1000, `${name}: ${ms} ms`);
    }
  } finally {
    cleanup();
  }
});

test('safetensors headers with absurd shapes or deep JSON give CheckpointError', () => {
  const frame = (header: string): Buffer => {
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(header.length));
    return Buffer.concat([n, Buffer.from(header)]);
  };
  refused(() => parseSafetensors(frame(`{"a":{"dtype":"F32","shape":[${Array(65).fill(1)}],"data_offsets":[0,4]}}`), 'm.safetensors'), /^m\.safetensors: tensor "a": 65 dimensions/);
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  refused(() => parseSafetensors(frame(`{"a":{"dtype":"F32","shape":${deep},"data_offsets":[0,4]}}`), 'm.safetensors'), /^m\.safetensors: tensor "a": shape \[\[\[\[\.\.\.\]\]\]\] is not a list/);
  refused(() => parseSafetensors(frame('{"a":{"dtype":"constructor","shape":[1],"data_offsets":[0,4]}}'), 'm.safetensors'), /unsupported dtype "constructor"/);
  // An integer tensor decoded as float is the loader's CheckpointError too, not a TypeError.
  const ints = parseSafetensors(Buffer.concat([frame('{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}'), Buffer.alloc(8)]), 'm.safetensors');
  refused(() => ints.tensors.get('i')!.toFloat32(), /I64 is not a floating-point type/);
});

test('torch views that would decode to more elements than their storage are refused', () => {
  const pkl = Buffer.concat([P.proto(2), P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.str(QUERY),
    P.global('torch._utils', '_rebuild_tensor_v2'), P.tupleOf(
      P.tupleOf(P.str('storage'), P.global('torch', 'FloatStorage'), P.str('0'), P.str('cpu'), P.binint(1)), P.binpersid,
      P.binint(0), P.tupleOf(P.binint(2 ** 31 - 1), P.binint(2 ** 31 - 1)), P.tupleOf(P.binint(0), P.binint(0)), P.newfalse,
      P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce), P.reduce, P.setitem, P.stop]);
  const bin = zipArchive([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: Buffer.alloc(4) }]);
  refused(() => parseTorchCheckpoint(bin, 'f.bin'), /^f\.bin: tensor "bert\.encoder\.layer\.0\.attention\.self\.query\.weight": view of size \[2147483647,2147483647\] has more elements than its 1-element storage/);
  // A storage entry bigger than its pickle says is refused before it is read.
  const t = tinyTensors().slice(0, 1);
  const z = torchZip(t);
  const entries = [...readZip(z, 'z').values()].map((e) => ({ name: e.name, data: e.read() }));
  entries[1]!.data = Buffer.concat([entries[1]!.data, Buffer.alloc(4)]);
  refused(() => parseTorchCheckpoint(zipArchive(entries), 'f.bin'), /^f\.bin: storage archive\/data\/0 has 132 bytes, expected 128 for 32 F32 elements/);
});

test('a vocab.txt of more than 2^20 lines is refused before it is split', () => {
  assert.equal(MAX_VOCAB_TOKENS, CONFIG_LIMITS.vocab_size);
  const ms = refused(() => parseVocab('[PAD]\n[UNK]\n[CLS]\n[SEP]\n' + '\n'.repeat(MAX_VOCAB_TOKENS), 'v.txt'),
    /^v\.txt:1048577: more than 1048576 lines: too many tokens for a vocabulary/, DataError);
  assert.ok(ms < 1000, `${ms} ms`);
});
