// The library API (src/index.ts) used as an application would: loadClassifier/predict, evaluate/predictFile,
// finetune with events and an AbortSignal, option errors, the tokenizer, and agreement with the CLI.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  BertTokenizer, DEFAULT_RECIPE, InputError, OptionError, SMALL_MODEL_SETTINGS, evaluate, finetune, loadClassifier, predictFile,
  resolveSettings, type TrainEvent, type TrainSettings,
} from '../src/index.js';
import { maxAbsDiff } from './model-helpers.js';
import { repoRoot, runCli, shuffledCopyTask, tempDir, writeJsonl } from './train-helpers.js';

const modelDir = path.join(repoRoot, 'fixtures', 'model', 'small-safetensors');   // 3 classes class_0..2, 64 positions
const tmp = tempDir('bertfit-api-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const pair: [string, string] = ['The cat sat on the mat.', 'A cat was sitting on a mat.'];

test('loadClassifier: predict returns every label sorted by score; one input, a pair, or a list', async () => {
  const clf = await loadClassifier(modelDir, { threads: 1 });
  assert.deepEqual(clf.labels, ['class_0', 'class_1', 'class_2']);
  assert.equal(clf.maxLen, 64);
  assert.equal(clf.config.num_labels, 3);

  const one = await clf.predict(pair);
  assert.equal(one.length, 3);
  assert.deepEqual(one.map((s) => s.label).sort(), clf.labels);
  for (let i = 1; i < one.length; i++) assert.ok(one[i - 1]!.score >= one[i]!.score);
  assert.ok(Math.abs(one.reduce((a, s) => a + s.score, 0) - 1) < 1e-9);

  // a list: one answer per input, in order; each equals the input classified alone
  const list = await clf.predict([pair, 'Stocks fell sharply.', { text: 'Short.', text_pair: 'Also short.' }, '']);
  assert.equal(list.length, 4);
  const close = (x: Array<{ label: string; score: number }>, y: Array<{ label: string; score: number }>) => {
    assert.deepEqual(x.map((s) => s.label), y.map((s) => s.label));
    assert.ok(maxAbsDiff(x.map((s) => s.score), y.map((s) => s.score)) < 1e-6);
  };
  close(list[0]!, one);   // other batch, other padding: equal up to float32 rounding
  const alone = await clf.predict('Stocks fell sharply.');
  assert.ok(maxAbsDiff(list[1]!.map((s) => s.score), alone.map((s) => s.score)) < 1e-6);
  assert.deepEqual(await clf.predict({ text: 'Short.', text_pair: 'Also short.' }), await clf.predict(['Short.', 'Also short.']));
  close(list[2]!, await clf.predict(['Short.', 'Also short.']));

  // topK, raw logits, and scores from the logits
  const top1 = await clf.predict(pair, { topK: 1 });
  assert.deepEqual(top1, [one[0]]);
  const logits = await clf.logits(pair);
  const raw = await clf.predict(pair, { functionToApply: 'none' });
  for (const s of raw) assert.ok(Math.abs(s.score - logits[clf.labels.indexOf(s.label)]!) < 1e-7);
  const probs = await clf.probabilities(pair);
  for (const s of one) assert.ok(Math.abs(s.score - probs[clf.labels.indexOf(s.label)]!) < 1e-12);
  const sig = await clf.predict(pair, { functionToApply: 'sigmoid' });
  for (const s of sig) assert.ok(Math.abs(s.score - 1 / (1 + Math.exp(-logits[clf.labels.indexOf(s.label)]!))) < 1e-9);
  clf.dispose();
  await assert.rejects(clf.predict('x'), /disposed/);
});

test('bf16 Classifier: weights rounded once (frozen), answers stable across calls and close to fp32', async () => {
  const fp32 = await loadClassifier(modelDir, { threads: 1 });
  const bf16 = await loadClassifier(modelDir, { threads: 1, dtype: 'bf16' });
  const inputs: Array<[string, string]> = [pair, ['Stocks fell sharply.', 'Markets dropped.']];
  const first = await bf16.logits(inputs);
  assert.deepEqual(await bf16.logits(inputs), first);
  const ref = await fp32.logits(inputs);
  const scale = Math.max(...ref.flat().map(Math.abs));
  assert.ok(maxAbsDiff(first.flat(), ref.flat()) <= 0.015 * scale, `${first} vs ${ref}`);
});

test('empty text is a valid input: [CLS] [SEP], as the original tokenizer encodes it', async () => {
  const clf = await loadClassifier(modelDir, { threads: 1 });
  const [enc] = clf.encode(['']);
  assert.deepEqual(Array.from(enc!.inputIds), [clf.tokenizer.vocab.clsId, clf.tokenizer.vocab.sepId]);
  const r = await clf.predict('');
  assert.equal(r.length, 3);
  assert.ok(r.every((s) => Number.isFinite(s.score)));
  const [emptyPair] = clf.encode([['', '']]);
  assert.equal(emptyPair!.inputIds.length, 3);
});

test('inputs: too long without truncation, bad shapes and bad options are refused with the field named', async () => {
  const clf = await loadClassifier(modelDir, { threads: 1, maxLen: 16 });
  const long = 'word '.repeat(40);
  const cut = await clf.logits(long);                       // truncate defaults to true
  assert.equal(cut.length, 3);
  // (a list of exactly two strings would be one pair: three inputs here)
  await assert.rejects(clf.predict(['ok', long, 'fine'], { truncate: false }),
    (e: unknown) => e instanceof InputError && e.index === 1 && /input 1 has 42 tokens, more than the model's limit of 16/.test(e.message));
  await assert.rejects(clf.predict([1 as unknown as string, 'a', 'b']), (e: unknown) => e instanceof InputError && /inputs\[0\] must be a string/.test(e.message));
  await assert.rejects(clf.predict(42 as unknown as string), /inputs must be a string, a \[text, text_pair\] pair, or a list of those, got 42/);
  await assert.rejects(clf.predict('a', { topK: 0 }), (e: unknown) => e instanceof OptionError && e.option === 'topK');
  await assert.rejects(clf.predict('a', { functionToApply: 'relu' as 'none' }), /functionToApply must be one of softmax, sigmoid, none, got "relu"/);
  await assert.rejects(loadClassifier(modelDir, { maxLen: 65 }), /maxLen must be at most the model's max_position_embeddings 64, got 65/);
  await assert.rejects(loadClassifier(modelDir, { dtype: 'fp16' as 'bf16' }), (e: unknown) => e instanceof OptionError && e.option === 'dtype');
  await assert.rejects(loadClassifier(modelDir, { threads: 0 }), /threads must be a positive integer, got 0/);
});

test('predictFile and evaluate agree with `bertfit predict` / `bertfit eval`', async () => {
  const rows = [
    { text_a: pair[0], text_b: pair[1], label: 'class_1' },
    { text_a: 'Stocks fell sharply on Monday.', text_b: '', label: 'class_0' },
    { text_a: 'He said it would rain.', text_b: 'It did not.', label: 'class_2' },
  ];
  const data = writeJsonl(path.join(tmp, 'labelled.jsonl'), rows);
  const preds = await predictFile({ model: modelDir, data, threads: 1 });
  const cli = runCli(['predict', '--model', modelDir, '--data', data], { BERTFIT_THREADS: '1' });
  assert.equal(cli.status, 0, cli.stderr);
  const cliPreds = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; logits: number[] });
  assert.equal(preds.length, 3);
  preds.forEach((p, i) => {
    assert.equal(p.label, cliPreds[i]!.label);
    assert.ok(maxAbsDiff(p.logits, cliPreds[i]!.logits) < 1e-6);
  });

  const metrics = await evaluate({ model: modelDir, data, threads: 1 });
  const cliEval = runCli(['eval', '--model', modelDir, '--data', data], { BERTFIT_THREADS: '1' });
  assert.equal(cliEval.status, 0, cliEval.stderr);
  assert.deepEqual(metrics, JSON.parse(cliEval.stdout));
  assert.equal(metrics.examples, 3);
  const correct = preds.filter((p, i) => p.label === rows[i]!.label).length;
  assert.equal(metrics.accuracy, correct / 3);
  const loss = -preds.reduce((a, p, i) => a + Math.log(p.probs[Number(rows[i]!.label.slice(-1))]!), 0) / 3;
  assert.ok(Math.abs(metrics.loss - loss) < 1e-9);
});

test('finetune(): typed options, events, result paths; an AbortSignal stops it and keeps checkpoint-last', async () => {
  const train = writeJsonl(path.join(tmp, 'train.jsonl'), shuffledCopyTask(64, 5));
  const dev = writeJsonl(path.join(tmp, 'dev.jsonl'), shuffledCopyTask(24, 6));
  const base = { model: 'random:tiny', train, dev, test: dev, epochs: 2, batchSize: 16, maxLen: 32, lr: 1e-3, logEvery: 1, seed: 3, threads: 1 };

  const events: TrainEvent[] = [];
  const lines: string[] = [];
  const full = await finetune({ ...base, out: path.join(tmp, 'full'), onEvent: (e) => events.push(e), onLine: (l) => lines.push(l) });
  assert.equal(full.stop, 'finished');
  assert.equal(full.steps, 8);
  assert.equal(full.history.length, 2);
  assert.ok(full.dev && full.dev.examples === 24);
  assert.deepEqual(events.filter((e) => e.type === 'train').map((e) => e.step), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(events.filter((e) => e.type === 'eval').map((e) => e.epoch), [1, 2]);
  assert.ok(lines.some((l) => l.startsWith('dev accuracy')));
  for (const f of [full.outputs.checkpointBest, full.outputs.checkpointLast, full.outputs.log, full.outputs.settings, full.outputs.metrics!]) {
    assert.ok(existsSync(f), f);
  }
  assert.equal(readFileSync(full.outputs.log, 'utf8').trim().split('\n').length, events.length);
  const written = JSON.parse(readFileSync(full.outputs.metrics!, 'utf8'));
  assert.deepEqual(written.dev, full.dev);

  // abort after the third step: checkpoint-last holds step 3, and resuming finishes with the same dev metrics
  const stop = new AbortController();
  const out = path.join(tmp, 'aborted');
  const cut = await finetune({ ...base, out, signal: stop.signal, onEvent: (e) => { if (e.type === 'train' && e.step === 3) stop.abort(); } });
  assert.equal(cut.stop, 'interrupted');
  assert.equal(cut.steps, 3);
  assert.equal(cut.outputs.metrics, null);
  const state = JSON.parse(readFileSync(path.join(cut.outputs.checkpointLast, 'trainer_state.json'), 'utf8'));
  assert.equal(state.step, 3);
  const resumed = await finetune({ ...base, out, resume: cut.outputs.checkpointLast });
  assert.equal(resumed.stop, 'finished');
  assert.deepEqual(resumed.dev, full.dev);
  // the test predictions come from checkpoint-best's weights, also when the best epoch was before the interruption
  assert.equal(readFileSync(resumed.outputs.predictions!, 'utf8'), readFileSync(full.outputs.predictions!, 'utf8'));

  // a fine-tuned result loads as a Classifier
  const clf = await loadClassifier(full.outputs.checkpointBest);
  assert.deepEqual(clf.labels, ['0', '1']);
  const devRows = readFileSync(dev, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text_a: string; text_b: string; label: string });
  const answers = await clf.predict(devRows.map((r) => [r.text_a, r.text_b] as [string, string]));
  const acc = answers.filter((a, i) => a[0]!.label === devRows[i]!.label).length / devRows.length;
  assert.equal(acc, full.dev!.accuracy);
});

test('finetune(): options are checked before any work, with the option named; skipEmpty reports what it skipped', async () => {
  const train = writeJsonl(path.join(tmp, 'train-empty.jsonl'), [
    ...shuffledCopyTask(20, 9), { text_a: '', text_b: 'x', label: '1' }, { text_a: 'y', text_b: ' ', label: '0' }]);
  const clean = writeJsonl(path.join(tmp, 'train-clean.jsonl'), shuffledCopyTask(20, 9));
  const out = path.join(tmp, 'never');
  const cases: Array<[object, string, RegExp]> = [
    [{ lr: 2 }, 'lr', /^lr must be a number in \(0, 1\), got 2$/],
    [{ batchSize: 1.5 }, 'batchSize', /^batchSize must be a positive integer, got 1.5$/],
    [{ optimizer: 'sgd' }, 'optimizer', /^optimizer must be one of adam, adamw, got "sgd"$/],
    [{ recipe: 'fast' }, 'recipe', /^recipe must be one of default, tutorial, got "fast"$/],
    [{ task: 'mnli2' }, 'task', /^task must be one of/],
    [{ labels: ['a', 'a'] }, 'labels', /^labels has "a" twice$/],
  ];
  for (const [bad, option, message] of cases) {
    await assert.rejects(finetune({ model: 'random:tiny', train: clean, out, ...bad }),
      (e: unknown) => e instanceof OptionError && e.option === option && message.test(e.message), JSON.stringify(bad));
  }
  assert.ok(!existsSync(out), 'nothing written for refused settings');
  await assert.rejects(finetune({ model: 'random:tiny', train, out }), /train-empty\.jsonl:21: field "text_a": empty text/);

  const lines: string[] = [];
  const r = await finetune({ model: 'random:tiny', train, out: path.join(tmp, 'skip'), skipEmpty: true, epochs: 1, maxLen: 32, threads: 1, onLine: (l) => lines.push(l) });
  assert.deepEqual(r.skipped.train.map((w) => [w.line, w.field]), [[21, 'text_a'], [22, 'text_b']]);
  assert.ok(lines.some((l) => /skipped 2 train rows \(empty text; first: .*train-empty\.jsonl:21\)/.test(l)), lines.join('\n'));
  const cli = runCli(['finetune', '--model', 'random:tiny', '--train', train, '--out', path.join(tmp, 'skip-cli'), '--skip-empty', '--epochs', '1', '--max-len', '32']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /skipped 2 train rows \(empty text;/);
  // random:tiny is a small model (hidden <= 512): the default recipe gives it the small-model lr; --epochs still wins
  const saved = JSON.parse(readFileSync(path.join(r.outputs.dir, 'settings.json'), 'utf8'));
  assert.deepEqual([saved.recipe, saved.lr, saved.epochs], ['default', SMALL_MODEL_SETTINGS.lr, 1]);
  assert.ok(lines.some((l) => l.includes(`recipe default (small model: lr ${SMALL_MODEL_SETTINGS.lr}, 1 epochs)`)), lines.join('\n'));
});

test('resolveSettings: the default recipe trains small models (hidden <= 512) with the sweep-found lr and epochs', () => {
  const pick = (s: TrainSettings) => [s.lr, s.epochs];
  assert.deepEqual(pick(resolveSettings('default', {}, 384)), [1e-4, 5]);    // MiniLM-L6
  assert.deepEqual(pick(resolveSettings('default', {}, 512)), [1e-4, 5]);
  assert.deepEqual(pick(resolveSettings('default', {}, 768)), [2e-5, 3]);    // BERT-base keeps the published recipe
  assert.deepEqual(pick(resolveSettings('default', {})), [2e-5, 3]);         // size unknown: as written
  assert.deepEqual(pick(resolveSettings('tutorial', {}, 384)), [5e-6, 3]);   // the tutorial is always exact
  assert.deepEqual(pick(resolveSettings('default', { lr: 3e-5 }, 384)), [3e-5, 5]);
  assert.equal(DEFAULT_RECIPE.lr, 2e-5, 'the recipe constant itself is unchanged');
});

test('BertTokenizer.fromVocab: from a file or a token list; encode and encodePair', () => {
  const vocabFile = path.join(modelDir, 'vocab.txt');
  const fromFile = BertTokenizer.fromVocab(vocabFile);
  const tokens = readFileSync(vocabFile, 'utf8').split('\n');
  if (tokens.at(-1) === '') tokens.pop();
  const fromList = BertTokenizer.fromVocab(tokens);
  const one = fromFile.encode('The cat sat.');
  assert.deepEqual(fromList.encode('The cat sat.'), one);
  assert.equal(one.inputIds[0], fromFile.vocab.clsId);
  assert.equal(one.inputIds.at(-1), fromFile.vocab.sepId);
  const two = fromFile.encodePair('The cat sat.', 'On the mat.');
  assert.equal(two.tokenTypeIds.at(-1), 1);
  assert.ok(fromFile.encodePair('a b c d e f', 'g h i j k', 6).inputIds.length <= 6);
  const badVocab = path.join(tmp, 'bad-vocab.txt');
  writeFileSync(badVocab, 'hello\n');
  assert.throws(() => BertTokenizer.fromVocab(badVocab), /bad-vocab\.txt: vocabulary lacks the special token/);
});
