// GLUE tasks through finetune(): each task's problem type, selection metric, extra dev splits and submission files,
// on the real CoLA / STS-B files in ../shared and the MNLI layout fixture (a random:tiny model, one short epoch).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { finetune } from '../src/index.js';
import { sharedDir } from '../src/util/paths.js';
import { repoRoot, runCli, tempDir } from './train-helpers.js';

const tmp = tempDir('bertfit-tasks-');
after(() => rmSync(tmp, { recursive: true, force: true }));
const quick = { model: 'random:tiny', epochs: 1, maxLen: 32, batchSize: 64, lr: 5e-4, logEvery: 1000, threads: 1 };
const rowsOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

test('CoLA (real files): single-sentence, no header, Matthews correlation selects checkpoint-best, CoLA.tsv', async (t) => {
  const dir = path.join(sharedDir, 'data', 'glue-cola');
  if (!existsSync(dir)) { t.skip(`${dir} is not here`); return; }
  const r = await finetune({ ...quick, task: 'cola', out: path.join(tmp, 'cola') });
  assert.equal(r.dev!.examples, 1043);
  assert.equal(typeof r.dev!.mcc, 'number');
  assert.equal(JSON.parse(readFileSync(r.outputs.metrics!, 'utf8')).metric, 'mcc');
  assert.deepEqual(r.outputs.submissions.map((f) => path.basename(f)), ['CoLA.tsv']);
  const sub = rowsOf(r.outputs.submissions[0]!);
  assert.equal(sub[0], 'index\tprediction');
  assert.equal(sub.length, 1 + 1063);
  assert.ok(sub.slice(1).every((l, i) => new RegExp(`^${i}\t[01]$`).test(l)), sub.slice(1, 4).join(' | '));
});

test('STS-B (real files): regression head, Pearson selects, STS-B.tsv holds scores', async (t) => {
  const dir = path.join(sharedDir, 'data', 'glue-stsb');
  if (!existsSync(dir)) { t.skip(`${dir} is not here`); return; }
  const r = await finetune({ ...quick, task: 'stsb', out: path.join(tmp, 'stsb') });
  assert.equal(r.dev!.examples, 1500);
  assert.ok(Number.isFinite(r.dev!.pearson) && Number.isFinite(r.dev!.spearman));
  const config = JSON.parse(readFileSync(path.join(r.outputs.checkpointBest, 'config.json'), 'utf8'));
  assert.equal(config.problem_type, 'regression');
  assert.equal(config.num_labels, 1);
  const sub = rowsOf(r.outputs.submissions[0]!);
  assert.equal(path.basename(r.outputs.submissions[0]!), 'STS-B.tsv');
  assert.equal(sub.length, 1 + 1379);
  assert.ok(sub.slice(1).every((l) => /^\d+\t-?\d+\.\d{3}$/.test(l)), sub.slice(1, 4).join(' | '));
  // asking a regression task for a classification metric is refused before training
  await assert.rejects(finetune({ ...quick, task: 'stsb', metric: 'accuracy', out: path.join(tmp, 'stsb2') }),
    /metric must be one of pearson, spearman for regression, got "accuracy"/);
});

test('MNLI layout: three classes, matched selects and mismatched is scored, two submission files', async () => {
  const r = await finetune({ ...quick, epochs: 2, task: 'mnli', dataDir: path.join(repoRoot, 'fixtures', 'glue', 'mnli'), out: path.join(tmp, 'mnli') });
  assert.deepEqual(Object.keys(r.moreDev), ['dev_mismatched']);
  assert.equal(typeof r.moreDev.dev_mismatched!.accuracy, 'number');
  const metrics = JSON.parse(readFileSync(r.outputs.metrics!, 'utf8'));
  assert.deepEqual(metrics.more_dev.dev_mismatched, r.moreDev.dev_mismatched);
  assert.deepEqual(r.outputs.submissions.map((f) => path.basename(f)), ['MNLI-m.tsv', 'MNLI-mm.tsv']);
  for (const f of r.outputs.submissions) {
    assert.ok(rowsOf(f).slice(1).every((l) => /^\d+\t(contradiction|entailment|neutral)$/.test(l)), f);
  }
  const config = JSON.parse(readFileSync(path.join(r.outputs.checkpointBest, 'config.json'), 'utf8'));
  assert.deepEqual(Object.values(config.id2label), ['contradiction', 'entailment', 'neutral']);
  // the CLI takes the same task; `eval --task mnli` reads a dev file of that layout
  const cli = runCli(['eval', '--model', r.outputs.checkpointBest, '--task', 'mnli', '--data', path.join(repoRoot, 'fixtures', 'glue', 'mnli', 'dev_mismatched.tsv')],
    { BERTFIT_THREADS: '1' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.ok(Math.abs(JSON.parse(cli.stdout).accuracy - r.moreDev.dev_mismatched!.accuracy!) < 1e-9);
});
