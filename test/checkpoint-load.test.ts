// loadCheckpoint / saveCheckpoint: canonical names, shape checks against the config, heads, casing, round trips,
// and the atomic writes underneath saving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../src/model/config.js';
import { loadCheckpoint, type LoadedCheckpoint } from '../src/model/checkpoint/load.js';
import { classifyName, expectedTensors } from '../src/model/checkpoint/names.js';
import { encodeSafetensors, readSafetensors, type TensorToWrite } from '../src/model/checkpoint/safetensors.js';
import { saveCheckpoint } from '../src/model/checkpoint/save.js';
import { recoverReplacedDir, replaceDirAtomic, writeFileAtomic, writeFileDurable } from '../src/util/atomic.js';
import { assertSameBits, copyFixture, fixture, reference, scratchDir } from './checkpoint-fixtures.js';

function assertTensors(ck: LoadedCheckpoint, want: Map<string, Float32Array>, skip: string[] = []): void {
  const names = [...want.keys()].filter((n) => !skip.includes(n));
  assert.deepEqual([...ck.tensors.keys()], names);
  for (const n of names) assertSameBits(ck.tensors.get(n)!.data, want.get(n)!, n);
}

/** A checkpoint directory whose weights are the reference tensors after `edit`, written as safetensors. */
function dirWithTensors(root: string, name: string, edit: (t: TensorToWrite[]) => TensorToWrite[]): string {
  const dir = copyFixture('bert-cls', path.join(root, name), ['model.safetensors', 'pytorch_model.bin']);
  const ck = loadCheckpoint(fixture('bert-cls'));
  const tensors = [...ck.tensors].map(([n, t]) => ({ name: n, shape: t.shape, data: t.data }));
  writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(edit(tensors)));
  return dir;
}

test('expectedTensors lists the names and shapes transformers uses, in state_dict order', () => {
  const ck = loadCheckpoint(fixture('bert-cls'));
  // reference.json is the fixture script's own, independent list of BertForSequenceClassification parameters.
  const exp = expectedTensors(ck.config);
  assert.deepEqual(exp.map((e) => e.name), [...reference.f32.keys()]);
  for (const e of exp) assert.equal(e.shape.reduce((a, b) => a * b, 1), reference.f32.get(e.name)!.length, e.name);
  assert.deepEqual(exp.find((e) => e.name === 'bert.encoder.layer.1.output.dense.weight')!.shape, [8, 16]);
  assert.deepEqual(exp.filter((e) => e.head).map((e) => `${e.head}:${e.name}`), [
    'pooler:bert.pooler.dense.weight', 'pooler:bert.pooler.dense.bias', 'classifier:classifier.weight', 'classifier:classifier.bias']);
});

test('classifyName maps prefixes and gamma/beta, and drops heads and buffers', () => {
  assert.deepEqual(classifyName('encoder.layer.3.output.LayerNorm.gamma'), { kind: 'param', name: 'bert.encoder.layer.3.output.LayerNorm.weight', renamed: true });
  assert.deepEqual(classifyName('bert.embeddings.LayerNorm.beta'), { kind: 'param', name: 'bert.embeddings.LayerNorm.bias', renamed: true });
  assert.deepEqual(classifyName('pooler.dense.bias'), { kind: 'param', name: 'bert.pooler.dense.bias', renamed: false });
  assert.deepEqual(classifyName('classifier.weight'), { kind: 'param', name: 'classifier.weight', renamed: false });
  assert.deepEqual(classifyName('cls.predictions.decoder.weight'), { kind: 'pretraining-head' });
  assert.deepEqual(classifyName('bert.embeddings.position_ids'), { kind: 'buffer' });
  assert.deepEqual(classifyName('roberta.embeddings.word_embeddings.weight'), { kind: 'unexpected' });
});

test('loadCheckpoint prefers model.safetensors, skips buffers, and reads casing from tokenizer_config.json', () => {
  const ck = loadCheckpoint(fixture('bert-cls'));
  assert.equal(ck.format, 'safetensors');
  assertTensors(ck, reference.f32);
  assert.deepEqual(ck.missingHeads, []);
  assert.equal(ck.config.num_labels, 3);
  assert.equal(ck.config.id2label['2'], 'neutral');
  assert.equal(ck.vocabFile, fixture('bert-cls', 'vocab.txt'));
  assert.equal(ck.doLowerCase, true);
  assert.deepEqual(ck.notices, [`${fixture('bert-cls', 'model.safetensors')}: skipped buffers bert.embeddings.position_ids`]);
});

test('loadCheckpoint reads pytorch_model.bin when it is the only weight file, with identical values', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const ck = loadCheckpoint(copyFixture('bert-cls', path.join(dir, 'pt'), ['model.safetensors']));
    assert.equal(ck.format, 'pytorch');
    assertTensors(ck, reference.f32);
  } finally {
    cleanup();
  }
});

test('loadCheckpoint converts float16/bfloat16 checkpoints in either format', () => {
  assertTensors(loadCheckpoint(fixture('half')), reference.half);
  const { dir, cleanup } = scratchDir();
  try {
    assertTensors(loadCheckpoint(copyFixture('half', path.join(dir, 'pt'), ['model.safetensors'])), reference.half);
  } finally {
    cleanup();
  }
});

test('a bare BertModel with cls.* heads: prefix added, heads dropped, classifier reported missing, casing guessed', () => {
  const ck = loadCheckpoint(fixture('bare-uncased'));
  assert.equal(ck.format, 'pytorch');
  assertTensors(ck, reference.f32, ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(ck.missingHeads, ['classifier.weight', 'classifier.bias']);
  assert.equal(ck.config.num_labels, 2);
  assert.equal(ck.doLowerCase, true);
  const file = fixture('bare-uncased', 'pytorch_model.bin');
  assert.deepEqual(ck.notices, [
    `${file}: dropped 8 pre-training head tensors (cls.*)`,
    `${file}: skipped buffers embeddings.position_ids`,
    `${file}: no classifier weights (classifier.weight, classifier.bias missing); it will be initialised fresh`,
    `${fixture('bare-uncased')}: no do_lower_case in tokenizer_config.json; directory name "bare-uncased" says uncased, so lower-casing is on`,
  ]);
});

test('the legacy torch.save format with LayerNorm.gamma/beta loads under canonical names', () => {
  const ck = loadCheckpoint(fixture('legacy-gamma-beta'));
  assertTensors(ck, reference.f32);
  assert.deepEqual(ck.notices, [`${fixture('legacy-gamma-beta', 'pytorch_model.bin')}: read 10 LayerNorm gamma/beta tensors as weight/bias`]);
});

test('loadCheckpoint refuses the os.system pickle before anything runs', () => {
  rmSync('/tmp/bertfit-evil-pickle-marker', { force: true });
  assert.throws(() => loadCheckpoint(fixture('evil-pickle')), /refusing to load global posix\.system/);
  assert.equal(existsSync('/tmp/bertfit-evil-pickle-marker'), false);
});

test('a wrong shape, a missing tensor, an extra layer or a duplicate name is an error naming tensor and file', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const swap = (name: string) => (ts: TensorToWrite[]) => ts.map((t) => t.name === name ? { ...t, shape: [t.shape[1], t.shape[0]] } : t);
    const d1 = dirWithTensors(dir, 'shape', swap('bert.encoder.layer.1.intermediate.dense.weight'));
    assert.throws(() => loadCheckpoint(d1), new RegExp(`^CheckpointError: ${d1}/model.safetensors: tensor bert.encoder.layer.1.intermediate.dense.weight: ` +
      'expected shape \\[16,8\\] \\(from config.json\\), found \\[8,16\\]$'));
    const d2 = dirWithTensors(dir, 'missing', (ts) => ts.filter((t) => t.name !== 'bert.encoder.layer.0.attention.self.key.bias'));
    assert.throws(() => loadCheckpoint(d2), new RegExp(`${d2}/model.safetensors: tensor bert.encoder.layer.0.attention.self.key.bias is missing ` +
      `\\(expected shape \\[8\\] from ${d2}/config.json\\)`));
    const d3 = dirWithTensors(dir, 'extra', (ts) => [...ts, { name: 'bert.encoder.layer.2.output.dense.bias', shape: [8], data: new Float32Array(8) }]);
    assert.throws(() => loadCheckpoint(d3), /tensor bert\.encoder\.layer\.2\.output\.dense\.bias is not part of the model that config\.json describes \(2 layers\)/);
    const d4 = dirWithTensors(dir, 'dup', (ts) => [...ts, { ...ts[0], name: 'embeddings.word_embeddings.weight' }]);
    assert.throws(() => loadCheckpoint(d4), /tensors bert\.embeddings\.word_embeddings\.weight and embeddings\.word_embeddings\.weight both map to bert\.embeddings\.word_embeddings\.weight/);
    const d5 = dirWithTensors(dir, 'stripped', (ts) => ts.map((t) => t.name === 'bert.pooler.dense.bias' ? { ...t, name: 'pooler.dense.bias' } : t));
    assertTensors(loadCheckpoint(d5), reference.f32);
  } finally {
    cleanup();
  }
});

test('a missing pooler is reported whole in missingHeads, even when only part of it is absent', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const d = dirWithTensors(dir, 'nopool', (ts) => ts.filter((t) => t.name !== 'bert.pooler.dense.weight'));
    const ck = loadCheckpoint(d);
    assert.deepEqual(ck.missingHeads, ['bert.pooler.dense.weight', 'bert.pooler.dense.bias']);
    assert.equal(ck.tensors.has('bert.pooler.dense.bias'), false);
    assert.ok(ck.tensors.has('classifier.weight'));
    assert.match(ck.notices.join('\n'), /no pooler weights \(bert\.pooler\.dense\.weight missing\); it will be initialised fresh/);
  } finally {
    cleanup();
  }
});

test('missing files and directories are named', () => {
  const { dir, cleanup } = scratchDir();
  try {
    assert.throws(() => loadCheckpoint(path.join(dir, 'nope')), /checkpoint directory .*nope does not exist/);
    const noWeights = copyFixture('bert-cls', path.join(dir, 'a'), ['model.safetensors', 'pytorch_model.bin']);
    assert.throws(() => loadCheckpoint(noWeights), /a: no model\.safetensors or pytorch_model\.bin$/);
    const noVocab = copyFixture('bert-cls', path.join(dir, 'b'), ['vocab.txt']);
    assert.throws(() => loadCheckpoint(noVocab), /b: no vocab\.txt/);
    const noConfig = copyFixture('bert-cls', path.join(dir, 'c'), ['config.json']);
    assert.throws(() => loadCheckpoint(noConfig), /c\/config\.json: cannot read config/);
    const badTok = copyFixture('bert-cls', path.join(dir, 'd'));
    writeFileSync(path.join(badTok, 'tokenizer_config.json'), '{"do_lower_case": "yes"}');
    assert.throws(() => loadCheckpoint(badTok), /d\/tokenizer_config\.json: field "do_lower_case" must be true or false, got "yes"/);
  } finally {
    cleanup();
  }
});

test('casing: tokenizer_config.json wins, then the directory name, then the vocabulary', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const cased = copyFixture('bert-cls', path.join(dir, 'plain'));
    writeFileSync(path.join(cased, 'tokenizer_config.json'), '{"do_lower_case": false}');
    assert.equal(loadCheckpoint(cased).doLowerCase, false);
    rmSync(path.join(cased, 'tokenizer_config.json'));
    let ck = loadCheckpoint(cased);
    assert.equal(ck.doLowerCase, true);
    assert.match(ck.notices.at(-1)!, /vocab\.txt has no capitalised tokens, so lower-casing is on/);
    writeFileSync(path.join(cased, 'vocab.txt'), readFileSync(path.join(cased, 'vocab.txt'), 'utf8').replace('\nthe\n', '\nThe\n'));
    ck = loadCheckpoint(cased);
    assert.equal(ck.doLowerCase, false);
    assert.match(ck.notices.at(-1)!, /vocab\.txt has capitalised tokens, so lower-casing is off/);
    renameSync(cased, path.join(dir, 'bert-base-uncased'));
    assert.equal(loadCheckpoint(path.join(dir, 'bert-base-uncased')).doLowerCase, true);
    renameSync(path.join(dir, 'bert-base-uncased'), path.join(dir, 'bert-base-cased'));
    writeFileSync(path.join(dir, 'bert-base-cased', 'vocab.txt'), readFileSync(fixture('bert-cls', 'vocab.txt')));
    assert.equal(loadCheckpoint(path.join(dir, 'bert-base-cased')).doLowerCase, false);
  } finally {
    cleanup();
  }
});

test('save -> load round trip is bit-identical and writes a transformers-style directory', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const src = loadCheckpoint(fixture('bert-cls'));
    const out = path.join(dir, 'out');
    const tensors = [...src.tensors].reverse().map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
    const vocabText = readFileSync(src.vocabFile, 'utf8');
    saveCheckpoint(out, { config: src.config, tensors, vocabText, doLowerCase: false, extraFiles: { 'train_log.jsonl': '{}\n' } });
    assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'tokenizer_config.json', 'train_log.jsonl', 'vocab.txt']);
    assert.deepEqual(readdirSync(dir), ['out'], 'no temporary or old directories left');
    const back = loadCheckpoint(out);
    assert.equal(back.format, 'safetensors');
    assert.deepEqual(back.notices, []);
    assert.equal(back.doLowerCase, false);
    assert.deepEqual({ ...back.config, extra: {} }, { ...src.config, extra: {} });
    assertTensors(back, reference.f32);
    assert.equal(readFileSync(path.join(out, 'vocab.txt'), 'utf8'), vocabText);
    const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
    assert.equal(cfg.model_type, 'bert');
    assert.equal(cfg.pad_token_id, 0, 'fields outside BertConfig are kept');
    assert.deepEqual(cfg.label2id, { contradiction: 0, entailment: 1, neutral: 2 });
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8')),
      { do_lower_case: false, model_max_length: 16, tokenizer_class: 'BertTokenizer' });
    const st = readSafetensors(path.join(out, 'model.safetensors'));
    assert.deepEqual(st.metadata, { format: 'pt' });
    assert.deepEqual([...st.tensors.keys()], [...reference.f32.keys()], 'written in canonical order');
    assert.ok([...st.tensors.values()].every((t) => t.dtype === 'F32'));

    // Saving again replaces the directory (a file only the old one had disappears) and is byte-for-byte stable.
    const before = readFileSync(path.join(out, 'model.safetensors'));
    saveCheckpoint(out, { config: src.config, tensors, vocabText, doLowerCase: false });
    assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']);
    assert.ok(readFileSync(path.join(out, 'model.safetensors')).equals(before));
    assert.deepEqual(readdirSync(dir), ['out']);
  } finally {
    cleanup();
  }
});

test('saveCheckpoint refuses an incomplete or inconsistent model without touching the directory', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const src = loadCheckpoint(fixture('bert-cls'));
    const tensors = [...src.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
    const vocabText = readFileSync(src.vocabFile, 'utf8');
    const out = path.join(dir, 'out');
    mkdirSync(out);
    writeFileSync(path.join(out, 'keep'), 'old');
    const save = (over: Partial<Parameters<typeof saveCheckpoint>[1]>) =>
      saveCheckpoint(out, { config: src.config, tensors, vocabText, doLowerCase: true, ...over });
    assert.throws(() => save({ tensors: tensors.slice(1) }), /tensor bert\.embeddings\.word_embeddings\.weight \(shape \[100,8\]\) is missing/);
    assert.throws(() => save({ tensors: [...tensors, tensors[3]] }), /tensor bert\.embeddings\.LayerNorm\.weight is given twice/);
    assert.throws(() => save({ tensors: [...tensors, { name: 'cls.x', shape: [1], data: new Float32Array(1) }] }), /tensor cls\.x is not a BertForSequenceClassification parameter/);
    assert.throws(() => save({ tensors: tensors.map((t) => t.name === 'classifier.bias' ? { ...t, shape: [2] } : t) }), /classifier\.bias: expected shape \[3\], found \[2\]/);
    assert.throws(() => save({ tensors: tensors.map((t) => t.name === 'classifier.bias' ? { ...t, data: new Float32Array(2) } : t) }), /classifier\.bias: shape \[3\] needs 3 values, data has 2/);
    assert.throws(() => save({ vocabText: vocabText + 'extra\n' }), /vocabulary has 101 tokens; config\.vocab_size is 100/);
    assert.throws(() => save({ extraFiles: { '../x': 'y' } }), /extra file name "\.\.\/x" must be a plain file name/);
    assert.throws(() => save({ extraFiles: { 'config.json': 'y' } }), /extra file name "config\.json"/);
    assert.deepEqual(readdirSync(out), ['keep']);
    assert.deepEqual(readdirSync(dir), ['out']);
  } finally {
    cleanup();
  }
});

test('atomic writes: a failing fill leaves the old directory, and files are replaced whole', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const d = path.join(dir, 'ck');
    replaceDirAtomic(d, (tmp) => writeFileDurable(path.join(tmp, 'a'), 'one'));
    assert.throws(() => replaceDirAtomic(d, (tmp) => {
      writeFileDurable(path.join(tmp, 'b'), 'two');
      throw new Error('disk full');
    }), /disk full/);
    assert.deepEqual(readdirSync(d), ['a']);
    assert.deepEqual(readdirSync(dir), ['ck'], 'the temporary directory was removed');
    replaceDirAtomic(d, (tmp) => writeFileDurable(path.join(tmp, 'b'), 'two'));
    assert.deepEqual(readdirSync(d), ['b']);

    const f = path.join(dir, 'sub', 'file.json');
    writeFileAtomic(f, '{"v":1}');
    writeFileAtomic(f, Buffer.from('{"v":2}'));
    assert.equal(readFileSync(f, 'utf8'), '{"v":2}');
    assert.deepEqual(readdirSync(path.dirname(f)), ['file.json']);
    assert.throws(() => writeFileAtomic(path.join(dir, 'ck'), 'x'), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(readdirSync(dir).sort(), ['ck', 'sub'], 'a failed write leaves no temporary file');
  } finally {
    cleanup();
  }
});

test('a saved config.json keeps extra fields but pins the architecture and float32 dtype', () => {
  const { dir, cleanup } = scratchDir();
  try {
    const src = loadCheckpoint(fixture('bare-uncased'));
    const config = { ...src.config, extra: { ...src.config.extra, architectures: ['BertModel'], torch_dtype: 'float16' } };
    const tensors = expectedTensors(config).map((e) => ({ name: e.name, shape: e.shape, data: src.tensors.get(e.name)?.data ?? new Float32Array(e.shape.reduce((a, b) => a * b, 1)) }));
    saveCheckpoint(path.join(dir, 'o'), { config, tensors, vocabText: readFileSync(src.vocabFile, 'utf8'), doLowerCase: true });
    const cfg = JSON.parse(readFileSync(path.join(dir, 'o', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
    assert.equal(cfg.torch_dtype, 'float32', 'the weights are float32 whatever the source was');
    assert.equal(cfg.extra, undefined);
    assert.deepEqual(parseConfig(cfg).extra, { architectures: ['BertForSequenceClassification'], model_type: 'bert', pad_token_id: 0, torch_dtype: 'float32' });
    assert.deepEqual(loadCheckpoint(path.join(dir, 'o')).missingHeads, []);
  } finally {
    cleanup();
  }
});

test('a save interrupted between its two renames is recovered on the next load or save, nothing lost', () => {
  const { dir, cleanup } = scratchDir();
  try {
    // The crash left the old checkpoint as ck.old-<pid> and the complete new one as ck.tmp-<pid>: the new one wins.
    const ck = path.join(dir, 'ck');
    copyFixture('bert-cls', path.join(dir, 'ck.tmp-4242'), ['pytorch_model.bin']);
    mkdirSync(path.join(dir, 'ck.old-4242'));
    writeFileSync(path.join(dir, 'ck.old-4242', 'stale'), 'old');
    const loaded = loadCheckpoint(ck);
    assert.match(loaded.notices[0]!, /ck: recovered the new version from ck\.tmp-4242 \(an earlier save was interrupted\)/);
    assert.deepEqual(readdirSync(dir), ['ck']);
    assertTensors(loaded, reference.f32);

    // Only the old one is left (the new one never got its name): it is put back before the next save replaces it.
    renameSync(ck, path.join(dir, 'ck.old-77'));
    assert.match(recoverReplacedDir(ck)!, /recovered the previous version from ck\.old-77/);
    assert.equal(loadCheckpoint(ck).tensors.size, reference.f32.size);
    renameSync(ck, path.join(dir, 'ck.old-78'));
    replaceDirAtomic(ck, (tmp) => writeFileDurable(path.join(tmp, 'a'), 'new'));
    assert.deepEqual(readdirSync(dir), ['ck']);
    assert.deepEqual(readdirSync(ck), ['a']);

    // Nothing to do: the directory is there, or there never was one.
    assert.equal(recoverReplacedDir(ck), undefined);
    assert.equal(recoverReplacedDir(path.join(dir, 'none')), undefined);
    assert.throws(() => loadCheckpoint(path.join(dir, 'none')), /checkpoint directory .*none does not exist/);
  } finally {
    cleanup();
  }
});
