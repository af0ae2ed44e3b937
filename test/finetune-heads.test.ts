// Regression and multi-label fine-tuning end to end through the library API: learnable synthetic tasks from scratch,
// problem_type saved so transformers reads the head right, eval / predict outputs per problem type.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { evaluate, finetune, loadClassifier, predictFile } from '../src/index.js';
import { prng, runCli, shuffledCopyTask, tempDir, writeJsonl } from './train-helpers.js';

const tmp = tempDir('bertfit-heads-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const fast = { model: 'random:tiny', maxLen: 32, batchSize: 16, lr: 1e-3, logEvery: 1000, seed: 2, threads: 1 };

test('regression: numeric labels, MSE head, Pearson/Spearman on dev, problem_type saved, scores out', async () => {
  // score 0-5 like STS-B: 4.5 for a shuffled copy, 0.5 for disjoint words
  const rows = (n: number, seed: number) => shuffledCopyTask(n, seed).map((r) => ({ ...r, label: r.label === '1' ? 4.5 : 0.5 }));
  const train = writeJsonl(path.join(tmp, 'reg-train.jsonl'), rows(1000, 1));
  const dev = writeJsonl(path.join(tmp, 'reg-dev.jsonl'), rows(120, 2));
  const r = await finetune({ ...fast, train, dev, problem: 'regression', epochs: 8, out: path.join(tmp, 'reg') });
  const d = r.dev!;
  console.log(`# regression: dev pearson ${d.pearson!.toFixed(3)} spearman ${d.spearman!.toFixed(3)} mse ${d.mse!.toFixed(3)}`);
  assert.ok(d.pearson! > 0.9, `pearson ${d.pearson}`);
  assert.ok(d.spearman! > 0.8, `spearman ${d.spearman}`);
  assert.equal(d.accuracy, undefined);
  const config = JSON.parse(readFileSync(path.join(r.outputs.checkpointBest, 'config.json'), 'utf8'));
  assert.equal(config.problem_type, 'regression');
  assert.equal(config.num_labels, 1);

  // the saved model: eval scores the same file the same way; predict gives the value as score
  const again = await evaluate({ model: r.outputs.checkpointBest, data: dev, threads: 1 });
  assert.ok(Math.abs(again.pearson! - d.pearson!) < 1e-4, `${again.pearson} vs ${d.pearson}`);
  const preds = await predictFile({ model: r.outputs.checkpointBest, data: dev, threads: 1 });
  assert.equal(preds[0]!.score, preds[0]!.logits[0]);
  const clf = await loadClassifier(r.outputs.checkpointBest);
  assert.equal(clf.defaultFunction, 'none');
  const [first] = readFileSync(dev, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text_a: string; text_b: string });
  const out = await clf.predict([first!.text_a, first!.text_b]);
  assert.equal(out.length, 1);
  assert.ok(Math.abs(out[0]!.score - preds[0]!.score!) < 1e-5);

  // non-numeric targets are refused with file and line
  const bad = writeJsonl(path.join(tmp, 'reg-bad.jsonl'), [{ text_a: 'a', label: '3.5' }, { text_a: 'b', label: 'high' }]);
  await assert.rejects(finetune({ ...fast, train: bad, problem: 'regression', out: path.join(tmp, 'reg-bad') }),
    /reg-bad\.jsonl:2: field "label": a regression target must be a number, got "high"/);
});

test('multi-label: label lists (JSON arrays and --label-sep), sigmoid + BCE head, micro/macro-F1, exact match', async () => {
  // labels = which of three marker words the pair mentions (any subset, also none)
  const markers = ['apple', 'river', 'stone'];
  const make = (n: number, seed: number) => {
    const r = prng(seed);
    const filler = 'cloud green music paper window garden silver market winter'.split(' ');
    return Array.from({ length: n }, () => {
      const words = Array.from({ length: 4 }, () => filler[Math.floor(r() * filler.length)]!);
      const labels = markers.filter(() => r() < 0.4);
      for (const m of labels) words.splice(Math.floor(r() * words.length), 0, m);
      return { text_a: words.join(' '), label: labels };
    });
  };
  const train = writeJsonl(path.join(tmp, 'ml-train.jsonl'), make(600, 3));
  const devRows = make(150, 4);
  const dev = writeJsonl(path.join(tmp, 'ml-dev.jsonl'), devRows);
  const r = await finetune({ ...fast, train, dev, epochs: 6, out: path.join(tmp, 'ml') });
  const d = r.dev!;
  console.log(`# multi-label: dev micro_f1 ${d.micro_f1!.toFixed(3)} macro_f1 ${d.macro_f1!.toFixed(3)} exact_match ${d.exact_match!.toFixed(3)}`);
  assert.ok(d.micro_f1! > 0.9 && d.exact_match! > 0.7, JSON.stringify(d));
  const config = JSON.parse(readFileSync(path.join(r.outputs.checkpointBest, 'config.json'), 'utf8'));
  assert.equal(config.problem_type, 'multi_label_classification');
  assert.deepEqual(Object.values(config.id2label), ['apple', 'river', 'stone']);

  const preds = await predictFile({ model: r.outputs.checkpointBest, data: dev, threads: 1 });
  const exact = preds.filter((p, i) => JSON.stringify(p.labels) === JSON.stringify(devRows[i]!.label)).length / preds.length;
  assert.ok(Math.abs(exact - d.exact_match!) < 1e-9, `${exact} vs ${d.exact_match}`);
  for (const p of preds) assert.ok(p.probs.every((x) => x >= 0 && x <= 1) && p.probs.length === 3);

  // the same data as TSV with a separator column, through the CLI; a higher threshold predicts fewer labels
  const tsv = path.join(tmp, 'ml-dev.tsv');
  writeFileSync(tsv, 'text_a\tlabel\n' + devRows.map((x) => `${x.text_a}\t${x.label.join('|')}`).join('\n') + '\n');
  const cli = runCli(['eval', '--model', r.outputs.checkpointBest, '--data', tsv, '--label-sep', '|'], { BERTFIT_THREADS: '1' });
  assert.equal(cli.status, 0, cli.stderr);
  const m = JSON.parse(cli.stdout);
  assert.ok(Math.abs(m.micro_f1 - d.micro_f1!) < 1e-4);
  const strict = await evaluate({ model: r.outputs.checkpointBest, data: dev, threshold: 0.99, threads: 1 });
  assert.ok(strict.micro_f1! <= m.micro_f1 + 1e-12);
  await assert.rejects(finetune({ ...fast, train, dev, metric: 'accuracy', out: path.join(tmp, 'ml2') }),
    /metric must be one of micro_f1, macro_f1, exact_match for multi_label_classification, got "accuracy"/);
});
