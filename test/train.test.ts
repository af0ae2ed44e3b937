// Fine-tuning behaviour: it learns, resumes bit-identically, checkpoints on SIGINT, refuses bad settings, and the
// tutorial recipe prints the reference log format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { encodeDataset } from '../src/data/encode.js';
import { readDataset } from '../src/data/dataset.js';
import { sharedMrpcDir } from '../src/data/mrpc-fetch.js';
import { openModel } from '../src/model/open.js';
import { Trainer } from '../src/train/trainer.js';
import { DEFAULT_RECIPE, type TrainSettings } from '../src/train/recipes.js';
import { evaluate } from '../src/train/evaluate.js';
import { cliPath, repoRoot, runCli, shuffledCopyTask, spawn, tempDir, writeJsonl } from './train-helpers.js';

const silent = { line: () => {}, tick: () => {}, start: () => {}, stop: () => {} };

async function syntheticSetup(nTrain: number, nDev: number, seed = 1) {
  const dir = tempDir();
  const trainFile = writeJsonl(path.join(dir, 'train.jsonl'), shuffledCopyTask(nTrain, seed));
  const devFile = writeJsonl(path.join(dir, 'dev.jsonl'), shuffledCopyTask(nDev, seed + 100));
  const labels = ['0', '1'];
  const opened = await openModel('random:tiny', { seed: 7, labels });
  const train = encodeDataset(readDataset(trainFile), opened.tokenizer, labels, 32);
  const dev = encodeDataset(readDataset(devFile), opened.tokenizer, labels, 32);
  return { dir, trainFile, devFile, labels, opened, train, dev };
}

test('random:tiny learns the synthetic "is b a shuffled copy of a?" task to >= 95% dev accuracy', async () => {
  const { dir, labels, opened, train, dev } = await syntheticSetup(1000, 300);
  const s: TrainSettings = { ...DEFAULT_RECIPE, epochs: 12, lr: 1e-3, batchSize: 16, maxLen: 32, logEvery: 1000 };
  const t0 = performance.now();
  // stop as soon as dev accuracy reaches the target (the rest of the schedule would only cost time)
  const sink = { ...silent, line: (l: string) => { const m = /^dev after epoch \d+: accuracy ([\d.]+)/.exec(l); if (m && Number(m[1]) >= 0.95) trainer.requestStop('target reached'); } };
  const trainer: Trainer = new Trainer(opened.model, { train, dev, labels, padId: 0 }, s,
    { dir, vocabText: opened.vocabText, doLowerCase: true }, sink);
  const res = await trainer.run();
  const secs = (performance.now() - t0) / 1000;
  const best = res.best!;
  console.log(`# synthetic task: dev accuracy ${best.accuracy.toFixed(3)} after ${res.state.step} steps in ${secs.toFixed(1)} s`);
  assert.ok(best.accuracy >= 0.95, `dev accuracy ${best.accuracy}`);
  // checkpoint-best holds the model that scored it
  const reloaded = await openModel(path.join(dir, 'checkpoint-best'), { seed: 0, labels });
  const again = evaluate(reloaded.model, dev, { batchSize: 64, maxLen: 32, padId: 0 }).metrics!;
  assert.equal(again.accuracy, best.accuracy);
  const metrics = JSON.parse(readFileSync(path.join(dir, 'checkpoint-best', 'metrics.json'), 'utf8'));
  assert.equal(metrics.accuracy, best.accuracy);
});

test('an interrupted run resumed from checkpoint-last ends with bit-identical weights', async () => {
  const settings: TrainSettings = { ...DEFAULT_RECIPE, epochs: 2, lr: 5e-4, batchSize: 16, maxLen: 32, logEvery: 1, gradAccum: 2 };
  // uninterrupted
  const a = await syntheticSetup(200, 40, 3);
  const ta = new Trainer(a.opened.model, { train: a.train, dev: a.dev, labels: a.labels, padId: 0 }, settings,
    { dir: a.dir, vocabText: a.opened.vocabText, doLowerCase: true }, silent);
  await ta.run();
  // interrupted after 3 optimizer steps (mid-epoch), then resumed in a fresh process-like setup
  const b = await syntheticSetup(200, 40, 3);
  let lines = 0;
  const stopper = { ...silent, line: () => { if (++lines === 3) tb.requestStop('test'); } };
  const tb: Trainer = new Trainer(b.opened.model, { train: b.train, dev: b.dev, labels: b.labels, padId: 0 }, settings,
    { dir: b.dir, vocabText: b.opened.vocabText, doLowerCase: true }, stopper);
  const first = await tb.run();
  assert.equal(first.reason, 'interrupted');
  assert.equal(first.state.step, 3);
  const last = path.join(b.dir, 'checkpoint-last');
  const resumed = await openModel(last, { seed: 7, labels: b.labels });
  const tc = new Trainer(resumed.model, { train: b.train, dev: b.dev, labels: b.labels, padId: 0 }, settings,
    { dir: b.dir, vocabText: resumed.vocabText, doLowerCase: true }, silent);
  tc.resumeFrom(last);
  const second = await tc.run();
  assert.equal(second.reason, 'finished');
  assert.equal(second.state.step, ta.trainerState.step);
  assert.ok(Buffer.from(resumed.model.params.buffer).equals(Buffer.from(a.opened.model.params.buffer)), 'weights differ after resume');
  // and the interruption changed nothing else a user sees: the same dev history
  const seen = (h: typeof second.state.history) => h.map((e) => [e.accuracy, e.train_loss, e.train_accuracy]);
  assert.deepEqual(seen(second.state.history), seen(ta.trainerState.history));
  // each epoch's mean training loss and accuracy are recorded beside its dev metrics (the interrupted epoch's too)
  for (const h of second.state.history) {
    assert.ok(Number.isFinite(h.train_loss) && h.train_loss! > 0 && h.train_loss! < 5, `train_loss ${h.train_loss}`);
    assert.ok(h.train_accuracy! >= 0 && h.train_accuracy! <= 1, `train_accuracy ${h.train_accuracy}`);
  }
});

test('resuming with different settings is refused with a message naming the setting', async () => {
  const s: TrainSettings = { ...DEFAULT_RECIPE, epochs: 1, batchSize: 16, maxLen: 32, logEvery: 1 };
  const b = await syntheticSetup(64, 16, 5);
  let lines = 0;
  const stopper = { ...silent, line: () => { if (++lines === 1) t.requestStop('test'); } };
  const t: Trainer = new Trainer(b.opened.model, { train: b.train, dev: null, labels: b.labels, padId: 0 }, s,
    { dir: b.dir, vocabText: b.opened.vocabText, doLowerCase: true }, stopper);
  await t.run();
  const t2 = new Trainer(b.opened.model, { train: b.train, dev: null, labels: b.labels, padId: 0 }, { ...s, batchSize: 8 },
    { dir: b.dir, vocabText: b.opened.vocabText, doLowerCase: true }, silent);
  assert.throws(() => t2.resumeFrom(path.join(b.dir, 'checkpoint-last')), /batchSize was 16 in the interrupted run, now 8/);
});

test('SIGINT saves checkpoint-last and exits 130; --resume then finishes the run', async () => {
  const dir = tempDir();
  const trainFile = writeJsonl(path.join(dir, 'train.jsonl'), shuffledCopyTask(1200, 11));
  const out = path.join(dir, 'out');
  const args = ['finetune', '--model', 'random:tiny', '--train', trainFile, '--out', out, '--epochs', '2',
    '--batch-size', '8', '--max-len', '32', '--log-every', '1', '--no-eval'];
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sent = false;
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && /batch \d+\/\d+ step 2\//.test(stderr)) { sent = true; child.kill('SIGINT'); }
  });
  const [code] = await once(child, 'exit');
  assert.ok(sent, 'never saw a training log line: ' + stderr);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: saved .*checkpoint-last at step \d+; continue with --resume/);
  const state = JSON.parse(readFileSync(path.join(out, 'checkpoint-last', 'trainer_state.json'), 'utf8'));
  assert.ok(state.step >= 2 && state.step < 300, `state.step ${state.step}`);
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'optimizer.safetensors']) {
    assert.ok(existsSync(path.join(out, 'checkpoint-last', f)), f);
  }
  const r = runCli([...args, '--resume', path.join(out, 'checkpoint-last')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resumed from .* at step ${state.step}/300`));
  const final = JSON.parse(readFileSync(path.join(out, 'checkpoint-last', 'trainer_state.json'), 'utf8'));
  assert.equal(final.step, 300);
});

test('bad settings fail before any work with a clear message and exit code 2', () => {
  const dir = tempDir();
  const trainFile = writeJsonl(path.join(dir, 'train.jsonl'), shuffledCopyTask(20, 1));
  const three = writeJsonl(path.join(dir, 'three.jsonl'), [
    { text_a: 'a b', label: 'x' }, { text_a: 'c d', label: 'y' }, { text_a: 'e f', label: 'z' }]);
  const base = ['finetune', '--model', 'random:tiny', '--out', path.join(dir, 'out')];
  const cases: Array<[string[], RegExp]> = [
    [[...base, '--train', trainFile, '--lr', '0'], /--lr must be a number in \(0, 1\), got 0/],
    [[...base, '--train', trainFile, '--lr', '-1e-5'], /--lr must be a number in \(0, 1\), got -0.00001/],
    [[...base, '--train', trainFile, '--batch-size', '0'], /--batch-size must be a positive integer, got 0/],
    [[...base, '--train', trainFile, '--epochs', 'three'], /--epochs must be a number, got "three"/],
    [[...base, '--train', path.join(dir, 'missing.jsonl')], /--train .*missing\.jsonl: no such file/],
    [[...base, '--train', trainFile, '--dev', path.join(dir, 'nodev.tsv')], /--dev .*nodev\.tsv: no such file/],
    [[...base], /nothing to train on: give a task \(--task mrpc\) or a training file \(--train FILE\)/],
    [[...base, '--train', trainFile, '--resume', path.join(dir, 'nowhere')], /--resume .*nowhere: no such directory/],
    [[...base, '--train', trainFile, '--optimizer', 'sgd'], /argument 'sgd' is invalid/],
    [['finetune', '--model', path.join(repoRoot, 'fixtures', 'train', 'checkpoint'), '--out', path.join(dir, 'o2'), '--train', three],
      /classifier head was trained for labels \["0","1"\], but this data has \["x","y","z"\]/],
  ];
  for (const [args, msg] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}\n${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.ok(!existsSync(path.join(dir, 'out', 'checkpoint-last')), 'no work should have been done');
  }
});

test('a single-sentence, 3-class dataset trains and evaluates the same way (macro-F1)', () => {
  const dir = tempDir();
  const groups = [['apple', 'lemon', 'tomato', 'pepper'], ['tiger', 'rabbit', 'spider', 'dragon'], ['violin', 'guitar', 'music', 'ticket']];
  const rows = (n: number, seed: number) => Array.from({ length: n }, (_, i) => {
    const g = (i * 7 + seed) % 3;
    const w = groups[g]!;
    return { text_a: `the ${w[(i + seed) % 4]} and the ${w[(i * 3 + 1) % 4]} were there`, label: ['fruit', 'animal', 'music'][g] };
  });
  const trainFile = writeJsonl(path.join(dir, 'train.jsonl'), rows(300, 1));
  const devFile = writeJsonl(path.join(dir, 'dev.jsonl'), rows(60, 2));
  const out = path.join(dir, 'out');
  const r = runCli(['finetune', '--model', 'random:tiny', '--train', trainFile, '--dev', devFile, '--out', out,
    '--epochs', '3', '--lr', '1e-3', '--batch-size', '16', '--max-len', '16']);
  assert.equal(r.status, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(path.join(out, 'checkpoint-best', 'config.json'), 'utf8'));
  assert.deepEqual(cfg.id2label, { 0: 'animal', 1: 'fruit', 2: 'music' });
  const e = runCli(['eval', '--model', path.join(out, 'checkpoint-best'), '--data', devFile, '--max-len', '16']);
  assert.equal(e.status, 0, e.stderr);
  const m = JSON.parse(e.stdout);
  assert.equal(m.examples, 60);
  assert.ok(m.accuracy >= 0.9, `accuracy ${m.accuracy}`);
  assert.ok(Math.abs(m.f1 - m.macro_f1) < 1e-12, 'multi-class f1 is macro-F1');
});

test('--recipe tutorial on MRPC prints the GluonNLP log format', { skip: !sharedMrpcDir() && 'no ../shared/data/mrpc' }, () => {
  const out = tempDir();
  const r = runCli(['finetune', '--task', 'mrpc', '--recipe', 'tutorial', '--model', 'random:tiny', '--epochs', '1', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('[Epoch'));
  // 408 dev pairs, batch 32, rollover: epoch 1 has 12 full batches; a line every 4 batches
  assert.deepEqual(lines.map((l) => /Batch (\d+)\/(\d+)/.exec(l)!.slice(1).join('/')), ['4/12', '8/12', '12/12']);
  for (const l of lines) assert.match(l, /^\[Epoch 1 Batch \d+\/12\] loss=\d+\.\d{4}, lr=0\.0000050, acc=[01]\.\d{3}$/);
  const log = readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log.filter((l) => l.type === 'train').length, 3);
  for (const k of ['epoch', 'step', 'loss', 'lr', 'grad_norm', 'acc', 'seq_per_s']) assert.ok(k in log[0], k);
  assert.ok(existsSync(path.join(out, 'checkpoint-best', 'model.safetensors')));
  assert.ok(existsSync(path.join(out, 'predictions.tsv')), 'MRPC test split predictions');
  const preds = readFileSync(path.join(out, 'predictions.tsv'), 'utf8').trim().split('\n');
  assert.equal(preds.length, 1 + 1725);
});
