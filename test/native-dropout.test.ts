// Dropout masks: Philox4x32-10 known answers, bit-exact agreement with a TypeScript reimplementation of the stream
// defined in api.ts, independence from thread count, keep rate, offsets, and forward/backward consistency
// (including the dropout fused into the attention softmax).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native/index.js';
import { Rng, assertClose, centralDiff, dot64, keepRef, philox4x32_10 } from './native-ref.js';

const F = (n: number) => new Float32Array(n);
const hex = (v: number[]) => v.map((x) => x.toString(16).padStart(8, '0')).join(' ');

test('TypeScript Philox4x32-10 reproduces the Random123 known-answer vectors', () => {
  // kat_vectors from Random123: counter (4 words), key (2 words) -> output
  assert.equal(hex(philox4x32_10([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  assert.equal(hex(philox4x32_10([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])),
    '408f276d 41c83b0e a20bc7c6 6d5451fd');
  assert.equal(hex(philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    'd16cfe09 94fdcceb 5001e420 24126ea1');
});

function keptMask(seed: number, offset: number, n: number, p: number): boolean[] {
  const out = F(n);
  native.dropoutForward(F(n).fill(1), out, n, p, seed, offset);
  return Array.from(out, (v) => v !== 0);
}

test('dropoutForward keeps exactly the elements the api.ts stream definition keeps', () => {
  // 4 * 2^32 - 37: the 64-bit block counter carries into its high word inside the range (vectorised Philox)
  for (const [seed, offset, p] of [[0, 0, 0.5], [42, 13, 0.1], [2 ** 40 + 5, 2 ** 35 + 3, 0.3], [7, 1, 0.9], [9, 4 * 2 ** 32 - 37, 0.5]]) {
    const n = 203;  // not a multiple of 4, odd offsets: exercises partial Philox blocks at both ends
    const want = Array.from({ length: n }, (_, i) => keepRef(seed, offset + i, p));
    assert.deepEqual(keptMask(seed, offset, n, p), want, `seed ${seed} offset ${offset} p ${p}`);
  }
});

test('kept values are scaled by 1/(1-p); p = 0 is the identity and p = 1 drops everything', () => {
  const rng = new Rng(31);
  const x = rng.f32(1000), out = F(1000), p = 0.25;
  native.dropoutForward(x, out, 1000, p, 9, 0);
  const s = Math.fround(1 / (1 - p));
  for (let i = 0; i < 1000; i++) assert.ok(out[i] === 0 || out[i] === Math.fround(x[i] * s), `element ${i}`);
  native.dropoutForward(x, out, 1000, 0, 9, 0);
  assert.deepEqual(out, x);
  native.dropoutForward(x, out, 1000, 1, 9, 0);
  assert.ok(out.every((v) => v === 0));
});

test('same seed/offset gives the same mask with 1 and 2 threads; keep rate ~ 1 - p', () => {
  const n = 1_000_003, p = 0.1, x = F(n).fill(1);
  const run = (t: number) => { native.setThreads(t); const o = F(n); native.dropoutForward(x, o, n, p, 1234, 77); return o; };
  const one = run(1), two = run(2);
  assert.deepEqual(one, two, 'mask differs between 1 and 2 threads');
  let kept = 0;
  for (const v of one) kept += v !== 0 ? 1 : 0;
  const rate = kept / n, sigma = Math.sqrt(p * (1 - p) / n);
  assert.ok(Math.abs(rate - (1 - p)) < 5 * sigma, `keep rate ${rate}, expected ${1 - p} +- ${5 * sigma}`);
});

test('the mask depends on offset + i only; different offsets and seeds give different masks', () => {
  const n = 4000, p = 0.5;
  const base = keptMask(5, 100, n, p);
  assert.deepEqual(keptMask(5, 100 + 37, n - 37, p), base.slice(37), 'counter is offset + i');
  const differs = (a: boolean[], b: boolean[]) => a.filter((v, i) => v !== b[i]).length;
  assert.ok(differs(base, keptMask(5, 100 + n, n, p)) > n / 4, 'the next offset block repeats the mask');
  assert.ok(differs(base, keptMask(6, 100, n, p)) > n / 4, 'another seed repeats the mask');
});

test('dropoutBackward regenerates the forward mask (also in place)', () => {
  const rng = new Rng(32);
  const n = 5000, p = 0.2, seed = 11, offset = 999;
  const x = rng.f32(n), y = F(n);
  native.dropoutForward(x, y, n, p, seed, offset);
  const w = rng.f32(n), dx = F(n);
  native.dropoutBackward(w, dx, n, p, seed, offset);
  const expect = F(n);
  native.dropoutForward(w, expect, n, p, seed, offset);
  assert.deepEqual(dx, expect);
  for (let i = 0; i < n; i++) assert.equal(dx[i] === 0, y[i] === 0, `mask mismatch at ${i}`);
  // finite differences of L = sum(w * dropout(x)) (linear in x, so central differences are exact up to rounding)
  const loss = (xx: Float32Array) => { const o = F(n); native.dropoutForward(xx, o, n, p, seed, offset); return dot64(o, w); };
  const idx = [0, 1, 2, 3, 100, 4999];
  assertClose(idx.map((i) => dx[i]), idx.map((i) => centralDiff(x, i, 1e-2, loss)), { atol: 1e-3, rtol: 1e-3 }, 'dx vs fd');
  const inPlace = w.slice();
  native.dropoutBackward(inPlace, inPlace, n, p, seed, offset);
  assert.deepEqual(inPlace, dx);
});

test('softmax fused dropout uses the dropoutForward mask over the flat probs index; backward matches fd', () => {
  const rng = new Rng(33);
  const B = 2, NH = 2, Sq = 3, Sk = 9, scale = 0.4, p = 0.3, seed = 2024, offset = 5;
  const valid = new Int32Array([9, 6]);
  const s = rng.f32(B * NH * Sq * Sk, 2), n = s.length;
  const probs = s.slice(), dropped = F(n);
  native.softmaxForward(probs, valid, B, NH, Sq, Sk, scale, p, seed, offset, dropped);
  const expect = F(n);
  native.dropoutForward(probs, expect, n, p, seed, offset);
  assert.deepEqual(dropped, expect);
  const w = rng.f32(n), ds = F(n);
  native.softmaxBackward(probs, w, ds, B * NH * Sq, Sk, scale, p, seed, offset);
  const loss = (ss: Float32Array) => {
    const pr = ss.slice(), d = F(n);
    native.softmaxForward(pr, valid, B, NH, Sq, Sk, scale, p, seed, offset, d);
    return dot64(d, w);
  };
  assertClose(ds, Array.from(s, (_, i) => centralDiff(s, i, 1e-2, loss)), { atol: 1e-3, rtol: 1e-2 }, 'dscores vs fd');
  // the same masks with 1 and 2 threads on a parallel-sized problem
  const big = { B: 4, NH: 12, Sq: 32, Sk: 32 }, N = 4 * 12 * 32 * 32, sc = rng.f32(N), vl = new Int32Array([32, 20, 1, 0]);
  const run = (t: number) => {
    native.setThreads(t);
    const pr = sc.slice(), d = F(N);
    native.softmaxForward(pr, vl, big.B, big.NH, big.Sq, big.Sk, 0.125, 0.1, 3, 0, d);
    return d;
  };
  assert.deepEqual(run(1), run(2));
});
