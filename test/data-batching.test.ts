import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchSampler, type EncodedExample, type LastBatch, Rng, type SamplerOptions, type SamplerState, batches, collate,
} from '../src/data/index.js';

test('Rng is xoshiro128** (reference C output) seeded by splitmix32, and its state round-trips', () => {
  // Expected values printed by the reference C implementation (prng.di.unimi.it/xoshiro128starstar.c).
  const r = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual(Array.from({ length: 6 }, () => r.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  const r2 = Rng.fromState([0x9e3779b9, 0xdeadbeef, 0xffffffff, 0x80000000]);
  assert.deepEqual(Array.from({ length: 4 }, () => r2.nextU32()), [1162347276, 1702550990, 264094741, 185586569]);
  // Seeding is pinned too: a change here changes every shuffled run.
  assert.deepEqual(new Rng(0).state(), [1684164658, 3653269916, 2939563536, 2141751570]);
  assert.deepEqual(new Rng(42).state(), [551831576, 144025891, 322543647, 3034809370]);

  const a = new Rng(7);
  a.nextU32();
  const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())) as number[]);
  assert.deepEqual(Array.from({ length: 5 }, () => a.nextU32()), Array.from({ length: 5 }, () => b.nextU32()));

  assert.throws(() => new Rng(-1), /seed must be an integer in \[0, 2\^32\), got -1/);
  assert.throws(() => new Rng(1.5), /seed must be an integer/);
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), /invalid RNG state \[0,0,0,0\]/);
  assert.throws(() => Rng.fromState([1, 2, 3]), /invalid RNG state/);
});

test('Rng.below is uniform and in range; shuffle is a seeded permutation', () => {
  const r = new Rng(1);
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[r.below(6)]!++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, `counts ${counts.join(' ')}`);
  assert.equal(r.below(1), 0);
  const big = r.below(0x100000000);
  assert.ok(big >= 0 && big < 0x100000000);
  assert.throws(() => r.below(0), /below\(n\) needs 1 <= n <= 2\^32, got 0/);

  const perm = new Rng(3).shuffle(Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual([...perm].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(new Rng(3).shuffle(Array.from({ length: 50 }, (_, i) => i)), perm);
  assert.notDeepEqual(new Rng(4).shuffle(Array.from({ length: 50 }, (_, i) => i)), perm);
  // Pinned (the same algorithm in C gives this order): one seed shuffles alike on every platform.
  assert.deepEqual(new Rng(0).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), [6, 3, 5, 8, 0, 7, 1, 9, 2, 4]);
});

/** Every epoch's batches, by draining `remaining()` epoch after epoch. */
function epochs(sampler: BatchSampler, count: number): number[][][] {
  const out: number[][][] = [];
  for (let e = 0; e < count; e++) out.push([...sampler.remaining()].map((b) => [...b]));
  return out;
}
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

test('last batch policies: keep, discard, rollover (leftovers start the next epoch)', () => {
  const plain = (lastBatch: LastBatch): BatchSampler => new BatchSampler(10, { batchSize: 4, shuffle: false, lastBatch });
  assert.deepEqual(epochs(plain('keep'), 2), [[range(0, 4), range(4, 8), [8, 9]], [range(0, 4), range(4, 8), [8, 9]]]);
  assert.deepEqual(epochs(plain('discard'), 2), [[range(0, 4), range(4, 8)], [range(0, 4), range(4, 8)]]);
  assert.deepEqual(epochs(plain('rollover'), 3), [
    [range(0, 4), range(4, 8)],
    [[8, 9, 0, 1], range(2, 6), range(6, 10)],
    [range(0, 4), range(4, 8)],
  ]);
  // Fewer examples than a batch: rollover carries them until a batch fills.
  assert.deepEqual(epochs(new BatchSampler(3, { batchSize: 4, shuffle: false, lastBatch: 'rollover' }), 2), [[], [[0, 1, 2, 0]]]);
  assert.throws(() => new BatchSampler(10, { batchSize: 4, lastBatch: 'drop' as LastBatch }), /lastBatch must be one of keep, discard, rollover, got drop/);
  assert.throws(() => new BatchSampler(10, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => new BatchSampler(0, { batchSize: 2 }), /numExamples must be a positive integer, got 0/);
});

test('shuffling: each epoch is a new permutation, fixed by the seed', () => {
  const run = (seed: number): number[][][] => epochs(new BatchSampler(23, { batchSize: 5, seed }), 3);
  const a = run(11);
  for (const epoch of a) {
    assert.deepEqual(epoch.map((b) => b.length), [5, 5, 5, 5, 3]);
    assert.deepEqual(epoch.flat().sort((x, y) => x - y), range(0, 23));
  }
  assert.notDeepEqual(a[0], a[1]);
  assert.deepEqual(run(11), a);
  assert.notDeepEqual(run(12), a);
  // Pinned first batch of seed 0: the order must not drift between versions or platforms.
  assert.deepEqual(new BatchSampler(10, { batchSize: 4, seed: 0 }).epochBatches()[0], [6, 3, 5, 8]);
});

test('length bucketing: full batches of similar lengths, shuffled, covering every example', () => {
  const n = 200;
  const lengths = Array.from({ length: n }, (_, i) => 3 + ((i * 7919) % 97));
  const options: SamplerOptions = { batchSize: 8, seed: 5, lastBatch: 'keep', bucketing: { lengths, windowBatches: 5 } };
  const bucketed = new BatchSampler(n, options).epochBatches();
  assert.deepEqual(bucketed.map((b) => b.length), new Array<number>(25).fill(8));
  assert.deepEqual(bucketed.flat().sort((x, y) => x - y), range(0, n));
  // Padding waste (padded width - real tokens), with width = longest in batch: far below unbucketed.
  const waste = (plan: readonly (readonly number[])[]): number =>
    plan.reduce((w, b) => w + b.length * Math.max(...b.map((i) => lengths[i]!)) - b.reduce((s, i) => s + lengths[i]!, 0), 0);
  const unbucketed = new BatchSampler(n, { batchSize: 8, seed: 5 }).epochBatches();
  assert.ok(waste(bucketed) * 3 < waste(unbucketed), `bucketed waste ${waste(bucketed)}, unbucketed ${waste(unbucketed)}`);
  // Batches are shuffled: their longest lengths are not in sorted order.
  const longest = bucketed.map((b) => Math.max(...b.map((i) => lengths[i]!)));
  assert.notDeepEqual(longest, [...longest].sort((x, y) => y - x));
  // Without shuffling, each window comes out sorted longest first.
  const ordered = new BatchSampler(n, { ...options, shuffle: false }).epochBatches().flat().map((i) => lengths[i]!);
  for (let w = 0; w < n; w += 40) {
    const part = ordered.slice(w, w + 40);
    assert.deepEqual(part, [...part].sort((x, y) => y - x));
  }
  // Leftovers follow the last-batch policy: 203 = 25 full batches + 3.
  const odd = new BatchSampler(203, { ...options, bucketing: { lengths: [...lengths, 1, 2, 3] } }).epochBatches();
  assert.deepEqual(odd.map((b) => b.length), [...new Array<number>(25).fill(8), 3]);
  assert.throws(() => new BatchSampler(10, { batchSize: 2, bucketing: { lengths: [1, 2] } }), /bucketing.lengths has 2 entries for 10 examples/);
});

test('resuming from a JSON state gives exactly the batches of an uninterrupted run', () => {
  const lengths = Array.from({ length: 37 }, (_, i) => 1 + ((i * 31) % 17));
  const configs: SamplerOptions[] = [
    { batchSize: 8, seed: 3, lastBatch: 'keep' },
    { batchSize: 8, seed: 3, lastBatch: 'discard' },
    { batchSize: 8, seed: 3, lastBatch: 'rollover' },
    { batchSize: 5, seed: 9, lastBatch: 'rollover', bucketing: { lengths, windowBatches: 2 } },
    { batchSize: 6, shuffle: false, lastBatch: 'rollover' },
  ];
  for (const options of configs) {
    const reference = epochs(new BatchSampler(37, options), 4).flatMap((e, epoch) => e.map((b) => ({ epoch, b })));
    for (const cut of [0, 1, 3, 4, 5, 9, 13, reference.length - 1]) {
      // Run to `cut` batches, as a training loop would, saving the state after each batch.
      const first = new BatchSampler(37, options);
      const seen: { epoch: number; b: number[] }[] = [];
      let saved = JSON.stringify(first.state());
      outer: while (seen.length < cut) {
        const epoch = first.epoch;
        for (const b of first.remaining()) {
          seen.push({ epoch, b: [...b] });
          saved = JSON.stringify(first.state());
          if (seen.length === cut) break outer;
        }
      }
      const resumed = new BatchSampler(37, options);
      resumed.restore(JSON.parse(saved) as SamplerState);
      while (seen.length < reference.length) {
        const epoch = resumed.epoch;
        for (const b of resumed.remaining()) seen.push({ epoch, b: [...b] });
      }
      assert.deepEqual(seen, reference, `${JSON.stringify({ ...options, bucketing: !!options.bucketing })} cut at ${cut}`);
    }
  }
});

test('restore refuses a state from different settings or a corrupt one', () => {
  const s = new BatchSampler(20, { batchSize: 4, seed: 1, lastBatch: 'rollover' });
  const state = s.state();
  assert.deepEqual(Object.keys(state).sort(), ['batchSize', 'carry', 'epoch', 'lastBatch', 'numExamples', 'position', 'rng', 'shuffle', 'version', 'windowBatches']);
  assert.throws(() => new BatchSampler(20, { batchSize: 8 }).restore(state),
    /cannot resume the batch order: the checkpoint has batchSize 4, this run 8/);
  assert.throws(() => new BatchSampler(21, { batchSize: 4, lastBatch: 'rollover' }).restore(state), /checkpoint has numExamples 20, this run 21/);
  const fresh = (): BatchSampler => new BatchSampler(20, { batchSize: 4, seed: 1, lastBatch: 'rollover' });
  assert.throws(() => fresh().restore({ ...state, position: 6 }), /position 6 is past the epoch's 5 batches/);
  assert.throws(() => fresh().restore({ ...state, carry: [25] }), /invalid batch sampler state/);
  assert.throws(() => fresh().restore({ ...state, rng: [0, 0, 0, 0] }), /invalid RNG state/);
});

const ex = (ids: number[], label: number, index: number): EncodedExample => ({
  inputIds: Int32Array.from(ids), tokenTypeIds: Int32Array.from(ids, (_, i) => (i >= 2 ? 1 : 0)), label, index,
});
const data = [ex([101, 5, 102], 1, 0), ex([101, 6, 7, 8, 9, 10, 11, 12, 13, 102], 0, 1), ex([101, 102], -1, 2)];

test('collate: fixed padding to max_len, dynamic to the longest row rounded up to 8, capped at max_len', () => {
  const fixed = collate(data, [2, 0], { padding: 'fixed', maxLen: 6, padId: 0 });
  assert.deepEqual(fixed.size, 2);
  assert.deepEqual(fixed.seqLen, 6);
  assert.deepEqual(Array.from(fixed.inputIds), [101, 102, 0, 0, 0, 0, 101, 5, 102, 0, 0, 0]);
  assert.deepEqual(Array.from(fixed.tokenTypeIds), [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(Array.from(fixed.validLength), [2, 3]);
  assert.deepEqual(Array.from(fixed.labels), [-1, 1]);
  assert.deepEqual(Array.from(fixed.indices), [2, 0]);

  assert.equal(collate(data, [0, 2], { padding: 'dynamic', maxLen: 128, padId: 0 }).seqLen, 8);
  const dyn = collate(data, [0, 1], { padding: 'dynamic', maxLen: 128, padId: 7 });
  assert.equal(dyn.seqLen, 16);
  assert.deepEqual(Array.from(dyn.inputIds.subarray(0, 16)), [101, 5, 102, ...new Array<number>(13).fill(7)]);
  assert.equal(collate(data, [1], { padding: 'dynamic', maxLen: 12, padId: 0 }).seqLen, 12);
  assert.equal(collate(data, [1], { padding: 'dynamic', maxLen: 10, padId: 0 }).seqLen, 10);

  assert.throws(() => collate(data, [1], { padding: 'fixed', maxLen: 8, padId: 0 }), /example 1 has 10 tokens, more than max_len 8/);
  assert.throws(() => collate(data, [], { padding: 'fixed', maxLen: 8, padId: 0 }), /cannot collate an empty batch/);
  assert.throws(() => collate(data, [3], { padding: 'fixed', maxLen: 16, padId: 0 }), /example index 3 is outside the dataset \(3 examples\)/);
});

test('batches(): padded Batch objects for the rest of the epoch, following the sampler', () => {
  const sampler = new BatchSampler(3, { batchSize: 2, shuffle: false });
  const out = [...batches(data, sampler, { padding: 'dynamic', maxLen: 16, padId: 0 })];
  assert.deepEqual(out.map((b) => [b.size, b.seqLen, Array.from(b.indices)]), [[2, 16, [0, 1]], [1, 8, [2]]]);
  assert.equal(sampler.epoch, 1);
  assert.throws(() => [...batches(data.slice(1), sampler, { padding: 'fixed', maxLen: 16, padId: 0 })],
    /the sampler was made for 3 examples, the dataset has 2/);
});
