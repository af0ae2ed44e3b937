// bf16 mixed precision (setComputeType('bf16')): bf16 GEMM operands with fp32 accumulation, fp32 everything else.
//
// Tolerances were measured on the small PyTorch fixture (fixtures/model, 2 layers, H=64, erf GELU) and are stated
// with their margin:
//   logits      max |bf16 - fp32| = 4.1e-3 (eval) / 4.7e-3 (train-mode dropout) at max |logit| 0.27 / 0.51,
//               i.e. 1.5% / 0.9% of the logit scale; asserted <= 2.5% of the scale
//   loss        relative difference 5.5e-5 / 6.1e-5; asserted <= 1e-3
//   gradients   cosine similarity with fp32 >= 0.9999 for every tensor; asserted > 0.99 (the key bias, whose true
//               gradient is 0, is checked to stay at round-off instead: <= 0.3% of the query bias's, asserted 1%)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodeDataset } from '../src/data/encode.js';
import { readDataset } from '../src/data/dataset.js';
import { BertClassifier } from '../src/model/bert.js';
import { loadCheckpoint } from '../src/model/checkpoint/index.js';
import { linearBackward, linearForward } from '../src/model/layers/linear.js';
import { Bf16Operands } from '../src/model/mixed.js';
import { openModel } from '../src/model/open.js';
import { native } from '../src/native/index.js';
import { Adam } from '../src/train/optimizer.js';
import { DEFAULT_RECIPE, type TrainSettings } from '../src/train/recipes.js';
import { Trainer } from '../src/train/trainer.js';
import { fixturesDir, maxAbsDiff, randomBatch, readExpected, testConfig } from './model-helpers.js';
import { runCli, shuffledCopyTask, tempDir, writeJsonl } from './train-helpers.js';

const expected = readExpected(path.join(fixturesDir, 'small-expected.safetensors'));
const checkpoint = loadCheckpoint(path.join(fixturesDir, 'small-safetensors'));

interface Pass {
  model: BertClassifier;
  logits: Float32Array;
  loss: number;
  grads: Float32Array;
}

/** forward + loss + backward of the fixture batch in one compute type (a fresh model each time). */
function pass(type: 'fp32' | 'bf16', train: boolean): Pass {
  const model = BertClassifier.fromCheckpoint(checkpoint, { seed: 0 });
  model.setComputeType(type);
  const logits = model.forward(expected.batch, train ? { train: true, seed: 3, step: 1 } : { train: false, grad: true }).slice();
  const loss = model.loss(expected.labels);
  model.zeroGrad();
  model.backward();
  return { model, logits, loss, grads: model.grads.slice() };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

const maxAbs = (x: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
};

/** Round-to-nearest-even fp32 -> bf16 -> fp32 in JS, independent of the native kernel. */
function roundBf16(x: Float32Array): Float32Array {
  const u = new Uint32Array(x.slice().buffer);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16) << 16;
  return new Float32Array(u.buffer);
}

for (const train of [false, true]) {
  test(`bf16 matches fp32 on the PyTorch fixture (${train ? 'train mode, dropout on' : 'eval mode'}): logits, loss, every gradient`, () => {
    const f = pass('fp32', train);
    const h = pass('bf16', train);
    assert.equal(h.model.computeType, 'bf16');
    const scale = maxAbs(f.logits);
    const dLogits = maxAbsDiff(h.logits, f.logits);
    assert.ok(dLogits <= 0.025 * scale, `logits differ by ${dLogits} at scale ${scale}`);
    // bf16 really ran: rounding the operands must change the logits somewhat
    assert.ok(dLogits > 1e-5 * scale, `bf16 logits equal fp32 (${dLogits}): the GEMMs did not use bf16 operands`);
    if (!train) assert.ok(maxAbsDiff(h.logits, expected.logits) <= 0.025 * scale, 'bf16 logits vs PyTorch fp32');
    assert.ok(Math.abs(h.loss - f.loss) <= 1e-3 * f.loss, `loss ${h.loss} vs fp32 ${f.loss}`);
    for (const t of f.model.tensors) {
      const g32 = f.grads.subarray(t.offset, t.offset + t.size);
      const g16 = h.grads.subarray(t.offset, t.offset + t.size);
      if (t.name.endsWith('attention.self.key.bias')) {
        // Its true gradient is 0 (softmax ignores a shift shared by a row), so there is no direction to compare:
        // bf16 score gradients leave round-off of 0.1-0.3% of the query bias gradient (measured); allow 1%.
        const q = h.model.grad(t.name.replace('key.bias', 'query.bias'));
        assert.ok(maxAbs(g16) <= 0.01 * maxAbs(q), `${t.name}: gradient should vanish, max |g| = ${maxAbs(g16)} vs query bias ${maxAbs(q)}`);
        continue;
      }
      const c = cosine(g16, g32);
      assert.ok(c > 0.99, `${t.name}: gradient cosine similarity with fp32 is ${c}`);
    }
  });
}

test('bf16 linear layer = fp32 GEMM on bf16-rounded operands, fp32 outputs and gradients', () => {
  const model = BertClassifier.random(testConfig({ hidden_size: 32, intermediate_size: 64 }), 5);
  const ops = new Bf16Operands(model.params, model.tensors);
  ops.weights.refresh();
  const W = model.tensor('bert.encoder.layer.0.intermediate.dense.weight'); // [64, 32]
  const b = model.tensor('bert.encoder.layer.0.intermediate.dense.bias');
  b.set(Float32Array.from({ length: 64 }, (_, i) => 0.01 * i));
  const N = 7, inDim = 32, outDim = 64;
  const x = Float32Array.from({ length: N * inDim }, (_, i) => Math.sin(i * 0.37) * 1.3);
  const dy = Float32Array.from({ length: N * outDim }, (_, i) => Math.cos(i * 0.11) * 0.7);
  // bf16 path (ops.weights was rounded before b changed: biases are fp32 and read from params directly)
  const y = new Float32Array(N * outDim);
  linearForward(y, x, W, b, N, inDim, outDim, { ops });
  const dx = new Float32Array(N * inDim), dW = new Float32Array(outDim * inDim), db = new Float32Array(outDim);
  linearBackward(dx, dy, x, W, dW, db, N, inDim, outDim, { ops });
  // reference: the fp32 layer on operands rounded in JS
  const [xr, Wr, dyr] = [roundBf16(x), roundBf16(W), roundBf16(dy)];
  const yRef = new Float32Array(N * outDim);
  linearForward(yRef, xr, Wr, b, N, inDim, outDim);
  const dxRef = new Float32Array(N * inDim), dWRef = new Float32Array(outDim * inDim), dbRef = new Float32Array(outDim);
  native.gemm({ transA: true, m: outDim, n: inDim, k: N, a: dyr, b: xr, c: dWRef });
  native.gemm({ m: N, n: inDim, k: outDim, a: dyr, b: Wr, c: dxRef });
  native.biasBackward(dy, dbRef, N, outDim); // the bias gradient sums the fp32 dy
  assert.ok(maxAbsDiff(y, yRef) <= 1e-5, `y: ${maxAbsDiff(y, yRef)}`);
  assert.ok(maxAbsDiff(dx, dxRef) <= 1e-5, `dx: ${maxAbsDiff(dx, dxRef)}`);
  assert.ok(maxAbsDiff(dW, dWRef) <= 1e-5, `dW: ${maxAbsDiff(dW, dWRef)}`);
  assert.deepEqual(db, dbRef);
  // and the rounding is real: the unrounded fp32 product differs
  const y32 = new Float32Array(N * outDim);
  linearForward(y32, x, W, b, N, inDim, outDim);
  assert.ok(maxAbsDiff(y32, yRef) > 1e-4);
});

test('the bf16 weight copy is refreshed every forward; master weights, gradients and Adam stay fp32', () => {
  const config = testConfig({ hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 });
  const model = BertClassifier.random(config, 11);
  model.setComputeType('bf16');
  const batch = randomBatch([9, 5, 12], 12, config.vocab_size, config.num_labels, 4);
  const before = model.forward(batch, { train: true, seed: 1, step: 0 }).slice();
  model.loss(batch.labels);
  model.zeroGrad();
  model.backward();
  // Adam on fp32 master weights: the same update as on a copy with the same gradients
  const opt = { kind: 'adamw' as const, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 };
  const paramsRef = model.params.slice();
  const adam = new Adam(model.params, model.grads, model.tensors, opt);
  const adamRef = new Adam(paramsRef, model.grads, model.tensors, opt);
  adam.update(1e-3);
  adamRef.update(1e-3);
  assert.ok(model.params instanceof Float32Array);
  assert.deepEqual(model.params, paramsRef);
  // Small fp32 updates survive: many weights are no longer bf16-representable (a bf16 master copy would be).
  const bits = new Uint32Array(model.params.buffer, model.params.byteOffset, model.params.length);
  let fine = 0;
  for (const u of bits) if ((u & 0xffff) !== 0) fine++;
  assert.ok(fine > 0.9 * model.params.length, `only ${fine} of ${model.params.length} weights carry fp32 precision`);
  // The next forward sees the updated weights, exactly as a fresh bf16 model holding them would.
  const after = model.forward(batch, { train: false }).slice();
  assert.ok(maxAbsDiff(after, before) > 0, 'the forward after an update still used the old bf16 weights');
  const fresh = new BertClassifier(config);
  fresh.params.set(model.params);
  fresh.setComputeType('bf16');
  assert.deepEqual(fresh.forward(batch, { train: false }), after);
  // alternating training and evaluation (what the trainer does every epoch) reuses the same buffers
  const bytes = model.activationBytes;
  model.forward(batch, { train: true, seed: 1, step: 1 });
  model.forward(batch, { train: false });
  model.forward(batch, { train: true, seed: 1, step: 2 });
  assert.equal(model.activationBytes, bytes);
});

test('setComputeType: switching back to fp32 gives fp32 results; a bad type is a RangeError', () => {
  const model = BertClassifier.fromCheckpoint(checkpoint, { seed: 0 });
  const f32 = model.forward(expected.batch, { train: false }).slice();
  model.setComputeType('bf16');
  const b16 = model.forward(expected.batch, { train: false }).slice();
  assert.ok(maxAbsDiff(b16, f32) > 0);
  model.setComputeType('fp32');
  assert.equal(model.computeType, 'fp32');
  assert.deepEqual(model.forward(expected.batch, { train: false }), f32);
  assert.throws(() => model.setComputeType('fp16' as 'bf16'), /compute type must be 'fp32' or 'bf16', got "fp16"/);
});

test('Bf16Operands.weight refuses arrays that are not rounded parameter views', () => {
  const model = BertClassifier.random(testConfig(), 1);
  const ops = new Bf16Operands(model.params, model.tensors);
  assert.throws(() => ops.weight(new Float32Array(16)), /not a view of the model parameters/);
  assert.throws(() => ops.weight(model.tensor('bert.embeddings.word_embeddings.weight')), /outside the rounded span/);
  const W = model.tensor('classifier.weight');
  assert.equal(ops.weight(W).length, W.length);
});

test('bf16 attention GEMMs give the same bits on 2 threads as on 1 (one oneDNN scratchpad per thread)', () => {
  // BERT-base attention shapes: 4 sequences x 12 heads of Q K^T and P V inside a fused QKV buffer. The strided batch
  // runs one primitive on every thread; with a shared scratchpad ~3% of these runs returned garbage (|error| ~ 50).
  const B = 4, NH = 12, S = 128, H = 768, D = 64;
  const qkv = new Uint16Array(B * S * 3 * H);
  native.f32ToBf16(Float32Array.from(qkv, (_, i) => Math.sin(i * 0.7)), qkv, qkv.length);
  const P = new Uint16Array(B * NH * S * S);
  native.f32ToBf16(Float32Array.from(P, (_, i) => Math.cos(i * 0.3)), P, P.length);
  const q = { outer: S * 3 * H, inner: D }, att = { outer: NH * S * S, inner: S * S }, heads = { batchOuter: B, batchInner: NH };
  const run = (): Float32Array[] => {
    const scores = new Float32Array(B * NH * S * S), ctx = new Float32Array(B * S * H);
    native.gemm({ ...heads, transB: true, m: S, n: S, k: D, a: qkv, lda: 3 * H, strideAOuter: q.outer, strideAInner: q.inner,
      b: qkv.subarray(H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner, c: scores, ldc: S, strideCOuter: att.outer, strideCInner: att.inner });
    native.gemm({ ...heads, m: S, n: D, k: S, a: P, lda: S, strideAOuter: att.outer, strideAInner: att.inner,
      b: qkv.subarray(2 * H), ldb: 3 * H, strideBOuter: q.outer, strideBInner: q.inner, c: ctx, ldc: H, strideCOuter: S * H, strideCInner: D });
    return [scores, ctx];
  };
  const threads = native.info().threads;
  try {
    native.setThreads(1);
    const ref = run();
    native.setThreads(2);
    for (let r = 0; r < 150; r++) {
      const got = run();
      assert.ok(maxAbsDiff(got[0]!, ref[0]!) === 0 && maxAbsDiff(got[1]!, ref[1]!) === 0,
        `run ${r}: 2-thread result differs from 1 thread by ${Math.max(maxAbsDiff(got[0]!, ref[0]!), maxAbsDiff(got[1]!, ref[1]!))}`);
    }
  } finally {
    native.setThreads(threads);
  }
});

test('toHeadsBf16 / fromHeads move attention heads between token-major and head-major layouts', () => {
  const B = 2, S = 3, NH = 2, D = 4, ld = 3 * NH * D; // one third of a fused [B*S, 3H] buffer
  const src = Float32Array.from({ length: B * S * ld }, (_, i) => i + 0.25 + (i % 7) / 1024);
  const heads = new Uint16Array(B * NH * S * D);
  native.toHeadsBf16(src.subarray(NH * D), ld, heads, B, S, NH, D); // the "key" third
  const back = new Float32Array(B * NH * S * D);
  native.bf16ToF32(heads, back, back.length);
  const rounded = roundBf16(src);
  const tokens = new Float32Array(B * S * ld).fill(-1);
  native.fromHeads(back, tokens.subarray(NH * D), ld, B, S, NH, D);
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let s2 = 0; s2 < S; s2++) for (let d = 0; d < D; d++) {
    const t = (b * S + s2) * ld + NH * D + h * D + d;
    assert.equal(back[((b * NH + h) * S + s2) * D + d], rounded[t]);
    assert.equal(tokens[t], rounded[t]);
  }
  // fromHeads writes only its column block
  assert.ok(tokens.subarray(0, NH * D).every((x) => x === -1));
  assert.throws(() => native.toHeadsBf16(src, 7, heads, B, S, NH, D), /toHeadsBf16: ld must be >= NH \* D = 8, got 7/);
  assert.throws(() => native.toHeadsBf16(src, ld, heads.subarray(1), B, S, NH, D), /toHeadsBf16: dst is too short/);
  assert.throws(() => native.fromHeads(back, back, D, B, S, NH, 1), /fromHeads: dst .*overlap/);
});

test('bf16 attention on dense heads: one batched primitive, same bits on 1 and 2 threads, equal to per-head products', () => {
  const B = 3, NH = 4, S = 64, D = 32;
  const hd = { outer: NH * S * D, inner: S * D };
  const att = { outer: NH * S * S, inner: S * S };
  const q = new Uint16Array(B * NH * S * D), k = new Uint16Array(q.length);
  native.f32ToBf16(Float32Array.from(q, (_, i) => Math.sin(i * 0.37)), q, q.length);
  native.f32ToBf16(Float32Array.from(k, (_, i) => Math.cos(i * 0.11)), k, k.length);
  const scores = (): Float32Array => {
    const c = new Float32Array(B * NH * S * S);
    native.gemm({ batchOuter: B, batchInner: NH, transB: true, m: S, n: S, k: D,
      a: q, lda: D, strideAOuter: hd.outer, strideAInner: hd.inner, b: k, ldb: D, strideBOuter: hd.outer, strideBInner: hd.inner,
      c, ldc: S, strideCOuter: att.outer, strideCInner: att.inner });
    return c;
  };
  const threads = native.info().threads;
  try {
    native.setThreads(1);
    const one = scores();
    native.setThreads(2);
    for (let r = 0; r < 20; r++) assert.equal(maxAbsDiff(scores(), one), 0, `run ${r}`);
    // each (b, h) block equals its own 2-D product
    for (const i of [0, 5, B * NH - 1]) {
      const c = new Float32Array(S * S);
      native.gemm({ transB: true, m: S, n: S, k: D, a: q.subarray(i * S * D, (i + 1) * S * D), b: k.subarray(i * S * D, (i + 1) * S * D), c });
      assert.ok(maxAbsDiff(c, one.subarray(i * S * S, (i + 1) * S * S)) <= 1e-5, `matrix ${i}`);
    }
  } finally {
    native.setThreads(threads);
  }
});

test('bf16 fine-tuning learns the synthetic task like fp32 (fp32 master weights)', async () => {
  const dir = tempDir();
  const trainFile = writeJsonl(path.join(dir, 'train.jsonl'), shuffledCopyTask(600, 1));
  const devFile = writeJsonl(path.join(dir, 'dev.jsonl'), shuffledCopyTask(300, 101));
  const labels = ['0', '1'];
  const s: TrainSettings = { ...DEFAULT_RECIPE, epochs: 6, lr: 1e-3, batchSize: 16, maxLen: 32, logEvery: 1000 };
  const silent = { line: () => {}, tick: () => {}, start: () => {}, stop: () => {} };
  const accuracy: Record<string, number> = {};
  for (const dtype of ['fp32', 'bf16'] as const) {
    const opened = await openModel('random:tiny', { seed: 7, labels });
    opened.model.setComputeType(dtype);
    mkdirSync(path.join(dir, dtype));
    const train = encodeDataset(readDataset(trainFile), opened.tokenizer, labels, 32);
    const dev = encodeDataset(readDataset(devFile), opened.tokenizer, labels, 32);
    const trainer = new Trainer(opened.model, { train, dev, labels, padId: 0 }, s,
      { dir: path.join(dir, dtype), vocabText: opened.vocabText, doLowerCase: true }, silent);
    const res = await trainer.run();
    accuracy[dtype] = res.best!.accuracy;
    assert.ok(opened.model.params instanceof Float32Array);
  }
  // measured: fp32 0.960, bf16 0.967 after 228 steps
  console.log(`# synthetic task, best dev accuracy: fp32 ${accuracy.fp32!.toFixed(3)}, bf16 ${accuracy.bf16!.toFixed(3)}`);
  assert.ok(accuracy.bf16! >= 0.9, `bf16 dev accuracy ${accuracy.bf16}`);
  assert.ok(Math.abs(accuracy.bf16! - accuracy.fp32!) <= 0.05, `bf16 ${accuracy.bf16} vs fp32 ${accuracy.fp32}`);
});

test('predict --dtype bf16: logits within the bf16 tolerance of fp32 on the fixture model; a bad dtype is a usage error', () => {
  const dir = tempDir();
  const data = writeJsonl(path.join(dir, 'in.jsonl'), [
    { text_a: 'the cat sat on the mat', text_b: 'a cat was sitting' }, { text_a: 'hello world' },
    { text_a: 'numbers 1 2 3', text_b: 'and more words here' }]);
  const model = path.join(fixturesDir, 'small-safetensors');
  const run = (dtype: string) => {
    const r = runCli(['predict', '--model', model, '--data', data, '--dtype', dtype]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; logits: number[] });
  };
  const f = run('fp32');
  const h = run('bf16');
  assert.equal(h.length, 3);
  for (let i = 0; i < 3; i++) {
    const scale = maxAbs(f[i]!.logits);
    assert.ok(maxAbsDiff(h[i]!.logits, f[i]!.logits) <= 0.025 * scale, `example ${i}: ${h[i]!.logits} vs ${f[i]!.logits}`);
    assert.ok(maxAbsDiff(h[i]!.logits, f[i]!.logits) > 0, 'predict ignored --dtype bf16');
  }
  const bad = runCli(['predict', '--model', model, '--data', data, '--dtype', 'fp16']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--dtype/);
});
