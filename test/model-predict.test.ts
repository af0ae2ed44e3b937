// `bertfit predict` end to end: JSON lines in input order, probabilities, agreement with the model run directly,
// independence from batch size (padding), --out, and errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { BertClassifier } from '../src/model/bert.js';
import { encodeSafetensors, loadCheckpoint } from '../src/model/checkpoint/index.js';
import { BertTokenizer } from '../src/tokenizer/tokenizer.js';
import { fixturesDir, maxAbsDiff, repoRoot } from './model-helpers.js';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const modelDir = path.join(fixturesDir, 'small-safetensors');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bertfit-predict-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const rows = [
  { text_a: 'The cat sat on the mat.', text_b: 'A cat was sitting on a mat.' },
  { text_a: 'Stocks fell sharply on Monday after the report.' },
  { text_a: 'He said it would rain.', text_b: 'It did not rain at all, they say, although the forecast had been quite certain.' },
  { text_a: 'Short.', text_b: 'Also short.' },
  { text_a: 'One more example to make the last batch partial.', label: 'ignored' },
];
const dataFile = path.join(tmp, 'in.jsonl');
writeFileSync(dataFile, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

interface Prediction {
  label: string;
  probs: number[];
  logits: number[];
}

function predict(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'predict', ...args], { encoding: 'utf8', env: { ...process.env, BERTFIT_THREADS: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function parse(out: string): Prediction[] {
  return out.trim().split('\n').map((l) => JSON.parse(l) as Prediction);
}

test('predict prints one line per example, in order, matching the model run on each example alone', () => {
  const r = predict('--model', modelDir, '--data', dataFile, '--batch-size', '2');
  assert.equal(r.status, 0, r.stderr);
  const preds = parse(r.stdout);
  assert.equal(preds.length, rows.length);

  const ck = loadCheckpoint(modelDir);
  const model = BertClassifier.fromCheckpoint(ck, { seed: 0 });
  const tok = BertTokenizer.fromVocabFile(ck.vocabFile, { lowerCase: ck.doLowerCase });
  rows.forEach((row, i) => {
    const p = preds[i];
    const enc = tok.encodePair(row.text_a, row.text_b, 64);
    const n = enc.inputIds.length;
    const logits = model.forward({
      size: 1, seqLen: n, inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, validLength: Int32Array.of(n),
      labels: Int32Array.of(-1), indices: Int32Array.of(0),
    }, { train: false });
    assert.ok(maxAbsDiff(p.logits, logits) < 1e-5, `example ${i}: ${p.logits} vs ${Array.from(logits)}`);
    const best = p.logits.indexOf(Math.max(...p.logits));
    assert.equal(p.label, `class_${best}`);
    assert.ok(Math.abs(p.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    const e = p.logits.map((x) => Math.exp(x - p.logits[best]));
    const z = e.reduce((a, b) => a + b, 0);
    assert.ok(maxAbsDiff(p.probs, e.map((x) => x / z)) < 1e-6);
  });

  // another batch size (so other padding) and --out give the same predictions
  const out = path.join(tmp, 'preds.jsonl');
  const r4 = predict('--model', modelDir, '--data', dataFile, '--batch-size', '4', '--out', out);
  assert.equal(r4.status, 0, r4.stderr);
  assert.equal(r4.stdout, '');
  const preds4 = parse(readFileSync(out, 'utf8'));
  preds4.forEach((p, i) => {
    assert.equal(p.label, preds[i].label);
    assert.ok(maxAbsDiff(p.logits, preds[i].logits) < 1e-5);
  });
});

test('predict reads TSV columns chosen by name and truncates to --max-len', () => {
  const tsv = path.join(tmp, 'in.tsv');
  writeFileSync(tsv, 'id\tfirst\tsecond\n1\tThe cat sat.\tA cat sat.\n2\tDogs bark loudly at night.\tCats do not.\n');
  const jsonl = path.join(tmp, 'same.jsonl');
  writeFileSync(jsonl, JSON.stringify({ text_a: 'The cat sat.', text_b: 'A cat sat.' }) + '\n' +
    JSON.stringify({ text_a: 'Dogs bark loudly at night.', text_b: 'Cats do not.' }) + '\n');
  const a = predict('--model', modelDir, '--data', tsv, '--text-a', 'first', '--text-b', 'second', '--max-len', '8');
  const b = predict('--model', modelDir, '--data', jsonl, '--max-len', '8');
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(a.stdout, b.stdout);
  const full = predict('--model', modelDir, '--data', jsonl);
  assert.notEqual(full.stdout, b.stdout, '--max-len 8 should truncate the second example');
});

test('predict errors: usage errors exit 2, bad data exits 1 naming file and line', () => {
  const noModel = predict('--data', dataFile);
  assert.equal(noModel.status, 2);
  assert.match(noModel.stderr, /--model/);
  const tooLong = predict('--model', modelDir, '--data', dataFile, '--max-len', '65');
  assert.equal(tooLong.status, 2);
  assert.match(tooLong.stderr, /--max-len must be at most the model's max_position_embeddings 64, got 65/);
  const badBatch = predict('--model', modelDir, '--data', dataFile, '--batch-size', '0');
  assert.equal(badBatch.status, 2);
  assert.match(badBatch.stderr, /--batch-size must be a positive integer/);
  const bad = path.join(tmp, 'bad.jsonl');
  writeFileSync(bad, JSON.stringify({ text_a: 'fine' }) + '\n' + JSON.stringify({ text_b: 'no text_a' }) + '\n');
  const r = predict('--model', modelDir, '--data', bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.jsonl.*2.*text_a/);
});

test('predict refuses a checkpoint without a trained classifier head', () => {
  // the small fixture re-saved without classifier.* : a pre-trained encoder, not a fine-tuned classifier
  const dir = path.join(tmp, 'no-head');
  mkdirSync(dir);
  for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json']) copyFileSync(path.join(modelDir, f), path.join(dir, f));
  const ck = loadCheckpoint(modelDir);
  const kept = [...ck.tensors].filter(([name]) => !name.startsWith('classifier.')).map(([name, t]) => ({ name, ...t }));
  writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(kept));
  const r = predict('--model', dir, '--data', dataFile);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /no-head has no classifier head .* fine-tune it first/);
});
