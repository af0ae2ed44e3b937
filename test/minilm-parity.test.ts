// Parity with Hugging Face transformers on the real pretrained all-MiniLM-L6-v2 (installed by `bertfit pull minilm-l6`):
// tokens, logits, loss and gradient norms on 64 real MRPC dev pairs (fixtures/minilm-parity, written by
// scripts/hf_minilm_parity.py with transformers 4.40 + torch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { installedModelDir } from '../src/hub/index.js';
import { readSafetensors } from '../src/model/checkpoint/index.js';
import { openModel } from '../src/model/open.js';
import { encodeDataset } from '../src/data/encode.js';
import { taskDatasets } from '../src/data/tasks.js';
import { collate } from '../src/data/collate.js';
import { sharedMrpcDir } from '../src/data/mrpc-fetch.js';
import { repoRoot } from './train-helpers.js';

const fx = path.join(repoRoot, 'fixtures', 'minilm-parity');
const installed = existsSync(path.join(installedModelDir('minilm-l6'), 'config.json'));
const mrpc = sharedMrpcDir();
const skip = !installed ? 'minilm-l6 is not installed: run `bertfit pull minilm-l6` (scripts/setup.sh does)' : !mrpc && 'no ../shared/data/mrpc';

test('all-MiniLM-L6-v2 + classifier head: tokens, logits (<= 1e-4), loss and gradient norms match transformers', { skip }, async () => {
  const expectedJson = JSON.parse(readFileSync(path.join(fx, 'expected.json'), 'utf8')) as { loss: number; grad_norms: Record<string, number> };
  const encoded = JSON.parse(readFileSync(path.join(fx, 'encoded.json'), 'utf8')) as { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  const expected = readSafetensors(path.join(fx, 'expected.safetensors')).tensors;
  const head = readSafetensors(path.join(fx, 'head.safetensors')).tensors;

  const data = taskDatasets('mrpc', mrpc!);
  const opened = await openModel('minilm-l6', { seed: 0, labels: data.labels });
  const { model, tokenizer } = opened;
  for (const name of ['classifier.weight', 'classifier.bias']) model.tensor(name).set(head.get(name)!.toFloat32());

  // our tokenizer gives transformers' ids for the same 64 pairs
  const dev = encodeDataset(data.dev.slice(0, 64), tokenizer, data.labels, 128);
  for (let i = 0; i < 64; i++) {
    const n = encoded.attention_mask[i]!.reduce((a, b) => a + b, 0);
    assert.deepEqual(Array.from(dev[i]!.inputIds), encoded.input_ids[i]!.slice(0, n), `pair ${i} input_ids`);
    assert.deepEqual(Array.from(dev[i]!.tokenTypeIds), encoded.token_type_ids[i]!.slice(0, n), `pair ${i} token_type_ids`);
  }

  const batch = collate(dev, dev.map((_, i) => i), { padding: 'dynamic', maxLen: 128, padId: tokenizer.vocab.padId });
  const logits = model.forward(batch, { train: false, grad: true });
  const want = expected.get('logits')!.toFloat32();
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - want[i]!));
  console.log(`# MiniLM-L6 logits max abs diff vs transformers: ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff <= 1e-4, `logits max abs diff ${maxDiff}`);

  const loss = model.loss(batch.labels);
  assert.ok(Math.abs(loss - expectedJson.loss) <= 1e-5, `loss ${loss} vs ${expectedJson.loss}`);
  model.zeroGrad();
  model.backward();
  for (const [name, norm] of Object.entries(expectedJson.grad_norms)) {
    const g = model.grad(name);
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    const rel = Math.abs(Math.sqrt(s) - norm) / norm;
    assert.ok(rel <= 1e-3, `grad norm of ${name}: ${Math.sqrt(s)} vs transformers ${norm} (rel ${rel.toExponential(2)})`);
  }
});
