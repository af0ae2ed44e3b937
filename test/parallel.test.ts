// Data-parallel building blocks that need no MPI: the row split, dropout masks keyed by global row (a shard computes
// exactly what its rows compute inside the whole batch), the mpirun-without-MPI refusal, the replica and same-run
// checks (with a simulated second rank), the launch wrapper's mpirun command line. test/dp.test.ts runs the real
// thing under mpirun.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { collate, sliceBatch } from '../src/data/collate.js';
import { encodeDataset } from '../src/data/encode.js';
import { readDataset } from '../src/data/dataset.js';
import { openModel } from '../src/model/open.js';
import { native } from '../src/native/index.js';
import type { Comm, ReduceOp } from '../src/parallel/comm.js';
import { checkLaunch } from '../src/parallel/comm.js';
import { DataParallel } from '../src/parallel/data-parallel.js';
import { DistributedError } from '../src/parallel/errors.js';
import { launchedWorld } from '../src/parallel/launch.js';
import { launchJob, mpirunArgs } from '../src/parallel/mpirun.js';
import { UsageError } from '../src/errors.js';
import { ownsBatch, shardRows } from '../src/parallel/shard.js';
import { fingerprint, sameOnEveryRank } from '../src/parallel/agree.js';
import { shuffledCopyTask, tempDir, writeJsonl } from './train-helpers.js';

test('shardRows: the ranks tile every batch in order, the first total % size ranks one row more, none when short', () => {
  for (const size of [1, 2, 3, 4, 7]) {
    for (const total of [0, 1, 2, 5, 8, 33]) {
      let next = 0;
      for (let r = 0; r < size; r++) {
        const { start, end } = shardRows(total, r, size);
        assert.equal(start, next);
        assert.equal(end - start, Math.floor(total / size) + (r < total % size ? 1 : 0));
        next = end;
      }
      assert.equal(next, total);
    }
  }
  assert.deepEqual(shardRows(1, 1, 2), { start: 1, end: 1 });
  assert.throws(() => shardRows(8, 2, 2), RangeError);
  assert.deepEqual([0, 1, 2, 3, 4].filter((b) => ownsBatch(b, 1, 2)), [1, 3]);
});

test('a shard run with rows: {start, total} gives its rows the logits, dropout masks and gradient share of the whole batch', async () => {
  const labels = ['0', '1'];
  const { model, tokenizer } = await openModel('random:tiny', { seed: 5, labels });
  const file = writeJsonl(path.join(tempDir(), 'train.jsonl'), shuffledCopyTask(5, 3));
  const enc = encodeDataset(readDataset(file), tokenizer, labels, 32);
  const batch = collate(enc, [0, 1, 2, 3, 4], { padding: 'dynamic', maxLen: 32, padId: 0 });
  const C = 2;
  const opts = { train: true, seed: 9, step: 4 };
  // the whole batch: logits and the gradient of its mean loss
  model.zeroGrad();
  const whole = Float32Array.from(model.forward(batch, opts));
  const wholeLoss = model.loss(batch.labels);
  model.backward(1);
  const wholeGrad = Float32Array.from(model.grads);
  // two shards, each with its rows' masks, each scaled by its share of the batch, gradients summed
  model.zeroGrad();
  let lossSum = 0;
  for (const [start, end] of [[0, 3], [3, 5]] as const) {
    const shard = sliceBatch(batch, start, end);
    assert.equal(shard.seqLen, batch.seqLen);
    const logits = model.forward(shard, { ...opts, rows: { start, total: batch.size } });
    for (let i = 0; i < (end - start) * C; i++) {
      assert.ok(Math.abs(logits[i]! - whole[start * C + i]!) <= 1e-6 * Math.abs(whole[start * C + i]!) + 1e-7,
        `row ${start + Math.floor(i / C)}: shard logit ${logits[i]} vs whole-batch ${whole[start * C + i]}`);
    }
    lossSum += model.loss(shard.labels) * shard.size;
    model.backward(DataParallel.lossScale(shard.size, batch.size, 1));
  }
  assert.ok(Math.abs(lossSum / batch.size - wholeLoss) <= 1e-6 * wholeLoss);
  let diff = 0, norm = 0;
  for (let i = 0; i < wholeGrad.length; i++) { diff += (model.grads[i]! - wholeGrad[i]!) ** 2; norm += wholeGrad[i]! ** 2; }
  assert.ok(Math.sqrt(diff / norm) < 1e-6, `summed shard gradients differ from the whole batch's by ${Math.sqrt(diff / norm)} (relative L2)`);
  // without the row offset a shard would reuse rows 0.. of the mask: a different (wrong) result
  const unkeyed = model.forward(sliceBatch(batch, 3, 5), opts);
  assert.ok(Array.from(unkeyed.subarray(0, 2 * C)).some((v, i) => Math.abs(v - whole[3 * C + i]!) > 1e-4));
});

test('mpirun starting an addon built without MPI is refused, naming what to install', () => {
  const launch = launchedWorld({ OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '1' });
  assert.deepEqual(launch, { launcher: 'mpirun (Open MPI)', size: 2, rank: 1 });
  assert.throws(() => checkLaunch(launch, false), (e: unknown) => e instanceof DistributedError &&
    /mpirun \(Open MPI\) started this process as rank 1 of 2, but this bertfit's native addon was built without MPI/.test(e.message) &&
    /libopenmpi-dev/.test(e.message) && /npm rebuild bertfit/.test(e.message));
  checkLaunch(launch, true);
  checkLaunch(launchedWorld({ OMPI_COMM_WORLD_SIZE: '1' }), false);
  checkLaunch(launchedWorld({}), false);
  assert.equal(launchedWorld({}), null);
  assert.deepEqual(launchedWorld({ PMI_SIZE: '4', PMI_RANK: '3' })?.size, 4);
  if (!native.info().mpiCompiled) assert.throws(() => native.mpiInit(), /built without MPI/);
});

/** Rank 0 of a simulated 2-rank job: each all-reduce combines our buffer with what `other` says rank 1 passes. */
function twoRanks(other: (buf: Float32Array | Float64Array, op: ReduceOp) => Float32Array | Float64Array): Comm {
  return {
    rank: 0, size: 2, localRank: 0, localSize: 2, host: 'test', library: 'simulated',
    broadcast: () => {}, barrier: () => {}, abort: () => { throw new Error('abort'); },
    allreduce: (buf, op) => {
      const theirs = other(buf.slice(), op);
      for (let i = 0; i < buf.length; i++) {
        buf[i] = op === 'sum' ? buf[i]! + theirs[i]! : op === 'max' ? Math.max(buf[i]!, theirs[i]!) : Math.min(buf[i]!, theirs[i]!);
      }
    },
  };
}

test('replica check: identical parameters pass, one flipped bit on another rank is a DistributedError', () => {
  const params = Float32Array.from({ length: 100_000 }, (_, i) => Math.sin(i));
  const theirs = Float32Array.from(params);
  const halves = (p: Float32Array) => { const h = native.checksum(p); return [parseInt(h.slice(0, 8), 16), parseInt(h.slice(8), 16)]; };
  const otherRank = () => { const [hi, lo] = halves(theirs); return Float64Array.from([hi!, lo!, -hi!, -lo!]); };
  const dp = new DataParallel(twoRanks(otherRank));
  dp.checkReplicas(params, 10);
  new Uint32Array(theirs.buffer)[54_321]! ^= 1;   // the last bit of one weight
  assert.throws(() => dp.checkReplicas(params, 20), (e: unknown) => e instanceof DistributedError &&
    /the ranks' weights differ after optimizer step 20/.test(e.message));
  assert.equal(native.checksum(params), native.checksum(Float32Array.from(params)));
  assert.notEqual(native.checksum(params), native.checksum(theirs));
});

test('same-run check names what differs between the ranks', () => {
  const mine: Array<[string, number]> = [['the training settings', fingerprint(['a'])], ['the training data', fingerprint(['x', new Int32Array([1, 2])])]];
  const other = [fingerprint(['a']), fingerprint(['x', new Int32Array([1, 3])])];
  const comm = twoRanks(() => Float64Array.from([...other, ...other.map((v) => -v)]));
  assert.deepEqual(sameOnEveryRank(comm, mine.map(([, v]) => v)), [true, false]);
  assert.throws(() => new DataParallel(comm).checkSameRun(mine), /the 2 processes disagree on the training data: /);
  assert.notEqual(fingerprint(['ab', 'c']), fingerprint(['a', 'bc']));
});

test('a shard\'s loss and correct count add up to the global batch\'s', () => {
  // rank 1 had 2 rows with mean loss 0.5 and 1 correct; we have 3 rows with mean loss 0.2 and 2 correct
  const dp = new DataParallel(twoRanks(() => Float64Array.from([(0.5 * 2) / 5, 1])));
  const t = dp.batchTotals(0.2, 3, 5, 2);
  assert.ok(Math.abs(t.loss - (0.2 * 3 + 0.5 * 2) / 5) < 1e-15);
  assert.equal(t.correct, 3);
  assert.deepEqual(new DataParallel().batchTotals(0.25, 4, 4, 3), { loss: 0.25, correct: 3 });
  assert.equal(DataParallel.lossScale(8, 8, 1), 1);
});

test('launch: the mpirun command line', () => {
  const args = mpirunArgs({ processes: 4, hostfile: 'hosts', oversubscribe: true, allowRunAsRoot: true, extra: ['--mca', 'btl', 'self,tcp'] },
    '/usr/bin/node', '/opt/bertfit/dist/src/cli/main.js', ['finetune', '--task', 'mrpc'],
    { BERTFIT_THREADS: '8', OMP_WAIT_POLICY: 'passive', HOME: '/root', HF_HOME: '/data/hf' });
  assert.deepEqual(args, ['-np', '4', '--hostfile', 'hosts', '--bind-to', 'none', '--oversubscribe', '--allow-run-as-root',
    '-x', 'BERTFIT_THREADS', '-x', 'HF_HOME', '-x', 'OMP_WAIT_POLICY', '--mca', 'btl', 'self,tcp',
    '/usr/bin/node', '/opt/bertfit/dist/src/cli/main.js', 'finetune', '--task', 'mrpc']);
  assert.throws(() => mpirunArgs({ processes: 0 }, 'node', 'cli', []), RangeError);
});

test('launchJob: runs finetune only; a missing mpirun is a usage error naming it; stop() sends SIGUSR2, then SIGTERM', async () => {
  assert.throws(() => launchJob({ processes: 2, command: ['predict'] }), (e: unknown) => e instanceof UsageError && /launch runs `finetune`.*"predict"/.test(e.message));
  const missing = launchJob({ processes: 2, command: ['finetune'], mpirun: '/nonexistent/mpirun' });
  await assert.rejects(missing.exited, (e: unknown) => e instanceof UsageError && /\/nonexistent\/mpirun was not found/.test(e.message));
  // a stand-in mpirun that records the signals it gets, and exits after the second
  const dir = tempDir('bertfit-launch-');
  const fake = path.join(dir, 'mpirun');
  writeFileSync(fake, '#!/bin/bash\nn=0\ntrap \'echo USR2 >> "$0.log"; n=$((n+1))\' USR2\ntrap \'echo TERM >> "$0.log"; exit 7\' TERM\n' +
    'touch "$0.ready"\nwhile true; do sleep 0.05; done\n', { mode: 0o755 });
  const job = launchJob({ processes: 2, command: ['finetune'], mpirun: fake });
  while (!existsSync(fake + '.ready')) await new Promise((r) => setTimeout(r, 20));
  assert.equal(job.stop(), 'SIGUSR2');
  while (!existsSync(fake + '.log')) await new Promise((r) => setTimeout(r, 20));
  assert.equal(job.stop(), 'SIGTERM');
  assert.equal(await job.exited, 7);
  assert.deepEqual(readFileSync(fake + '.log', 'utf8').trim().split('\n'), ['USR2', 'TERM']);
  rmSync(dir, { recursive: true, force: true });
});
