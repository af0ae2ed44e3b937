// Every non-GEMM kernel against a float64 TypeScript reference, finite-difference checks of every backward, and
// bit-identical results across thread counts for the reductions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native/index.js';
import {
  Rng, assertClose, centralDiff, crossEntropyRef, dgelu64, dot64, gelu64, layerNormRef, softmaxRef, bf16Ref,
  bf16ToNumber, erf64,
} from './native-ref.js';

const F = (n: number) => new Float32Array(n);

test('erf64 reference matches known values', () => {
  // erf(0.5), erf(1), erf(2), erf(3.5) from tables (15+ digits)
  assertClose([erf64(0.5), erf64(1), erf64(2), erf64(3.5), erf64(-1)],
    [0.520499877813047, 0.842700792949715, 0.995322265018953, 0.999999256901628, -0.842700792949715],
    { atol: 1e-14, rtol: 0 }, 'erf64');
});

for (const kind of ['erf', 'tanh'] as const) {
  test(`biasGeluForward / geluBackward (${kind}) vs float64 reference`, () => {
    const rng = new Rng(kind === 'erf' ? 1 : 2);
    const rows = 7, cols = 67;
    const x = rng.f32(rows * cols, 3);
    x.set([0, -0, 1e-20, -8, 8, 20, -20, 4.5, -4.5, 0.3]);
    const bias = rng.f32(cols, 0.5);
    const pre = x.slice(), out = F(rows * cols);
    native.biasGeluForward(pre, bias, out, rows, cols, kind);
    const preRef = Array.from(x, (v, i) => Math.fround(v + bias[i % cols]));
    assertClose(pre, preRef, { atol: 0, rtol: 0 }, 'pre += bias');
    assertClose(out, preRef.map((v) => gelu64(v, kind)), { atol: 2e-7, rtol: 2e-6 }, 'gelu');
    const dout = rng.f32(rows * cols), dpre = F(rows * cols);
    native.geluBackward(pre, dout, dpre, rows * cols, kind);
    assertClose(dpre, preRef.map((v, i) => dout[i] * dgelu64(v, kind)), { atol: 1e-6, rtol: 1e-5 }, 'dgelu');
    // dpre may alias dout
    const alias = dout.slice();
    native.geluBackward(pre, alias, alias, rows * cols, kind);
    assert.deepEqual(alias, dpre);
  });

  test(`GELU (${kind}) backward matches finite differences of the forward`, () => {
    const rng = new Rng(3);
    const rows = 3, cols = 11;
    const x = rng.f32(rows * cols, 2), bias = rng.f32(cols, 0.5), w = rng.f32(rows * cols);
    const loss = (xx: Float32Array, bb: Float32Array) => {
      const pre = xx.slice(), out = F(rows * cols);
      native.biasGeluForward(pre, bb, out, rows, cols, kind);
      return dot64(out, w);
    };
    const pre = x.slice(), out = F(rows * cols), dpre = F(rows * cols), dbias = F(cols);
    native.biasGeluForward(pre, bias, out, rows, cols, kind);
    native.geluBackward(pre, w, dpre, rows * cols, kind);
    native.biasBackward(dpre, dbias, rows, cols);
    const fdx = Array.from(x, (_, i) => centralDiff(x, i, 1e-2, (xx) => loss(xx, bias)));
    assertClose(dpre, fdx, { atol: 2e-3, rtol: 1e-2 }, 'dx vs finite differences');
    const fdb = Array.from(bias, (_, i) => centralDiff(bias, i, 1e-2, (bb) => loss(x, bb)));
    assertClose(dbias, fdb, { atol: 2e-3, rtol: 1e-2 }, 'dbias vs finite differences');
  });
}

test('biasAdd / biasBackward vs reference, finite differences and thread-count determinism', () => {
  const rng = new Rng(4);
  const rows = 96, cols = 520;  // > 32768 elements: the parallel path
  const x = rng.f32(rows * cols), bias = rng.f32(cols);
  const y = x.slice();
  native.biasAdd(y, bias, rows, cols);
  assertClose(y, Array.from(x, (v, i) => Math.fround(v + bias[i % cols])), { atol: 0, rtol: 0 }, 'biasAdd');
  const dy = rng.f32(rows * cols);
  const db = Float32Array.from(bias);  // accumulates into existing values
  native.biasBackward(dy, db, rows, cols);
  const ref = Array.from(bias, (b, c) => { let s = 0; for (let r = 0; r < rows; r++) s += dy[r * cols + c]; return b + s; });
  assertClose(db, ref, { atol: 1e-4, rtol: 1e-5 }, 'biasBackward');
  // finite differences: L = sum(w * (x + b)) => dL/db = sum_r w
  const small = rng.f32(3 * 4), sb = rng.f32(4), w = rng.f32(12), g = F(4);
  native.biasBackward(w, g, 3, 4);
  const fd = Array.from(sb, (_, i) => centralDiff(sb, i, 1e-2, (bb) => { const t = small.slice(); native.biasAdd(t, bb, 3, 4); return dot64(t, w); }));
  assertClose(g, fd, { atol: 1e-3, rtol: 1e-3 }, 'dbias vs finite differences');
  const d1 = F(cols), d2 = F(cols);
  native.setThreads(1);
  native.biasBackward(dy, d1, rows, cols);
  native.setThreads(2);
  native.biasBackward(dy, d2, rows, cols);
  assert.deepEqual(d1, d2, 'biasBackward differs between 1 and 2 threads');
});

test('layerNormForward vs float64 reference (also in place)', () => {
  const rng = new Rng(5);
  for (const [rows, cols, eps] of [[5, 33, 1e-12], [64, 768, 1e-5]] as const) {
    const x = rng.f32(rows * cols, 2, 5), gamma = rng.f32(cols, 0.3, 1), beta = rng.f32(cols, 0.3);
    const out = F(rows * cols), mean = F(rows), rstd = F(rows);
    native.layerNormForward(x, gamma, beta, out, mean, rstd, rows, cols, eps);
    const ref = layerNormRef(x, gamma, beta, rows, cols, eps);
    assertClose(out, ref.y, { atol: 1e-5, rtol: 1e-5 }, `layerNorm y ${rows}x${cols}`);
    assertClose(mean, ref.mean, { atol: 1e-5, rtol: 1e-6 }, 'mean');
    assertClose(rstd, ref.rstd, { atol: 0, rtol: 1e-5 }, 'rstd');
    const inPlace = x.slice();
    native.layerNormForward(inPlace, gamma, beta, inPlace, F(rows), F(rows), rows, cols, eps);
    assert.deepEqual(inPlace, out, 'out aliasing x gives the same result');
  }
});

test('layerNormBackward matches finite differences; accumulate; deterministic across threads', () => {
  const rng = new Rng(6);
  const rows = 4, cols = 13, eps = 1e-5;
  const x = rng.f32(rows * cols, 1.5, 2), gamma = rng.f32(cols, 0.3, 1), beta = rng.f32(cols, 0.3);
  const w = rng.f32(rows * cols);
  const loss = (xx: Float32Array, gg: Float32Array, bb: Float32Array) => {
    const out = F(rows * cols);
    native.layerNormForward(xx, gg, bb, out, F(rows), F(rows), rows, cols, eps);
    return dot64(out, w);
  };
  const mean = F(rows), rstd = F(rows);
  native.layerNormForward(x, gamma, beta, F(rows * cols), mean, rstd, rows, cols, eps);
  const dx = F(rows * cols), dg = F(cols), dbt = F(cols);
  native.layerNormBackward(w, x, gamma, mean, rstd, dx, dg, dbt, rows, cols, false);
  const tol = { atol: 2e-3, rtol: 1e-2 };
  assertClose(dx, Array.from(x, (_, i) => centralDiff(x, i, 1e-2, (xx) => loss(xx, gamma, beta))), tol, 'dx');
  assertClose(dg, Array.from(gamma, (_, i) => centralDiff(gamma, i, 1e-2, (gg) => loss(x, gg, beta))), tol, 'dgamma');
  assertClose(dbt, Array.from(beta, (_, i) => centralDiff(beta, i, 1e-2, (bb) => loss(x, gamma, bb))), tol, 'dbeta');
  // accumulate adds to dx; dgamma/dbeta always accumulate
  const dx2 = Float32Array.from(dx), dg2 = Float32Array.from(dg), db2 = Float32Array.from(dbt);
  native.layerNormBackward(w, x, gamma, mean, rstd, dx2, dg2, db2, rows, cols, true);
  assertClose(dx2, Array.from(dx, (v) => 2 * v), { atol: 1e-6, rtol: 1e-6 }, 'dx accumulate');
  assertClose(dg2, Array.from(dg, (v) => 2 * v), { atol: 1e-6, rtol: 1e-6 }, 'dgamma accumulates');
  assertClose(db2, Array.from(dbt, (v) => 2 * v), { atol: 1e-6, rtol: 1e-6 }, 'dbeta accumulates');

  const R = 64, C = 768;
  const X = rng.f32(R * C), G = rng.f32(C), Bt = rng.f32(C), Dy = rng.f32(R * C), M = F(R), S = F(R);
  native.layerNormForward(X, G, Bt, F(R * C), M, S, R, C, 1e-12);
  const run = (threads: number) => {
    native.setThreads(threads);
    const d = F(R * C), g = F(C), b = F(C);
    native.layerNormBackward(Dy, X, G, M, S, d, g, b, R, C, false);
    return [d, g, b];
  };
  const one = run(1), two = run(2);
  for (let i = 0; i < 3; i++) assert.deepEqual(one[i], two[i], `layerNormBackward output ${i} differs between 1 and 2 threads`);
});

test('softmaxForward: masking, scale, fully masked rows; softmaxBackward vs finite differences', () => {
  const rng = new Rng(7);
  const B = 3, NH = 2, Sq = 3, Sk = 10, scale = 0.3;
  const valid = new Int32Array([10, 4, 0]);
  const s = rng.f32(B * NH * Sq * Sk, 4);
  const probs = s.slice();
  native.softmaxForward(probs, valid, B, NH, Sq, Sk, scale, 0, 0, 0, null);
  assertClose(probs, softmaxRef(s, valid, B, NH, Sq, Sk, scale), { atol: 1e-7, rtol: 2e-6 }, 'probs');
  const w = rng.f32(probs.length);
  const ds = F(probs.length);
  native.softmaxBackward(probs, w, ds, B * NH * Sq, Sk, scale, 0, 0, 0);
  const loss = (ss: Float32Array) => {
    const p = ss.slice();
    native.softmaxForward(p, valid, B, NH, Sq, Sk, scale, 0, 0, 0, null);
    return dot64(p, w);
  };
  assertClose(ds, Array.from(s, (_, i) => centralDiff(s, i, 1e-2, loss)), { atol: 1e-3, rtol: 1e-2 }, 'dscores');
  // dscores may alias dprobs
  const alias = w.slice();
  native.softmaxBackward(probs, alias, alias, B * NH * Sq, Sk, scale, 0, 0, 0);
  assert.deepEqual(alias, ds);
});

test('tanhForward / tanhBackward vs reference and finite differences', () => {
  const rng = new Rng(8);
  const x = rng.f32(300, 2);
  x.set([0, -0, 1e-6, -1e-6, 0.62, 0.63, -0.63, 9, -9, 50, -50, 1e-30]);
  const y = F(x.length);
  native.tanhForward(x, y, x.length);
  assertClose(y, Array.from(x, Math.tanh), { atol: 1e-7, rtol: 2e-7 }, 'tanh');
  const w = rng.f32(x.length), dx = F(x.length);
  native.tanhBackward(y, w, dx, x.length);
  assertClose(dx, Array.from(y, (v, i) => w[i] * (1 - v * v)), { atol: 1e-7, rtol: 1e-6 }, 'dtanh formula');
  const loss = (xx: Float32Array) => { const o = F(xx.length); native.tanhForward(xx, o, xx.length); return dot64(o, w); };
  const idx = [12, 13, 50, 100, 200, 299];
  assertClose(idx.map((i) => dx[i]), idx.map((i) => centralDiff(x, i, 1e-2, loss)), { atol: 1e-3, rtol: 1e-2 }, 'dx vs fd');
});

test('crossEntropyForward / Backward vs reference and finite differences', () => {
  const rng = new Rng(9);
  const B = 6, C = 4;
  const logits = rng.f32(B * C, 5);
  logits[0] = 80;  // large logit: the stable form must not overflow
  const labels = new Int32Array([0, 3, 1, 2, 2, 0]);
  const probs = F(B * C);
  const loss = native.crossEntropyForward(logits, labels, probs, B, C);
  const ref = crossEntropyRef(logits, labels, B, C);
  assert.ok(Math.abs(loss - ref.loss) < 1e-9 * Math.max(1, Math.abs(ref.loss)), `loss ${loss} vs ${ref.loss}`);
  assertClose(probs, ref.probs, { atol: 1e-8, rtol: 1e-6 }, 'probs');
  for (const scale of [1, 2.5]) {
    const d = F(B * C);
    native.crossEntropyBackward(probs, labels, d, B, C, scale);
    const f = (l: Float32Array) => scale * native.crossEntropyForward(l, labels, F(B * C), B, C);
    assertClose(d, Array.from(logits, (_, i) => centralDiff(logits, i, 1e-2, f)), { atol: 1e-4, rtol: 1e-3 }, `dlogits scale ${scale}`);
  }
  const dDefault = F(B * C), d1 = F(B * C);
  native.crossEntropyBackward(probs, labels, dDefault, B, C, 1);
  (native.crossEntropyBackward as (...a: unknown[]) => void)(probs, labels, d1, B, C);
  assert.deepEqual(d1, dDefault, 'scale defaults to 1');
});

test('embeddingForward / embeddingBackward vs reference, finite differences, determinism', () => {
  const rng = new Rng(10);
  const V = 9, dim = 5, n = 8;
  const table = rng.f32(V * dim), ids = new Int32Array([1, 8, 1, 0, 4, 1, 8, 2]);
  const out = F(n * dim);
  native.embeddingForward(ids, table, out, n, dim, false);
  assertClose(out, Array.from(out, (_, i) => table[ids[Math.floor(i / dim)] * dim + (i % dim)]), { atol: 0, rtol: 0 }, 'gather');
  const acc = Float32Array.from(out);
  native.embeddingForward(ids, table, acc, n, dim, true);
  assertClose(acc, Array.from(out, (v) => 2 * v), { atol: 0, rtol: 0 }, 'accumulate');
  const w = rng.f32(n * dim), dt = F(V * dim);
  native.embeddingBackward(ids, w, dt, n, dim);
  const loss = (t: Float32Array) => { const o = F(n * dim); native.embeddingForward(ids, t, o, n, dim, false); return dot64(o, w); };
  assertClose(dt, Array.from(table, (_, i) => centralDiff(table, i, 1e-2, loss)), { atol: 1e-3, rtol: 1e-3 }, 'dtable vs fd');
  // many repeated ids over a parallel-sized problem: identical bits for 1 and 2 threads
  const N = 4096, D = 64, bigIds = new Int32Array(N).map((_, i) => (i * 7) % 13), dout = rng.f32(N * D);
  const run = (t: number) => { native.setThreads(t); const g = F(13 * D); native.embeddingBackward(bigIds, dout, g, N, D); return g; };
  assert.deepEqual(run(1), run(2), 'embeddingBackward differs between 1 and 2 threads');
});

test('globalNorm (fp64, thread-independent), scale, axpy, clipByGlobalNorm', () => {
  const rng = new Rng(11);
  const x = rng.f32(100_003, 0.01);
  let ref = 0;
  for (const v of x) ref += v * v;
  ref = Math.sqrt(ref);
  native.setThreads(1);
  const n1 = native.globalNorm(x);
  native.setThreads(2);
  const n2 = native.globalNorm(x);
  assert.equal(n1, n2, 'globalNorm differs between 1 and 2 threads');
  assert.ok(Math.abs(n1 - ref) <= 1e-12 * ref, `globalNorm ${n1} vs ${ref}`);
  const y = x.slice(0, 1000);
  native.scale(y, 0.5);
  assertClose(y, Array.from(x.subarray(0, 1000), (v) => Math.fround(v * 0.5)), { atol: 0, rtol: 0 }, 'scale');
  const z = rng.f32(1000);
  const z0 = z.slice();
  native.axpy(-0.25, y, z);
  assertClose(z, Array.from(z0, (v, i) => v - 0.25 * y[i]), { atol: 1e-7, rtol: 1e-6 }, 'axpy');
  // clip: active (norm > max) and inactive
  const g = rng.f32(500);
  const norm0 = native.globalNorm(g);
  const gc = g.slice();
  const before = native.clipByGlobalNorm(gc, 1.0);
  assert.equal(before, norm0);
  assertClose(gc, Array.from(g, (v) => v * (1.0 / (norm0 + 1e-6))), { atol: 1e-9, rtol: 1e-6 }, 'clipped');
  assert.ok(Math.abs(native.globalNorm(gc) - 1) < 1e-5);
  const gn = g.slice();
  native.clipByGlobalNorm(gn, 1e6);
  assert.deepEqual(gn, g, 'no clipping when the norm is below maxNorm');
});

test('adamUpdate (Adam and AdamW) vs a float64 replay of the PyTorch formulas', () => {
  const rng = new Rng(12);
  for (const decoupled of [false, true]) {
    const n = 257, lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
    const p = rng.f32(n), m = F(n), v = F(n);
    const rp = Float64Array.from(p), rm = new Float64Array(n), rv = new Float64Array(n);
    for (let step = 1; step <= 4; step++) {
      const g = rng.f32(n, 0.1);
      native.adamUpdate(p, g, m, v, lr, b1, b2, eps, wd, step, decoupled);
      const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
      for (let i = 0; i < n; i++) {
        let gi = g[i];
        if (decoupled) rp[i] *= 1 - lr * wd;
        else gi += wd * rp[i];
        rm[i] = b1 * rm[i] + (1 - b1) * gi;
        rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
        rp[i] -= (lr / bc1) * rm[i] / (Math.sqrt(rv[i]) / Math.sqrt(bc2) + eps);
      }
    }
    const label = decoupled ? 'AdamW' : 'Adam';
    assertClose(p, rp, { atol: 1e-6, rtol: 1e-5 }, `${label} param`);
    assertClose(m, rm, { atol: 1e-8, rtol: 1e-5 }, `${label} m`);
    assertClose(v, rv, { atol: 1e-10, rtol: 1e-5 }, `${label} v`);
  }
});

test('f32ToBf16 rounds to nearest even, keeps NaN/Inf; bf16ToF32 is exact', () => {
  const rng = new Rng(13);
  const x = rng.f32(4000, 100);
  const u32 = new Uint32Array(x.buffer);
  u32[0] = 0x3f808000; u32[1] = 0x3f818000; u32[2] = 0x7f7fffff; u32[3] = 0x7fc00001; u32[4] = 0xffc00000;
  x[5] = Infinity; x[6] = -Infinity; x[7] = -0; x[8] = 1e-40;
  const h = new Uint16Array(x.length);
  native.f32ToBf16(x, h, x.length);
  assert.deepEqual(Array.from(h), Array.from(x, bf16Ref));
  assert.equal(h[0], 0x3f80, 'tie rounds down to even');
  assert.equal(h[1], 0x3f82, 'tie rounds up to even');
  assert.equal(h[2], 0x7f80, 'max float rounds to +inf');
  assert.equal(h[3], 0x7fc0);
  const back = F(x.length);
  native.bf16ToF32(h, back, x.length);
  assert.deepEqual(Array.from(back), Array.from(h, bf16ToNumber));
  assert.ok(Number.isNaN(back[3]) && Number.isNaN(back[4]));
});
