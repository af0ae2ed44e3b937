// Parity with PyTorch: logits, loss and every parameter's gradient of BertClassifier against a PyTorch
// BertForSequenceClassification (scripts/make_model_fixtures.py) on the same checkpoint and padded batch.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint } from '../src/model/checkpoint/index.js';
import { BertClassifier } from '../src/model/bert.js';
import { type Expected, fixturesDir, generatedFixtures, haveTorch, maxAbsDiff, readExpected, relNormError,
  SYSTEM_PYTHON } from './model-helpers.js';

function checkParity(dir: string, expected: Expected, format: 'safetensors' | 'pytorch'): void {
  const ck = loadCheckpoint(dir);
  assert.equal(ck.format, format);
  assert.deepEqual(ck.missingHeads, []);
  const model = BertClassifier.fromCheckpoint(ck, { seed: 0 });
  assert.deepEqual(model.notices, []);

  const logits = model.forward(expected.batch, { train: false, grad: true });
  const err = maxAbsDiff(logits, expected.logits);
  assert.ok(err <= 1e-4, `${dir}: logits differ from PyTorch by ${err}`);
  const loss = model.loss(expected.labels, expected.targets);
  assert.ok(Math.abs(loss - expected.loss) <= 1e-5, `${dir}: loss ${loss} vs PyTorch ${expected.loss}`);

  model.zeroGrad();
  model.backward();
  assert.equal(expected.grads.size, model.tensors.length);
  for (const t of model.tensors) {
    const ref = expected.grads.get(t.name);
    assert.ok(ref, `fixture lacks the gradient of ${t.name}`);
    const ours = model.grad(t.name);
    if (t.name.endsWith('attention.self.key.bias')) {
      // Softmax ignores a shift shared by a whole row of scores, which is what the key bias adds: its true
      // gradient is 0 (PyTorch's float64 value is ~1e-17), so ours must be float32 round-off, not a relative match.
      assert.ok(maxAbsDiff(ours, ref) <= 1e-6, `${dir}: gradient of ${t.name} should vanish, max |g| = ${maxAbsDiff(ours, ref)}`);
      continue;
    }
    const e = relNormError(ours, ref);
    assert.ok(e <= 1e-3, `${dir}: gradient of ${t.name} has relative error ${e.toExponential(2)}`);
  }
}

const small = readExpected(path.join(fixturesDir, 'small-expected.safetensors'));

test('small random BERT (erf GELU): PyTorch parity from model.safetensors', () => {
  checkParity(path.join(fixturesDir, 'small-safetensors'), small, 'safetensors');
});

test('small random BERT: PyTorch parity from pytorch_model.bin', () => {
  checkParity(path.join(fixturesDir, 'small-pytorch'), small, 'pytorch');
});

test('small random BERT: PyTorch parity from a checkpoint with LayerNorm.gamma/beta names', () => {
  checkParity(path.join(fixturesDir, 'small-legacy'), small, 'pytorch');
});

test('BERT-Tiny shape, 30522 vocab, tanh GELU: PyTorch parity in both formats', (t) => {
  if (!haveTorch()) {
    t.skip(`python3-torch not installed (${SYSTEM_PYTHON} cannot import torch): BERT-Tiny parity fixtures not generated`);
    return;
  }
  const dir = generatedFixtures('tiny');
  const expected = readExpected(path.join(dir, 'tiny-expected.safetensors'));
  checkParity(path.join(dir, 'tiny-safetensors'), expected, 'safetensors');
  checkParity(path.join(dir, 'tiny-pytorch'), expected, 'pytorch');
});

test('regression head (problem_type regression, MSELoss): loss and every gradient match PyTorch', () => {
  const expected = readExpected(path.join(fixturesDir, 'regression-expected.safetensors'));
  const dir = path.join(fixturesDir, 'regression-safetensors');
  assert.equal(BertClassifier.fromCheckpoint(loadCheckpoint(dir), { seed: 0 }).problemType, 'regression');
  checkParity(dir, expected, 'safetensors');
});

test('multi-label head (problem_type multi_label_classification, BCEWithLogitsLoss): loss and every gradient match PyTorch', () => {
  const expected = readExpected(path.join(fixturesDir, 'multilabel-expected.safetensors'));
  const dir = path.join(fixturesDir, 'multilabel-safetensors');
  assert.equal(BertClassifier.fromCheckpoint(loadCheckpoint(dir), { seed: 0 }).problemType, 'multi_label_classification');
  checkParity(dir, expected, 'safetensors');
  // a multi-label model refuses to compute a loss without targets
  const model = BertClassifier.fromCheckpoint(loadCheckpoint(dir), { seed: 0 });
  model.forward(expected.batch, { train: false, grad: true });
  assert.throws(() => model.loss(expected.labels), /a multi_label_classification model needs targets \[5, 4\], got none/);
});
