// BertClassifier on random models: parameter layout and initialisation, finite-difference gradients (with and
// without dropout), dropout behaviour, padding invariance, gradient accumulation, buffer reuse, argument errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BertClassifier } from '../src/model/bert.js';
import type { BertConfig } from '../src/model/config.js';
import { expectedTensors } from '../src/model/checkpoint/index.js';
import { dropoutPlan, type DropSite } from '../src/model/dropout.js';
import { native } from '../src/native/index.js';
import { maxAbsDiff, randomBatch, rowBatch, testConfig } from './model-helpers.js';

// Toy shapes: a second thread only adds synchronisation (and the test machine's cores are shared).
native.setThreads(1);

test('parameter layout: canonical names and shapes, fused q|k|v blocks, decay only on matrices', () => {
  const config = testConfig();
  const model = BertClassifier.random(config, 1);
  const H = config.hidden_size;
  assert.deepEqual(
    model.tensors.map((t) => `${t.name} ${t.shape}`).sort(),
    expectedTensors(config).map((e) => `${e.name} ${e.shape}`).sort());
  let end = 0;
  for (const t of [...model.tensors].sort((a, b) => a.offset - b.offset)) {
    assert.ok(t.offset >= end, `${t.name} overlaps the tensor before it`);
    assert.equal(t.size, t.shape.reduce((a, b) => a * b, 1));
    assert.equal(t.decay, t.shape.length === 2, t.name);
    end = t.offset + t.size;
  }
  assert.ok(end <= model.params.length);
  assert.equal(model.grads.length, model.params.length);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.attention.self.`;
    const off = (n: string): number => model.tensors.find((t) => t.name === p + n)!.offset;
    assert.equal(off('key.weight'), off('query.weight') + H * H);
    assert.equal(off('value.weight'), off('query.weight') + 2 * H * H);
    assert.equal(off('key.bias'), off('query.bias') + H);
    assert.equal(off('value.bias'), off('query.bias') + 2 * H);
  }
  // tensor() is a view: writes go to params
  model.tensor('classifier.bias')[1] = 42;
  assert.equal(model.params[model.tensors.find((t) => t.name === 'classifier.bias')!.offset + 1], 42);
});

test('random init: N(0, initializer_range) matrices, zero biases, LayerNorm 1/0, deterministic per seed', () => {
  const config = testConfig({ vocab_size: 4000, hidden_size: 32, initializer_range: 0.05 });
  const a = BertClassifier.random(config, 7);
  const w = a.tensor('bert.embeddings.word_embeddings.weight');
  let sum = 0;
  let sq = 0;
  for (const x of w) {
    sum += x;
    sq += x * x;
  }
  const mean = sum / w.length;
  const std = Math.sqrt(sq / w.length - mean * mean);
  assert.ok(Math.abs(mean) < 0.002, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.05) < 0.001, `std ${std}`);
  assert.ok(a.tensor('bert.encoder.layer.1.output.LayerNorm.weight').every((x) => x === 1));
  assert.ok(a.tensor('bert.encoder.layer.1.output.LayerNorm.bias').every((x) => x === 0));
  assert.ok(a.tensor('bert.encoder.layer.0.intermediate.dense.bias').every((x) => x === 0));
  assert.ok(a.tensor('classifier.weight').some((x) => x !== 0));
  assert.deepEqual(BertClassifier.random(config, 7).params, a.params);
  assert.notDeepEqual(BertClassifier.random(config, 8).params, a.params);
  // tensors draw from streams of their own: query and key weights are not copies of each other
  assert.notDeepEqual(a.tensor('bert.encoder.layer.0.attention.self.query.weight'),
    a.tensor('bert.encoder.layer.0.attention.self.key.weight'));
});

test('dropout plan: every site has its own counter range, all keyed by (seed, step)', () => {
  const config = testConfig({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.2 });
  const B = 3;
  const S = 7;
  const plan = dropoutPlan(config, B, S, true, 5, 11);
  const H = config.hidden_size;
  const sites: Array<[DropSite, number, number]> = [[plan.emb, B * S * H, 0.1]];
  for (const l of plan.layers) {
    sites.push([l.attn, B * config.num_attention_heads * S * S, 0.2], [l.attnOut, B * S * H, 0.1], [l.ffnOut, B * S * H, 0.1]);
  }
  sites.push([plan.cls, B * H, 0.1]);
  let next = 0;
  for (const [site, n, p] of sites) {
    assert.equal(site.offset, next, 'ranges are consecutive and disjoint');
    assert.equal(site.p, p);
    assert.equal(site.seed, plan.emb.seed);
    next += n;
  }
  assert.notEqual(dropoutPlan(config, B, S, true, 5, 12).emb.seed, plan.emb.seed);
  assert.notEqual(dropoutPlan(config, B, S, true, 6, 11).emb.seed, plan.emb.seed);
  assert.equal(dropoutPlan(config, B, S, false, 5, 11).layers[1].attn.p, 0);
});

// Central differences of the float32 loss. The model is made strongly nonlinear (std 0.3 weights, random biases
// and LayerNorm parameters) so that every tensor has a sizeable gradient; eps = 1e-2 balances float32 rounding
// of the loss (~1e-7 / eps) against the O(eps^2) truncation error.
function finiteDifferenceCheck(train: boolean): void {
  const config = testConfig({ initializer_range: 0.3, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  const model = BertClassifier.random(config, 3);
  let s = 99;
  for (const t of model.tensors) {
    if (t.shape.length !== 1) continue;
    const v = model.tensor(t.name);
    for (let i = 0; i < v.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      v[i] += 0.2 * (s / 4294967296 - 0.5);
    }
  }
  const batch = randomBatch([7, 4, 2], 7, config.vocab_size, config.num_labels, 5);
  const opts = { train, seed: 123, step: 4, grad: true };
  const lossAt = (): number => {
    model.forward(batch, opts);
    return model.loss(batch.labels);
  };
  lossAt();
  model.zeroGrad();
  model.backward();
  const eps = 1e-2;
  let checked = 0;
  for (const t of model.tensors) {
    const g = model.grad(t.name);
    // the element with the largest gradient, and one more spread through the tensor
    let k = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[k])) k = i;
    for (const i of new Set([k, Math.floor(g.length * 0.37)])) {
      const idx = t.offset + i;
      const x0 = model.params[idx];
      model.params[idx] = x0 + eps;
      const up = lossAt();
      model.params[idx] = x0 - eps;
      const down = lossAt();
      model.params[idx] = x0;
      const fd = (up - down) / (2 * eps);
      const an = g[i];
      assert.ok(Math.abs(fd - an) <= 2e-4 + 1e-2 * Math.abs(an),
        `${train ? 'train' : 'eval'}: d loss / d ${t.name}[${i}]: finite difference ${fd}, backward ${an}`);
      checked++;
    }
  }
  assert.ok(checked >= model.tensors.length);
}

test('finite differences agree with backward (eval mode)', () => finiteDifferenceCheck(false));

test('finite differences agree with backward with every dropout site on (fixed seed and step)', () => finiteDifferenceCheck(true));

test('dropout: train mode differs from eval, same (seed, step) repeats exactly, another step does not', () => {
  // std 0.3 weights: attention far from uniform, so that dropping attention probabilities shows in the logits
  const cfg = (p: number, pA: number): BertConfig =>
    testConfig({ initializer_range: 0.3, hidden_dropout_prob: p, attention_probs_dropout_prob: pA });
  const model = BertClassifier.random(cfg(0.1, 0.1), 2);
  const batch = randomBatch([9, 5, 12, 3], 12, 50, 3);
  const run = (opts: { train: boolean; seed?: number; step?: number }): Float32Array => model.forward(batch, opts).slice();
  const evalA = run({ train: false });
  assert.deepEqual(run({ train: false }), evalA);
  const t1 = run({ train: true, seed: 1, step: 0 });
  assert.ok(maxAbsDiff(t1, evalA) > 1e-4, 'train logits equal eval logits');
  assert.deepEqual(run({ train: true, seed: 1, step: 0 }), t1);
  assert.ok(maxAbsDiff(run({ train: true, seed: 1, step: 1 }), t1) > 1e-4, 'a new step reused the masks');
  assert.ok(maxAbsDiff(run({ train: true, seed: 2, step: 0 }), t1) > 1e-4, 'a new seed reused the masks');

  // attention dropout alone changes the output; with both probabilities 0 train equals eval
  const attnOnly = BertClassifier.random(cfg(0, 0.1), 2);
  const e = attnOnly.forward(batch, { train: false }).slice();
  assert.ok(maxAbsDiff(attnOnly.forward(batch, { train: true, seed: 1, step: 0 }), e) > 1e-4);
  const none = BertClassifier.random(cfg(0, 0), 2);
  const e0 = none.forward(batch, { train: false }).slice();
  assert.deepEqual(none.forward(batch, { train: true, seed: 1, step: 0 }).slice(), e0);
});

test('dropout statistics: about p of the classifier inputs are zeroed, the rest scaled by 1/(1-p)', () => {
  // With one example, classifier.weight's gradient is dlogits (x) dropout(pooled): zero exactly where dropped.
  const p = 0.1;
  const config = testConfig({ hidden_size: 256, num_attention_heads: 4, intermediate_size: 64, hidden_dropout_prob: p });
  const model = BertClassifier.random(config, 4);
  const batch = randomBatch([6], 6, config.vocab_size, config.num_labels);
  const H = config.hidden_size;
  let zeros = 0;
  let total = 0;
  const masks: string[] = [];
  for (let step = 0; step < 16; step++) {
    model.forward(batch, { train: true, seed: 9, step });
    model.loss(batch.labels);
    model.zeroGrad();
    model.backward();
    const row = model.grad('classifier.weight').subarray(0, H);
    let mask = '';
    for (const x of row) {
      mask += x === 0 ? '0' : '1';
      if (x === 0) zeros++;
    }
    masks.push(mask);
    total += H;
  }
  const frac = zeros / total;
  assert.ok(Math.abs(frac - p) < 0.02, `dropped fraction ${frac}, p = ${p}`);
  assert.equal(new Set(masks).size, masks.length, 'two steps produced the same mask');
});

test('padding does not change a row\'s logits or gradients (attention mask from validLength)', () => {
  const config = testConfig();
  const model = BertClassifier.random(config, 5);
  const batch = randomBatch([10, 4, 7, 1], 12, config.vocab_size, config.num_labels);
  const padded = model.forward(batch, { train: false }).slice();
  const C = config.num_labels;
  for (let b = 0; b < batch.size; b++) {
    const alone = model.forward(rowBatch(batch, b), { train: false });
    assert.ok(maxAbsDiff(alone, padded.subarray(b * C, (b + 1) * C)) < 1e-5, `row ${b}`);
  }
  // padding tokens get exactly zero gradient: the [PAD] row and the padded positions stay untouched
  const PAD = 0;
  const padOnly = randomBatch([3], 8, config.vocab_size, config.num_labels);
  model.forward(padOnly, { train: false, grad: true });
  model.loss(padOnly.labels);
  model.zeroGrad();
  model.backward();
  const H = config.hidden_size;
  assert.ok(model.grad('bert.embeddings.word_embeddings.weight').subarray(PAD * H, PAD * H + H).every((x) => x === 0));
  const pos = model.grad('bert.embeddings.position_embeddings.weight');
  assert.ok(pos.subarray(3 * H, 8 * H).every((x) => x === 0), 'padded positions received gradient');
  assert.ok(pos.subarray(0, 3 * H).some((x) => x !== 0));
});

test('backward accumulates: two half-scaled backward passes equal one full one', () => {
  const config = testConfig();
  const model = BertClassifier.random(config, 6);
  const batch = randomBatch([8, 5], 8, config.vocab_size, config.num_labels);
  const step = (scale: number): void => {
    model.forward(batch, { train: true, seed: 3, step: 0 });
    model.loss(batch.labels);
    model.backward(scale);
  };
  model.zeroGrad();
  step(1);
  const once = model.grads.slice();
  model.zeroGrad();
  step(0.5);
  step(0.5);
  assert.ok(maxAbsDiff(model.grads, once) < 1e-6);
  model.zeroGrad();
  assert.ok(model.grads.every((x) => x === 0));
});

test('activation buffers are reused across steps and grow only for a bigger batch', () => {
  const config = testConfig();
  const model = BertClassifier.random(config, 7);
  const big = randomBatch([12, 12, 12], 12, config.vocab_size, config.num_labels);
  const small = randomBatch([5, 4], 6, config.vocab_size, config.num_labels);
  model.forward(big, { train: true, seed: 1, step: 0 });
  const bytes = model.activationBytes;
  const logits = model.forward(big, { train: true, seed: 1, step: 1 });
  assert.equal(model.activationBytes, bytes);
  const smallLogits = model.forward(small, { train: true, seed: 1, step: 2 });
  assert.equal(model.activationBytes, bytes);
  assert.equal(smallLogits.buffer, logits.buffer, 'logits live in the same preallocated buffer');
  model.forward(randomBatch([12, 12, 12, 12], 12, config.vocab_size, config.num_labels), { train: true, seed: 1, step: 3 });
  assert.ok(model.activationBytes > bytes);
  // inference keeps one layer's activations, not one per layer
  const infer = BertClassifier.random(config, 7);
  infer.forward(big, { train: false });
  assert.ok(infer.activationBytes < bytes);
});

test('bad calls fail with a message naming the argument', () => {
  const config = testConfig();
  const model = BertClassifier.random(config, 8);
  const batch = randomBatch([4, 2], 4, config.vocab_size, config.num_labels);
  assert.throws(() => model.loss(batch.labels), /loss: no forward pass yet/);
  assert.throws(() => model.forward(batch, { train: true }), /needs seed and step/);
  assert.throws(() => model.forward({ ...batch, validLength: Int32Array.of(4, 0) }, { train: false }), /validLength\[1\] = 0/);
  assert.throws(() => model.forward(randomBatch([17], 17, 50, 3), { train: false }), /seqLen 17 exceeds .* max_position_embeddings 16/);
  assert.throws(() => model.forward({ ...batch, inputIds: batch.inputIds.subarray(0, 5) }, { train: false }), /inputIds has 5 entries, needs 8/);
  model.forward(batch, { train: false });
  assert.throws(() => model.loss(Int32Array.of(0, 3)), /labels\[1\] = 3 is not a class in \[0, 3\)/);
  model.loss(batch.labels);
  assert.throws(() => model.backward(), /kept no activations/);
  model.forward(batch, { train: true, seed: 0, step: 0 });
  assert.throws(() => model.backward(), /call loss\(labels\)/);
  model.loss(batch.labels);
  model.backward();
  assert.throws(() => model.backward(), /once per backward/);
  assert.throws(() => model.tensor('bert.nope'), /no parameter named "bert.nope"/);
});
