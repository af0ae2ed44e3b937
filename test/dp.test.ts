// Data-parallel fine-tuning under a real `mpirun -np 2 --oversubscribe` on this machine (loopback / shared memory)
// with random:tiny: two processes give the losses, evaluations and weights of one process with the same global
// batch (within 1e-6 relative: only the order of floating-point sums differs), with dropout on and off, uneven and
// empty shards and gradient accumulation; a run stopped with 2 processes resumes with 1 and the other way round and
// ends where an uninterrupted run ends; `bertfit launch` stops gracefully on Ctrl-C; a non-finite loss on one rank's
// rows is skipped (or stops training) on every rank alike; ranks that disagree, or one that fails, stop the whole job
// with a message.
// Skips (saying why) without mpirun or without an MPI build of the addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint/index.js';
import { BertClassifier } from '../src/model/bert.js';
import { openModel } from '../src/model/open.js';
import { native } from '../src/native/index.js';
import { cliPath, repoRoot, runCli, shuffledCopyTask, tempDir, writeJsonl } from './train-helpers.js';

const mpirunFound = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = !native.info().mpiCompiled ? 'the native addon was built without MPI (install libopenmpi-dev and rebuild)'
  : !mpirunFound ? 'mpirun not found (install openmpi-bin)' : false;

// Open MPI refuses root unless told (CI containers run as root); the single-copy shared-memory path (CMA) needs
// ptrace rights containers often lack, and a copy through the shared segment is as good for these sizes.
const mpiEnv: NodeJS.ProcessEnv = {
  ...process.env, CI: 'true', BERTFIT_THREADS: '1', OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  OMPI_MCA_btl_vader_single_copy_mechanism: 'none', OMPI_MCA_rmaps_base_oversubscribe: '1',
};

interface Run { code: number | null; stdout: string; stderr: string }

/** `mpirun -np N node main.js ARGS` (or several app contexts separated by ':' in `contexts`), to completion. */
function mpirun(np: number, args: string[], timeoutMs = 240_000): Run {
  const r = spawnSync('mpirun', ['-np', String(np), '--oversubscribe', process.execPath, cliPath, ...args],
    { encoding: 'utf8', env: mpiEnv, timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One process, `node main.js ARGS`, to completion. */
function single(args: string[]): Run {
  const r = runCli(args, { BERTFIT_THREADS: '1' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function explain(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-6000)}`;
}

type Rec = { type: string; step: number; loss: number; grad_norm?: number; accuracy?: number };
function logOf(out: string): Rec[] {
  return readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
}

function near(a: number, b: number, rel = 1e-6): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-12;
}

/** Every training and evaluation record of two runs: same steps, losses and grad norms within 1e-6 relative. */
function assertSameLogs(one: string, two: string): void {
  const a = logOf(one), b = logOf(two);
  assert.deepEqual(b.map((r) => `${r.type}@${r.step}`), a.map((r) => `${r.type}@${r.step}`));
  a.forEach((r, i) => {
    const q = b[i]!;
    assert.ok(near(r.loss, q.loss), `${r.type} loss at step ${r.step}: 1 process ${r.loss}, 2 processes ${q.loss}`);
    if (r.grad_norm !== undefined) assert.ok(near(r.grad_norm, q.grad_norm!), `grad_norm at step ${r.step}: ${r.grad_norm} vs ${q.grad_norm}`);
    if (r.accuracy !== undefined) assert.equal(q.accuracy, r.accuracy, `dev accuracy at step ${r.step}`);
  });
}

/** The weights of two checkpoints: max |a - b| <= 1e-6 max |a| and ||a - b|| <= 1e-6 ||a|| over all parameters. */
function assertSameWeights(dirA: string, dirB: string): { maxAbs: number; bitIdentical: number } {
  const a = loadCheckpoint(dirA), b = loadCheckpoint(dirB);
  let maxDiff = 0, maxW = 0, d2 = 0, w2 = 0, same = 0, n = 0;
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name);
    assert.ok(u, `${dirB} lacks ${name}`);
    for (let i = 0; i < t.data.length; i++) {
      const x = t.data[i]!, d = x - u.data[i]!;
      maxDiff = Math.max(maxDiff, Math.abs(d)); maxW = Math.max(maxW, Math.abs(x));
      d2 += d * d; w2 += x * x; n++;
      if (d === 0) same++;
    }
  }
  assert.ok(maxDiff <= 1e-6 * maxW, `max weight difference ${maxDiff} > 1e-6 x max weight ${maxW}`);
  assert.ok(Math.sqrt(d2 / w2) <= 1e-6, `relative L2 weight difference ${Math.sqrt(d2 / w2)}`);
  return { maxAbs: maxDiff, bitIdentical: same / n };
}

const dir = tempDir('bertfit-dp-');
// 37 examples in batches of 8: the last batch has 5 rows (shards of 3 and 2); 33: a last batch of 1 (rank 1 gets none)
const train37 = writeJsonl(path.join(dir, 'train37.jsonl'), shuffledCopyTask(37, 1));
const train33 = writeJsonl(path.join(dir, 'train33.jsonl'), shuffledCopyTask(33, 4));
const devFile = writeJsonl(path.join(dir, 'dev.jsonl'), shuffledCopyTask(21, 2));
const common = ['--batch-size', '8', '--max-len', '32', '--log-every', '1', '--seed', '3', '--replica-check-every', '1'];

test('2 processes = 1 process with the same global batch: losses, dev metrics and weights, dropout on', { skip, timeout: 300_000 }, () => {
  const args = ['finetune', '--model', 'random:tiny', '--train', train37, '--dev', devFile, '--epochs', '2', ...common];
  const one = path.join(dir, 'on-1'), two = path.join(dir, 'on-2');
  const r1 = runCli([...args, '--out', one], { BERTFIT_THREADS: '1' });
  assert.equal(r1.status, 0, r1.stderr);
  const r2 = mpirun(2, [...args, '--out', two]);
  assert.equal(r2.code, 0, explain(r2));
  // rank 0 alone prints: one result line, one log
  assert.equal(r2.stdout.trim().split('\n').length, 1, r2.stdout);
  assert.match(r2.stderr, /data parallel: 2 processes on 1 machine \(Open MPI [^)]*\), 1 threads each; global batch 8 \(4 rows per process\)/);
  assert.equal((r2.stderr.match(/^epoch 1 batch 1\/5 /gm) ?? []).length, 1, 'only rank 0 logs');
  assertSameLogs(one, two);
  const w = assertSameWeights(path.join(one, 'checkpoint-last'), path.join(two, 'checkpoint-last'));
  console.log(`# dropout on: max |weight difference| ${w.maxAbs.toExponential(2)}, ${(100 * w.bitIdentical).toFixed(2)}% of weights bit-identical`);
  assert.deepEqual(JSON.parse(r2.stdout).accuracy, JSON.parse(r1.stdout).accuracy);
});

test('2 processes = 1 process, dropout off, gradient accumulation 2, a last batch of 1 row (an empty shard)', { skip, timeout: 300_000 }, async () => {
  // a random:tiny checkpoint with every dropout probability 0
  const opened = await openModel('random:tiny', { seed: 11, labels: ['0', '1'] });
  const model = new BertClassifier({ ...opened.model.config, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 });
  model.params.set(opened.model.params);
  const ckpt = path.join(dir, 'tiny-no-dropout');
  model.save(ckpt, opened.vocabText, true);
  const args = ['finetune', '--model', ckpt, '--train', train33, '--dev', devFile, '--epochs', '2', '--grad-accum', '2', ...common];
  const one = path.join(dir, 'off-1'), two = path.join(dir, 'off-2');
  const r1 = runCli([...args, '--out', one], { BERTFIT_THREADS: '1' });
  assert.equal(r1.status, 0, r1.stderr);
  const r2 = mpirun(2, [...args, '--out', two]);
  assert.equal(r2.code, 0, explain(r2));
  assertSameLogs(one, two);
  const w = assertSameWeights(path.join(one, 'checkpoint-last'), path.join(two, 'checkpoint-last'));
  console.log(`# dropout off: max |weight difference| ${w.maxAbs.toExponential(2)}, ${(100 * w.bitIdentical).toFixed(2)}% of weights bit-identical`);
});

/**
 * Starts `mpirun -np np` (or one process when np is 1) and stops it gracefully once log.jsonl in `out` has step
 * `after` (read from the file rank 0 writes, not from stderr, which mpirun forwards with a delay).
 */
async function runAndStop(np: number, args: string[], out: string, after: number, via: 'mpirun' | 'launch' = 'mpirun'): Promise<Run> {
  const child = np === 1
    ? spawn(process.execPath, [cliPath, ...args], { env: mpiEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : via === 'launch'
      ? spawn(process.execPath, [cliPath, 'launch', '-n', String(np), '--oversubscribe', ...args], { env: mpiEnv, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('mpirun', ['-np', String(np), '--oversubscribe', process.execPath, cliPath, ...args], { env: mpiEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const poll = setInterval(() => {
    let logged = 0;
    try { logged = logOf(out).filter((r) => r.type === 'train').length; } catch { /* not written yet */ }
    if (logged < after) return;
    clearInterval(poll);
    // SIGUSR2 to mpirun is forwarded to every rank (mpirun's own SIGINT handling kills the ranks after 1 s);
    // `bertfit launch` turns Ctrl-C (SIGINT) into that
    child.kill(np === 1 || via === 'launch' ? 'SIGINT' : 'SIGUSR2');
  }, 20);
  const [code] = await once(child, 'exit') as [number | null];
  clearInterval(poll);
  return { code, stdout, stderr };
}

test('--resume with another number of processes: stopped with 2 and resumed with 1 (and 1 -> 2) ends as an uninterrupted run', { skip, timeout: 300_000 }, async () => {
  const args = ['finetune', '--model', 'random:tiny', '--train', train37, '--dev', devFile, '--epochs', '8', ...common];
  const straight = path.join(dir, 'straight');
  const r0 = runCli([...args, '--out', straight], { BERTFIT_THREADS: '1' });
  assert.equal(r0.status, 0, r0.stderr);
  for (const [first, second] of [[2, 1], [1, 2]] as const) {
    const out = path.join(dir, `resume-${first}-${second}`);
    const stopped = await runAndStop(first, [...args, '--out', out], out, 3);
    assert.notEqual(stopped.code, 0, `the ${first}-process run was not stopped: ${explain(stopped)}`);
    assert.match(stopped.stderr, /(SIGUSR2|SIGINT): saved .*checkpoint-last at step \d+; continue with --resume/);
    const state = JSON.parse(readFileSync(path.join(out, 'checkpoint-last', 'trainer_state.json'), 'utf8')) as { step: number };
    assert.ok(state.step >= 3 && state.step < 40, `stopped at step ${state.step}`);
    const resumeArgs = [...args, '--out', out, '--resume', path.join(out, 'checkpoint-last')];
    const rr = second === 1 ? single(resumeArgs) : mpirun(2, resumeArgs);
    assert.equal(rr.code, 0, explain(rr));
    assert.match(rr.stderr, new RegExp(`resumed from .* at step ${state.step}/40`));
    assertSameWeights(path.join(straight, 'checkpoint-last'), path.join(out, 'checkpoint-last'));
    assert.ok(near(JSON.parse(rr.stdout).loss, JSON.parse(r0.stdout).loss), `final dev loss ${rr.stdout} vs ${r0.stdout}`);
  }
});

test('bertfit launch runs mpirun; Ctrl-C stops every process after a step with checkpoint-last saved, exit 130', { skip, timeout: 120_000 }, async () => {
  const out = path.join(dir, 'launch');
  const args = ['finetune', '--model', 'random:tiny', '--train', train37, '--epochs', '8', '--no-eval', ...common, '--out', out];
  const r = await runAndStop(2, args, out, 2, 'launch');
  assert.equal(r.code, 130, explain(r));
  assert.match(r.stderr, /bertfit launch: stopping every process after its current step/);
  assert.match(r.stderr, /data parallel: 2 processes on 1 machine/);
  assert.match(r.stderr, /SIGUSR2: saved .*checkpoint-last at step \d+; continue with --resume/);
  const state = JSON.parse(readFileSync(path.join(out, 'checkpoint-last', 'trainer_state.json'), 'utf8')) as { step: number; done: boolean };
  assert.ok(state.step >= 2 && !state.done, `checkpoint-last at step ${state.step}`);
});

test('NaN/Inf verdicts are collective: an infinite loss in rank 1\'s rows skips the step on both ranks, or stops both with checkpoint-last', { skip, timeout: 300_000 }, () => {
  // regression in file order: batch 2 (rows 8-15) holds row 13, in rank 1's half of it (rows 12-15), whose target
  // 1e39 is Infinity in float32: rank 0's own loss is finite, the global batch's is not
  const rows = shuffledCopyTask(24, 5).map((r, i) => ({ ...r, label: i === 13 ? '1e39' : String((i % 10) / 10) }));
  const train = writeJsonl(path.join(dir, 'inf13.jsonl'), rows);
  const args = ['finetune', '--model', 'random:tiny', '--train', train, '--problem', 'regression', '--no-shuffle', '--no-eval', '--epochs', '1', ...common];
  const steps = (out: string, type: string) => logOf(out).filter((r) => r.type === type).map((r) => r.step);
  // --skip-nonfinite 1: both ranks skip step 2 and end with one process's weights
  const one = path.join(dir, 'inf-1'), two = path.join(dir, 'inf-2');
  const r1 = runCli([...args, '--skip-nonfinite', '1', '--out', one], { BERTFIT_THREADS: '1' });
  assert.equal(r1.status, 0, r1.stderr);
  const r2 = mpirun(2, [...args, '--skip-nonfinite', '1', '--out', two]);
  assert.equal(r2.code, 0, explain(r2));
  assert.deepEqual(steps(one, 'skip'), [2]);
  assert.deepEqual(steps(two, 'skip'), [2]);
  assert.deepEqual(steps(two, 'train'), steps(one, 'train'));
  assertSameWeights(path.join(one, 'checkpoint-last'), path.join(two, 'checkpoint-last'));
  // without it: both ranks stop at step 2 naming it, after rank 0 saved checkpoint-last at step 1
  const stopped = path.join(dir, 'inf-stop');
  const r3 = mpirun(2, [...args, '--out', stopped]);
  assert.notEqual(r3.code, 0, explain(r3));
  assert.match(r3.stderr, /step 2: the loss is Infinity \(epoch 1, batch 2\/3\); training stopped/);
  assert.match(r3.stderr, /stopping all 2 processes/);
  const state = JSON.parse(readFileSync(path.join(stopped, 'checkpoint-last', 'trainer_state.json'), 'utf8')) as { step: number };
  assert.equal(state.step, 1);
});

test('ranks that read different data stop the job with a message naming it; a rank that fails stops them all', { skip, timeout: 120_000 }, () => {
  // two app contexts: rank 1 trains on other examples (same count, so only the content check can tell)
  const other = writeJsonl(path.join(dir, 'other37.jsonl'), shuffledCopyTask(37, 99));
  const base = ['finetune', '--model', 'random:tiny', '--dev', devFile, '--epochs', '1', ...common];
  const ctx = (train: string, out: string) => [process.execPath, cliPath, ...base, '--train', train, '--out', out];
  const r = spawnSync('mpirun', ['--oversubscribe', '-np', '1', ...ctx(train37, path.join(dir, 'differ')), ':', '-np', '1', ...ctx(other, path.join(dir, 'differ'))],
    { encoding: 'utf8', env: mpiEnv, timeout: 100_000 });
  assert.notEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /rank [01] of 2 \(.*\) failed: the 2 processes disagree on the training data: every process must run the same command/);
  assert.match(r.stderr, /stopping all 2 processes/);
  // a rank that cannot read its data exits before MPI starts; mpirun then ends the job (no hang)
  const f = spawnSync('mpirun', ['--oversubscribe', '-np', '1', ...ctx(train37, path.join(dir, 'fail')), ':', '-np', '1',
    ...ctx(path.join(dir, 'missing.jsonl'), path.join(dir, 'fail'))], { encoding: 'utf8', env: mpiEnv, timeout: 100_000 });
  assert.notEqual(f.status, 0);
  assert.equal(f.signal, null, 'mpirun hung and was killed by the timeout');
  assert.match(f.stderr, /missing\.jsonl: no such file/);
  // rank 0 creates --out and takes its lock before MPI starts: when it cannot, it exits first and mpirun ends the job
  const blocked = path.join(dir, 'not-a-dir');
  writeJsonl(blocked, []);
  const g = spawnSync('mpirun', ['-np', '2', '--oversubscribe', process.execPath, cliPath, ...base, '--train', train37, '--out', path.join(blocked, 'out')],
    { encoding: 'utf8', env: mpiEnv, timeout: 100_000 });
  assert.notEqual(g.status, 0, g.stderr);
  assert.equal(g.signal, null, 'mpirun hung and was killed by the timeout');
  assert.match(g.stderr, /cannot create output directory .*not-a-dir\/out: a part of the path is a file, not a directory \(ENOTDIR\)/);
  // a rank that fails once MPI runs (rank 0 cannot write settings.json, a directory there; rank 1 already waits for
  // its weights) aborts the job
  const taken = path.join(dir, 'settings-taken');
  mkdirSync(path.join(taken, 'settings.json', 'x'), { recursive: true });
  const h = mpirun(2, [...base, '--train', train37, '--out', taken], 100_000);
  assert.notEqual(h.code, 0, explain(h));
  assert.match(h.stderr, /rank 0 of 2 \(.*\) failed: cannot replace .*settings\.json: is a directory \(EISDIR\)\nbertfit: stopping all 2 processes\n/);
});

test('README launch example: the hostfile, `bertfit launch` and the mpirun it stands for, run on this machine', { skip, timeout: 300_000 }, () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- example: launch -->\n```sh\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(block, 'README has no launch example');
  const lines = block[1]!.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\s+#.*$/, ''));
  assert.equal(lines.length, 3, block[1]);
  // substitutions: this machine for node1 and node2, the synthetic task and random:tiny for MRPC and MiniLM-L6,
  // this checkout's CLI for `bertfit` and $PWD/dist/src/cli/main.js
  const sub = (line: string, from: string | RegExp, to: string): string => {
    assert.ok(typeof from === 'string' ? line.includes(from) : from.test(line), `the example no longer has ${String(from)}: ${line}`);
    return line.replace(from, to);
  };
  const data = `--model random:tiny --train ${train37} --dev ${devFile} --epochs 2 ${common.join(' ')}`;
  const hostfile = sub(lines[0]!, "'node1 slots=1\\nnode2 slots=1\\n'", "'localhost slots=2\\n'");
  const launch = sub(sub(sub(lines[1]!, /^bertfit /, `${process.execPath} ${cliPath} `), '--model minilm-l6 --task mrpc', data),
    'runs/mrpc-dp', 'launched');
  const direct = sub(sub(sub(lines[2]!, '$PWD/dist/src/cli/main.js', cliPath), '--model minilm-l6 --task mrpc', data), 'runs/mrpc-dp', 'direct');
  const cwd = path.join(dir, 'readme-launch');
  mkdirSync(cwd, { recursive: true });
  for (const [cmd, out] of [[hostfile, ''], [launch, 'launched'], [direct, 'direct']] as const) {
    const r = spawnSync('bash', ['-c', cmd], { cwd, encoding: 'utf8', env: mpiEnv, timeout: 240_000 });
    const run = { code: r.status, stdout: r.stdout, stderr: r.stderr };
    assert.equal(r.status, 0, `${cmd}\n${explain(run)}`);
    if (out) assert.match(r.stderr, /data parallel: 2 processes on 1 machine/, explain(run));
  }
  // both ways are the same job: the same losses and weights
  assertSameLogs(path.join(cwd, 'launched'), path.join(cwd, 'direct'));
  assertSameWeights(path.join(cwd, 'launched', 'checkpoint-last'), path.join(cwd, 'direct', 'checkpoint-last'));
});
