// BertClassifier and checkpoints: save -> load round trip, new pooler/classifier heads, label-count checks.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BertClassifier } from '../src/model/bert.js';
import { type LoadedCheckpoint, loadCheckpoint } from '../src/model/checkpoint/index.js';
import { native } from '../src/native/index.js';
import { fixturesDir, randomBatch, testConfig } from './model-helpers.js';

native.setThreads(1);

const smallDir = path.join(fixturesDir, 'small-safetensors');

/** The small fixture checkpoint as if it had been saved without the given heads. */
function withoutHeads(heads: Array<'bert.pooler.dense' | 'classifier'>): LoadedCheckpoint {
  const ck = loadCheckpoint(smallDir);
  for (const h of heads) {
    for (const p of ['weight', 'bias']) {
      ck.tensors.delete(`${h}.${p}`);
      ck.missingHeads.push(`${h}.${p}`);
    }
  }
  return ck;
}

test('save -> loadCheckpoint -> fromCheckpoint reproduces parameters and logits exactly', () => {
  const config = testConfig({ id2label: { 0: 'neg', 1: 'neutral', 2: 'pos' } });
  const model = BertClassifier.random(config, 11);
  const batch = randomBatch([9, 3, 16], 16, config.vocab_size, config.num_labels);
  const logits = model.forward(batch, { train: false }).slice();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bertfit-model-'));
  try {
    const vocab = Array.from({ length: config.vocab_size }, (_, i) => (i < 4 ? ['[PAD]', '[UNK]', '[CLS]', '[SEP]'][i] : `w${i}`));
    model.save(dir, vocab.join('\n') + '\n', false);
    const ck = loadCheckpoint(dir);
    assert.equal(ck.doLowerCase, false);
    assert.equal(readFileSync(ck.vocabFile, 'utf8').split('\n')[4], 'w4');
    const back = BertClassifier.fromCheckpoint(ck, { seed: 0 });
    assert.deepEqual(back.config.id2label, config.id2label);
    assert.deepEqual(back.params, model.params);
    assert.deepEqual(back.forward(batch, { train: false }).slice(), logits);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint without pooler and classifier gets new heads from the seed, listed in notices', () => {
  const ck = withoutHeads(['bert.pooler.dense', 'classifier']);
  const a = BertClassifier.fromCheckpoint(ck, { seed: 5, id2label: { 0: 'no', 1: 'yes' } });
  assert.equal(a.config.num_labels, 2);
  assert.deepEqual(a.config.label2id, { no: 0, yes: 1 });
  assert.deepEqual(a.tensors.find((t) => t.name === 'classifier.weight')!.shape, [2, 64]);
  assert.deepEqual(a.newTensors.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
  assert.equal(a.notices.length, 1);
  assert.match(a.notices[0], /initialised new bert\.pooler\.dense and classifier .* seed 5/);
  assert.ok(a.tensor('classifier.bias').every((x) => x === 0));
  const w = a.tensor('classifier.weight');
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert.ok(std > 0.01 && std < 0.03, `classifier std ${std}, initializer_range 0.02`);
  // the encoder comes from the checkpoint; the new heads depend only on the seed
  assert.deepEqual(a.tensor('bert.encoder.layer.1.output.dense.weight'), ck.tensors.get('bert.encoder.layer.1.output.dense.weight')!.data);
  const b = BertClassifier.fromCheckpoint(withoutHeads(['bert.pooler.dense', 'classifier']), { seed: 5, numLabels: 2 });
  assert.deepEqual(b.params, a.params);
  assert.deepEqual(b.config.id2label, { 0: 'LABEL_0', 1: 'LABEL_1' });
  const c = BertClassifier.fromCheckpoint(withoutHeads(['bert.pooler.dense', 'classifier']), { seed: 6, numLabels: 2 });
  assert.notDeepEqual(c.tensor('classifier.weight'), a.tensor('classifier.weight'));
});

test('only the missing head is new; the number of labels must match a trained classifier', () => {
  const ck = withoutHeads(['classifier']);
  const m = BertClassifier.fromCheckpoint(ck, { seed: 1, numLabels: 7 });
  assert.equal(m.config.num_labels, 7);
  assert.deepEqual(m.newTensors.sort(), ['classifier.bias', 'classifier.weight']);
  assert.deepEqual(m.tensor('bert.pooler.dense.weight'), ck.tensors.get('bert.pooler.dense.weight')!.data);

  const full = loadCheckpoint(smallDir);
  const kept = BertClassifier.fromCheckpoint(full, { seed: 1 });
  assert.equal(kept.config.num_labels, 3);
  assert.deepEqual(kept.config.id2label, { 0: 'class_0', 1: 'class_1', 2: 'class_2' });
  assert.deepEqual(kept.newTensors, []);
  assert.throws(() => BertClassifier.fromCheckpoint(full, { seed: 1, numLabels: 2 }),
    /classifier predicts 3 labels .* but 2 were asked for/);
  assert.throws(() => BertClassifier.fromCheckpoint(full, { seed: 1, id2label: { 0: 'a', 2: 'b' } }), /"1" is missing/);
  const renamed = BertClassifier.fromCheckpoint(full, { seed: 1, id2label: { 0: 'x', 1: 'y', 2: 'z' } });
  assert.deepEqual(renamed.config.label2id, { x: 0, y: 1, z: 2 });
});
