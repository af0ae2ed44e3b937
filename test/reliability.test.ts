// Reliability (issue 18): NaN/Inf never pass silently, one writer per output directory, work kept on every failure,
// and failures that say what and where. random:tiny models, tiny data, one thread; signal tests spawn the CLI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { finetune, type FinetuneOptions } from '../src/api/finetune.js';
import { loadClassifier, InputError } from '../src/api/classifier.js';
import { predictFile } from '../src/api/evaluate.js';
import type { EncodedExample } from '../src/data/types.js';
import { OptionError, UsageError } from '../src/errors.js';
import { BertClassifier } from '../src/model/bert.js';
import { namedConfig } from '../src/model/config.js';
import { bundledVocabFile, openModel } from '../src/model/open.js';
import { estimateMemory } from '../src/train/memory.js';
import { NonFiniteError } from '../src/train/nonfinite.js';
import { DEFAULT_RECIPE, type TrainSettings } from '../src/train/recipes.js';
import { Trainer } from '../src/train/trainer.js';
import { readableDir, recoverReplacedDir, writeFileDurable } from '../src/util/atomic.js';
import { FileError } from '../src/util/fs-errors.js';
import { processStartTime } from '../src/util/processes.js';
import { LOCK_FILE, acquireRunLock } from '../src/util/run-lock.js';
import { cliPath, runCli, shuffledCopyTask, spawn, tempDir, writeJsonl } from './train-helpers.js';

const tmp = tempDir('bertfit-reliability-');
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => { const d = path.join(tmp, `${name}-${++n}`); mkdirSync(d, { recursive: true }); return d; };

const silent = { line: () => {}, tick: () => {}, start: () => {}, stop: () => {} };
const trainFile = writeJsonl(path.join(tmp, 'train.jsonl'), shuffledCopyTask(48, 1));
const env = { BERTFIT_THREADS: '1' };

/** finetune() on random:tiny with the tiny training file: 12 steps of 4, no dev. */
const tinyRun = (out: string, more: Partial<FinetuneOptions> = {}): Promise<Awaited<ReturnType<typeof finetune>>> => finetune({
  model: 'random:tiny', train: trainFile, out, epochs: 1, batchSize: 4, maxLen: 32, logEvery: 1, eval: false, threads: 1, ...more,
});

/** A pid that no process has: one that just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

/** Step numbers of log.jsonl's lines of a type. */
const logSteps = (out: string, type = 'train') => readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { type: string; step: number }).filter((r) => r.type === type).map((r) => r.step);

// ---------------------------------------------------------------------------------------------------------------
// 1. numerical guards

test('--adam-eps 1e-50 (0 in float32) stops at step 1 naming the cause; nothing non-finite is saved', () => {
  const out = path.join(fresh('eps'), 'out');
  const r = runCli(['finetune', '--model', 'random:tiny', '--train', trainFile, '--out', out, '--epochs', '1', '--batch-size', '4',
    '--max-len', '32', '--no-eval', '--adam-eps', '1e-50'], env);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /bertfit: step 1: the optimizer update made \d+ NaN .*weights non-finite .*adamEps 1e-50 is 0 in float32/);
  assert.ok(!existsSync(path.join(out, 'checkpoint-last')) && !existsSync(path.join(out, 'checkpoint-best')), 'a NaN checkpoint was saved');
  assert.ok(!existsSync(path.join(out, LOCK_FILE)), 'the lock was not released');
});

/** Regression examples [CLS] w [SEP] with target i/10; `bad` gets an Infinity target (an infinite loss). */
function regressionData(count: number, bad: number): EncodedExample[] {
  return Array.from({ length: count }, (_, i) => ({
    inputIds: Int32Array.from([101, 2000 + i, 102]), tokenTypeIds: new Int32Array(3), label: -1,
    target: Float32Array.from([i === bad ? Infinity : i / 10]), index: i,
  }));
}

async function regressionTrainer(dir: string, skip: number) {
  const opened = await openModel('random:tiny', { seed: 3, labels: ['LABEL_0'], problemType: 'regression' });
  const s: TrainSettings = { ...DEFAULT_RECIPE, epochs: 1, batchSize: 2, maxLen: 8, shuffle: false, logEvery: 1, evalEachEpoch: false, skipNonfinite: skip };
  // 8 examples, batches of 2: step 3 holds example 5, whose loss is infinite
  return new Trainer(opened.model, { train: regressionData(8, 5), dev: null, labels: ['LABEL_0'], padId: 0 }, s,
    { dir, vocabText: opened.vocabText, doLowerCase: true }, silent);
}

test('a non-finite loss stops training naming the step and cause; checkpoint-last keeps the last finite step', async () => {
  const dir = fresh('nan-stop');
  const t = await regressionTrainer(dir, 0);
  await assert.rejects(t.run(), (e: Error) => e instanceof NonFiniteError &&
    /^step 3: the loss is Infinity \(epoch 1, batch 3\/4\); training stopped \(--skip-nonfinite N skips/.test(e.message));
  const state = JSON.parse(readFileSync(path.join(dir, 'checkpoint-last', 'trainer_state.json'), 'utf8'));
  assert.equal(state.step, 2, 'checkpoint-last is the state after the last good step');
  const saved = await openModel(path.join(dir, 'checkpoint-last'), { seed: 0 });
  assert.ok(saved.model.params.every(Number.isFinite));
});

test('--skip-nonfinite skips the bad step without updating the weights, logs it, and finishes', async () => {
  const dir = fresh('nan-skip');
  const t = await regressionTrainer(dir, 1);
  const r = await t.run();
  assert.equal(r.reason, 'finished');
  assert.equal(r.state.step, 4);
  assert.equal(r.state.skippedSteps, 1);
  assert.deepEqual(logSteps(dir, 'skip'), [3]);
  assert.deepEqual(logSteps(dir), [1, 2, 4]);
  const best = await openModel(path.join(dir, 'checkpoint-best'), { seed: 0 });
  assert.ok(best.model.params.every(Number.isFinite));
});

test('predict / eval never emit NaN: a non-finite row is an error naming the input', async () => {
  const clf = await loadClassifier('random:tiny', { threads: 1, allowUntrainedHead: true });
  // damage one weight of the classifier head, as a bad checkpoint would
  const model = (clf as unknown as { model: BertClassifier }).model;
  model.tensor('classifier.weight')[0] = NaN;
  await assert.rejects(clf.predict(['fine', 'also fine']), (e: Error) => e instanceof NonFiniteError && /^input 0: the model's scores are not finite \(logits \[NaN/.test(e.message));
  await assert.rejects(clf.logits('x'), NonFiniteError);
  const data = writeJsonl(path.join(fresh('nan-predict'), 'p.jsonl'), [{ text_a: 'one' }, { text_a: 'two' }]);
  await assert.rejects(predictFile({ model: clf, data }), (e: Error) => e instanceof NonFiniteError && e.message.startsWith(`${data}:1: `));
});

// ---------------------------------------------------------------------------------------------------------------
// 4. one writer per output directory

test('a second run on the same --out is refused naming the holder; a stale lock of a dead process is taken over', async () => {
  const out = fresh('lock');
  const lock = acquireRunLock(out, 'finetune');
  try {
    const r = runCli(['finetune', '--model', 'random:tiny', '--train', trainFile, '--out', out, '--epochs', '1', '--no-eval'], env);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`is in use by another bertfit run \\(finetune, pid ${process.pid} on ${os.hostname()}, started `));
    assert.ok(existsSync(path.join(out, LOCK_FILE)), 'the refused run removed the holder\'s lock');
    await assert.rejects(tinyRun(out), /is in use by this process already/);
  } finally {
    lock.release();
  }
  assert.ok(!existsSync(path.join(out, LOCK_FILE)));

  // kill -9 leaves the lock and half-done saves behind; the next run takes the lock over and clears them
  const dead = await deadPid();
  writeFileSync(path.join(out, LOCK_FILE), JSON.stringify({ pid: dead, host: os.hostname(), started: '2020-01-01T00:00:00.000Z', command: 'finetune' }));
  mkdirSync(path.join(out, `checkpoint-last.tmp-${dead}`));
  writeFileSync(path.join(out, `metrics.json.tmp-${dead}`), '{');
  const lines: string[] = [];
  const res = await tinyRun(out, { onLine: (l) => lines.push(l) });
  assert.equal(res.stop, 'finished');
  assert.ok(lines.some((l) => l.includes(`took over the lock of an earlier run that is no longer running (finetune, pid ${dead}`)), lines.join('\n'));
  assert.ok(lines.some((l) => /removed 2 leftovers of interrupted runs/.test(l)), lines.join('\n'));
  assert.deepEqual(readdirSync(out).filter((f) => /\.(tmp|old)-\d+$|lock/.test(f)), []);
});

/** A checkpoint directory whose trainer_state.json records `step`. */
function fakeCheckpoint(dir: string, step: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), '{}');
  writeFileSync(path.join(dir, 'trainer_state.json'), JSON.stringify({ step }));
}

test('crash recovery: toward the highest recorded step (not pid order), only while no live writer holds the lock', async () => {
  const dir = fresh('recover');
  const ck = path.join(dir, 'checkpoint-last');
  // pid A crashed between its renames saving step 8 (old: step 6); pid B, sorting after A, left step 3 long before
  const [A, B] = [4_000_001, 4_000_009];
  fakeCheckpoint(`${ck}.old-${A}`, 6);
  fakeCheckpoint(`${ck}.tmp-${A}`, 8);
  fakeCheckpoint(`${ck}.old-${B}`, 3);

  // a reader renames nothing: it reads the best version where it lies
  const seen = readdirSync(dir).sort();
  const r = readableDir(ck);
  assert.equal(r.path, `${ck}.tmp-${A}`);
  assert.match(r.notice!, /reading the complete version checkpoint-last\.tmp-4000001/);
  assert.deepEqual(readdirSync(dir).sort(), seen);

  // while a live process (a child of ours) holds the directory's lock, recovery keeps its hands off
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  try {
    await once(child, 'spawn');
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({
      pid: child.pid, host: os.hostname(), started: new Date().toISOString(), command: 'finetune', procStart: processStartTime(child.pid!),
    }));
    assert.equal(recoverReplacedDir(ck), undefined);
    assert.deepEqual(readdirSync(dir).filter((f) => f !== LOCK_FILE).sort(), seen);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  // the holder is gone: its lock is stale, and the newest complete checkpoint is put back
  rmSync(path.join(dir, LOCK_FILE));
  assert.match(recoverReplacedDir(ck)!, /recovered the new version from checkpoint-last\.tmp-4000001 .*step 8/);
  assert.equal(JSON.parse(readFileSync(path.join(ck, 'trainer_state.json'), 'utf8')).step, 8);
  assert.deepEqual(readdirSync(dir), ['checkpoint-last']);
});

test('a reader (loadClassifier) loads a checkpoint whose save was interrupted without renaming anything', async () => {
  const dir = fresh('reader');
  const opened = await openModel('random:tiny', { seed: 1 });
  const ck = path.join(dir, 'checkpoint-best');
  opened.model.save(`${ck}.tmp-4000003`, opened.vocabText, true);
  mkdirSync(`${ck}.old-4000003`);
  const clf = await loadClassifier(ck, { threads: 1 });
  assert.match(clf.notices[0]!, /checkpoint-best is missing \(a save was interrupted\); reading the complete version/);
  assert.deepEqual(readdirSync(dir).sort(), ['checkpoint-best.old-4000003', 'checkpoint-best.tmp-4000003']);
  assert.equal((await clf.predict('hello')).length, 2);
});

test('log.jsonl keeps one line per step across a resume (lines written after the checkpoint are dropped)', async () => {
  const out = fresh('log');
  const stop = new AbortController();
  const first = await tinyRun(out, { signal: stop.signal, onEvent: (e) => { if (e.step === 3) stop.abort('test'); } });
  assert.equal(first.stop, 'interrupted');
  assert.equal(first.steps, 3);
  // a run killed later had logged steps 4-5 (and half a line) that no checkpoint holds
  appendFileSync(path.join(out, 'log.jsonl'), '{"type":"train","step":4}\n{"type":"train","step":5}\n{"type":"tra');
  const second = await tinyRun(out, { resume: path.join(out, 'checkpoint-last') });
  assert.equal(second.stop, 'finished');
  assert.deepEqual(logSteps(out), Array.from({ length: 12 }, (_, i) => i + 1));
});

// ---------------------------------------------------------------------------------------------------------------
// 5. work kept, failures that say what and where

test('settings are checked against the model before training: max length, vocab size, pairs vs type_vocab_size', async () => {
  const out = path.join(fresh('fit'), 'out');
  await assert.rejects(tinyRun(out, { maxLen: 1000 }), (e: Error) => e instanceof OptionError &&
    e.message === "maxLen must be at most the model's max_position_embeddings 512, got 1000");
  assert.ok(!existsSync(path.join(out, 'checkpoint-last')));

  // a vocab.txt longer than the word embeddings
  const vocabText = readFileSync(bundledVocabFile(), 'utf8');
  const big = path.join(fresh('vocab'), 'ck');
  BertClassifier.random(namedConfig('tiny'), 1).save(big, vocabText, true);
  appendFileSync(path.join(big, 'vocab.txt'), Array.from({ length: 10 }, (_, i) => `extra${i}`).join('\n') + '\n');
  await assert.rejects(tinyRun(out, { model: big }), (e: Error) => e instanceof UsageError && /vocab/.test(e.message) && /30532|30522/.test(e.message));

  // sentence pairs for a model with one token type: refused naming the row (training) or the input (inference)
  const single = path.join(fresh('types'), 'ck');
  const cfg = namedConfig('tiny');
  cfg.type_vocab_size = 1;
  BertClassifier.random(cfg, 1).save(single, vocabText, true);
  await assert.rejects(tinyRun(out, { model: single }), (e: Error) => e instanceof UsageError &&
    e.message.startsWith(`${trainFile}:1: a sentence pair, but `) && /type_vocab_size 1/.test(e.message));
  const clf = await loadClassifier(single, { threads: 1 });
  await assert.rejects(clf.predict(['a', 'b']), (e: Error) => e instanceof InputError && /input 0 is a sentence pair/.test(e.message));
  assert.equal((await clf.predict('a single text')).length, 2);
});

test('an exception mid-training saves checkpoint-last (the last finished step) before it propagates', async () => {
  const dir = fresh('crash');
  const opened = await openModel('random:tiny', { seed: 3, labels: ['0', '1'] });
  const data: EncodedExample[] = Array.from({ length: 8 }, (_, i) => ({
    // example 5 has a token id past the embeddings: the native core throws inside step 3
    inputIds: Int32Array.from([101, i === 5 ? 999_999 : 2000 + i, 102]), tokenTypeIds: new Int32Array(3), label: i % 2, index: i,
  }));
  const s: TrainSettings = { ...DEFAULT_RECIPE, epochs: 1, batchSize: 2, maxLen: 8, shuffle: false, logEvery: 1, evalEachEpoch: false };
  const lines: string[] = [];
  const t = new Trainer(opened.model, { train: data, dev: null, labels: ['0', '1'], padId: 0 }, s,
    { dir, vocabText: opened.vocabText, doLowerCase: true }, { ...silent, line: (l: string) => lines.push(l) });
  await assert.rejects(t.run(), /999999|out of range|range/i);
  assert.ok(lines.some((l) => /saved .*checkpoint-last at step 2 before stopping; continue with --resume/.test(l)), lines.join('\n'));
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'checkpoint-last', 'trainer_state.json'), 'utf8')).step, 2);
});

test('Ctrl-C stops inside a long step and saves; a second Ctrl-C exits at once with 130', async () => {
  // random:mini at 32 x 64 takes about a second per step on one thread: the stop lands inside step 2
  const dir = fresh('sigint');
  const data = writeJsonl(path.join(dir, 'train.jsonl'), shuffledCopyTask(256, 2).map((r) => ({ ...r, text_a: `${r.text_a} `.repeat(6) })));
  const args = (out: string) => ['finetune', '--model', 'random:mini', '--train', data, '--out', out, '--epochs', '1',
    '--batch-size', '32', '--max-len', '64', '--padding', 'fixed', '--log-every', '1', '--no-eval'];
  const start = (out: string) => {
    const child = spawn(process.execPath, [cliPath, ...args(out)], { env: { ...process.env, ...env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const firstStep = new Promise<void>((resolve) => child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/step 1\/8/.test(stderr)) resolve();
    }));
    return { child, firstStep, stderr: () => stderr };
  };

  const a = start(path.join(dir, 'a'));
  await a.firstStep;
  await new Promise((r) => setTimeout(r, 100));   // well inside step 2
  const sent = performance.now();
  a.child.kill('SIGINT');
  const [code] = await once(a.child, 'exit');
  const waited = performance.now() - sent;
  assert.equal(code, 130, a.stderr());
  assert.match(a.stderr(), /SIGINT: saved .*checkpoint-last at step 1 \(the step in progress was abandoned\); continue with --resume/);
  // a sanity bound: the message above is what shows the step was cut short (saving takes most of the time)
  assert.ok(waited < 20_000, `took ${waited} ms to stop`);
  assert.ok(!existsSync(path.join(dir, 'a', LOCK_FILE)));

  const b = start(path.join(dir, 'b'));
  await b.firstStep;
  b.child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 30));
  b.child.kill('SIGINT');
  const [codeB] = await once(b.child, 'exit');
  assert.equal(codeB, 130, b.stderr());
  assert.ok(!existsSync(path.join(dir, 'b', LOCK_FILE)), 'the lock outlived the process');
  // whatever the second Ctrl-C cut short, what is on disk under the checkpoint's name is complete
  const last = path.join(dir, 'b', 'checkpoint-last');
  if (existsSync(last)) assert.ok((await openModel(last, { seed: 0 })).model.params.every(Number.isFinite));
});

test('a second Ctrl-C exits at once even while the first is still being acted on', async () => {
  // withStopSignals around work that ignores its signal: only the second SIGINT ends it
  const script = path.join(fresh('sig2'), 'hang.mjs');
  writeFileSync(script, `import { withStopSignals } from ${JSON.stringify(path.join(path.dirname(cliPath), 'run-flags.js'))};\n` +
    'await withStopSignals(() => { process.stdout.write("ready\\n"); return new Promise((r) => setTimeout(r, 30000)); });\n');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  await once(child.stdout!, 'data');
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(child.exitCode, null, 'the first Ctrl-C must not exit');
  const t0 = performance.now();
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 130);
  assert.ok(performance.now() - t0 < 2000);
  assert.match(stderr, /SIGINT: stopping at the next step boundary .*Ctrl-C again to exit at once/);
  assert.match(stderr, /SIGINT again: exiting now/);
});

test('filesystem errors name the path: --out is a file, a full device, a read-only directory', async () => {
  const dir = fresh('fs');
  const file = path.join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  const r = runCli(['finetune', '--model', 'random:tiny', '--train', trainFile, '--out', file, '--no-eval'], env);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim(), `bertfit: --out ${file} is a file, not a directory; give a directory for the run's outputs`);
  await assert.rejects(tinyRun(path.join(file, 'sub')), (e: Error) => e instanceof FileError && e.message.includes(path.join(file, 'sub')));

  if (existsSync('/dev/full')) {
    assert.throws(() => writeFileDurable('/dev/full', 'data'), (e: Error) => e instanceof FileError &&
      e.message === 'cannot write /dev/full: no space left on the device (ENOSPC)');
  }
  if (process.getuid?.() !== 0) {   // root writes anywhere
    const ro = fresh('ro');
    const { chmodSync } = await import('node:fs');
    chmodSync(ro, 0o555);
    try {
      await assert.rejects(tinyRun(ro), (e: Error) => e instanceof FileError && e.message.includes(ro) && /EACCES|EPERM|EROFS/.test(e.message));
    } finally {
      chmodSync(ro, 0o755);
    }
  }
});

test('predict: refuses --out equal to --data; `predict | head -1` ends quietly with exit 0', async () => {
  const dir = fresh('predict');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), Array.from({ length: 3000 }, (_, i) => ({ text_a: `row ${i}` })));
  const before = readFileSync(data, 'utf8');
  const r = runCli(['predict', '--model', 'random:tiny', '--data', data, '--out', `${dir}/./p.jsonl`], env);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--out .*p\.jsonl is the input file/);
  assert.equal(readFileSync(data, 'utf8'), before);

  const child = spawn(process.execPath, [cliPath, 'predict', '--model', 'random:tiny', '--data', data],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  await once(child.stdout!, 'data');
  child.stdout!.destroy();   // what `head -1` does after its line
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
});

test('BERTFIT_THREADS=abc and a bad BERTFIT_MEMORY_LIMIT are usage errors (exit 2), not stack traces', () => {
  for (const [k, v, msg] of [['BERTFIT_THREADS', 'abc', /BERTFIT_THREADS must be an integer in \[1, 1024\], got "abc"/],
    ['BERTFIT_MEMORY_LIMIT', 'lots', /BERTFIT_MEMORY_LIMIT must be a size such as 8G/]] as const) {
    const r = runCli(['info'], { [k]: v });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('a corrupt trainer_state.json on resume names the file and the field', async () => {
  const out = fresh('state');
  const stop = new AbortController();
  await tinyRun(out, { signal: stop.signal, onEvent: (e) => { if (e.step === 1) stop.abort('test'); } });
  const last = path.join(out, 'checkpoint-last');
  const file = path.join(last, 'trainer_state.json');
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, good.replace(/"step": 1,/, '"step": null,'));
  await assert.rejects(tinyRun(out, { resume: last }), (e: Error) => e.message === `${file}: field step must be an integer >= 0, got null; ` +
    'the checkpoint is damaged, resume from another one or start over');
  writeFileSync(file, good.slice(0, 40));
  await assert.rejects(tinyRun(out, { resume: last }), (e: Error) => e.message.startsWith(`${file}: not valid JSON (`));
});

test('peak memory is estimated before the first step; a shape that does not fit is refused with advice', async () => {
  // the example: random:large at 64 x 512 needs tens of GiB for its activations alone
  const large = estimateMemory(namedConfig('large'), { batchSize: 64, seqLen: 512, training: true });
  assert.ok(large.activations > 40 * 2 ** 30, `${large.activations}`);
  const out = path.join(fresh('memory'), 'out');
  const r = runCli(['finetune', '--model', 'random:tiny', '--train', trainFile, '--out', out, '--batch-size', '64', '--max-len', '512',
    '--padding', 'fixed', '--no-eval'], { ...env, BERTFIT_MEMORY_LIMIT: '512M' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /training random:tiny with batch size 64 x 512 tokens needs about [\d.]+ \w+ more memory .* but only [\d.]+ \w+ is free \(BERTFIT_MEMORY_LIMIT=512M\): a batch size of at most \d+ fits/);
  assert.ok(!existsSync(path.join(out, 'checkpoint-last')));
});
