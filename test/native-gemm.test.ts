// GEMM on both backends (oneDNN when compiled in, and the built-in blocked GEMM): every transpose combination,
// alpha/beta (beta = 0 must not read C), padded leading dimensions, empty sizes, the strided-batched attention
// layout inside a fused QKV buffer, and bf16 inputs. The same checks run in-process for each backend via
// setGemmBackend; test/native-runtime.test.ts checks that BERTFIT_GEMM=builtin selects the same code at load time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native/index.js';
import type { GemmParams } from '../src/native/index.js';
import { Rng, assertClose, gemmRef } from './native-ref.js';

const backends = ['onednn', 'builtin'] as const;
// fp32 sums of k products of N(0,1) values: error grows ~ sqrt(k) ulp; 1e-5 relative + 1e-5 absolute is ample.
const FP32_TOL = { atol: 2e-5, rtol: 2e-5 };

function toBf16(x: Float32Array): Uint16Array {
  const h = new Uint16Array(x.length);
  native.f32ToBf16(x, h, x.length);
  return h;
}
function fromBf16(h: Uint16Array): Float32Array {
  const x = new Float32Array(h.length);
  native.bf16ToF32(h, x, h.length);
  return x;
}

function withBackend(backend: (typeof backends)[number], fn: () => void): void {
  const before = native.info().backend;
  native.setGemmBackend(backend);
  try {
    fn();
  } finally {
    native.setGemmBackend(before);
  }
}

for (const backend of backends) {
  const skip = backend === 'onednn' && !native.info().onednnCompiled ? 'addon built without oneDNN' : false;

  test(`${backend}: info().backend reflects setGemmBackend`, { skip }, () => {
    withBackend(backend, () => assert.equal(native.info().backend, backend));
  });

  test(`${backend}: all transpose combinations, odd and block-crossing sizes`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(21);
      for (const [m, n, k] of [[37, 53, 71], [150, 70, 300], [1, 1, 1], [3, 40, 2]]) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = rng.f32(m * k), b = rng.f32(k * n), c = new Float32Array(m * n).fill(NaN);
            native.gemm({ transA, transB, m, n, k, a, b, c });
            assertClose(c, gemmRef({ transA, transB, m, n, k, a, b, c }), FP32_TOL, `${m}x${n}x${k} tA=${transA} tB=${transB}`);
          }
        }
      }
    });
  });

  test(`${backend}: alpha and beta; beta = 0 never reads C`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(22);
      const m = 33, n = 47, k = 29;
      const a = rng.f32(m * k), b = rng.f32(k * n);
      for (const [alpha, beta] of [[0.5, -1.5], [1, 1], [-2, 0], [0.125, 0.25]]) {
        const c0 = rng.f32(m * n), c = c0.slice();
        native.gemm({ m, n, k, alpha, beta, a, b, c, transB: false });
        assertClose(c, gemmRef({ m, n, k, alpha, beta, a, b, c: c0 }), FP32_TOL, `alpha=${alpha} beta=${beta}`);
      }
      const garbage = new Float32Array(m * n).fill(NaN);
      native.gemm({ m, n, k, a, b, c: garbage, beta: 0 });
      assert.ok(garbage.every(Number.isFinite), 'beta = 0 propagated NaN from C');
      // the primitive cache must not confuse calls that differ only in alpha / beta
      const c1 = new Float32Array(m * n), c2 = new Float32Array(m * n);
      native.gemm({ m, n, k, a, b, c: c1, alpha: 2 });
      native.gemm({ m, n, k, a, b, c: c2, alpha: 3 });
      assertClose(c2, Array.from(c1, (v) => 1.5 * v), FP32_TOL, 'alpha changes between cached calls');
    });
  });

  test(`${backend}: padded leading dimensions leave the padding untouched`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(23);
      const m = 21, n = 34, k = 45;
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const lda = (transA ? m : k) + 7, ldb = (transB ? k : n) + 3, ldc = n + 5;
          const a = rng.f32((transA ? k : m) * lda), b = rng.f32((transB ? n : k) * ldb);
          const c0 = rng.f32(m * ldc), c = c0.slice();
          native.gemm({ transA, transB, m, n, k, a, b, c, lda, ldb, ldc, beta: 0.5 });
          const ref = gemmRef({ transA, transB, m, n, k, a, b, c: c0, lda, ldb, ldc, beta: 0.5 });
          assertClose(c, ref, FP32_TOL, `lda/ldb/ldc padding tA=${transA} tB=${transB}`);
        }
      }
    });
  });

  test(`${backend}: empty sizes: m/n = 0 is a no-op, k = 0 gives beta * C`, { skip }, () => {
    withBackend(backend, () => {
      const c = new Float32Array([1, 2, 3, 4]);
      native.gemm({ m: 0, n: 2, k: 3, a: new Float32Array(0), b: new Float32Array(6), c });
      assert.deepEqual(c, new Float32Array([1, 2, 3, 4]));
      native.gemm({ m: 2, n: 2, k: 0, a: new Float32Array(0), b: new Float32Array(0), c, beta: 2 });
      assert.deepEqual(c, new Float32Array([2, 4, 6, 8]));
      c.fill(NaN);
      native.gemm({ m: 2, n: 2, k: 0, a: new Float32Array(0), b: new Float32Array(0), c });
      assert.deepEqual(c, new Float32Array(4));
    });
  });

  test(`${backend}: strided batch over attention heads inside a fused [B*S, 3H] QKV buffer`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(24);
      const B = 3, S = 7, NH = 4, D = 8, H = NH * D, H3 = 3 * H;
      const qkv = rng.f32(B * S * H3);
      const alpha = 1 / Math.sqrt(D);
      // scores[b, h] = alpha * Q_bh K_bh^T: Q at column h*D, K at column H + h*D, rows b*S.. of the QKV buffer
      const scores = new Float32Array(B * NH * S * S).fill(NaN);
      const qk: GemmParams = {
        transB: true, m: S, n: S, k: D, alpha, a: qkv, b: qkv.subarray(H), c: scores, lda: H3, ldb: H3, ldc: S,
        batchOuter: B, batchInner: NH, strideAOuter: S * H3, strideAInner: D, strideBOuter: S * H3, strideBInner: D,
        strideCOuter: NH * S * S, strideCInner: S * S,
      };
      native.gemm(qk);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < NH; h++) {
          const ref = gemmRef({ transB: true, m: S, n: S, k: D, alpha, a: qkv, b: qkv, c: new Float32Array(S * S), lda: H3, ldb: H3,
            aOff: b * S * H3 + h * D, bOff: b * S * H3 + H + h * D });
          assertClose(scores.subarray((b * NH + h) * S * S, (b * NH + h + 1) * S * S), ref, FP32_TOL, `scores b=${b} h=${h}`);
        }
      }
      // ctx[b*S + i, h*D + d] = P_bh V_bh: writes each head's slice of a [B*S, H] context buffer
      const probs = rng.f32(B * NH * S * S);
      const ctx = new Float32Array(B * S * H).fill(NaN);
      native.gemm({
        m: S, n: D, k: S, a: probs, b: qkv.subarray(2 * H), c: ctx, lda: S, ldb: H3, ldc: H,
        batchOuter: B, batchInner: NH, strideAOuter: NH * S * S, strideAInner: S * S, strideBOuter: S * H3,
        strideBInner: D, strideCOuter: S * H, strideCInner: D,
      });
      const ctxRef = new Float64Array(B * S * H);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < NH; h++) {
          const r = gemmRef({ m: S, n: D, k: S, a: probs, b: qkv, c: new Float32Array(S * D), lda: S, ldb: H3,
            aOff: (b * NH + h) * S * S, bOff: b * S * H3 + 2 * H + h * D });
          for (let i = 0; i < S; i++) for (let d = 0; d < D; d++) ctxRef[(b * S + i) * H + h * D + d] = r[i * D + d];
        }
      }
      assertClose(ctx, ctxRef, FP32_TOL, 'context = P V per head');
      // backward shape: dQ_bh = dS_bh K_bh (NN with a strided B operand), accumulating (beta = 1)
      const dS = rng.f32(B * NH * S * S), dq0 = rng.f32(B * S * H), dq = dq0.slice();
      native.gemm({
        m: S, n: D, k: S, beta: 1, a: dS, b: qkv.subarray(H), c: dq, lda: S, ldb: H3, ldc: H,
        batchOuter: B, batchInner: NH, strideAOuter: NH * S * S, strideAInner: S * S, strideBOuter: S * H3,
        strideBInner: D, strideCOuter: S * H, strideCInner: D,
      });
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < NH; h++) {
          const r = gemmRef({ m: S, n: D, k: S, beta: 1, a: dS, b: qkv, c: dq0, lda: S, ldb: H3, ldc: H,
            aOff: (b * NH + h) * S * S, bOff: b * S * H3 + H + h * D, cOff: b * S * H + h * D });
          for (let i = 0; i < S; i++) {
            assertClose(dq.subarray((b * S + i) * H + h * D, (b * S + i) * H + h * D + D),
              r.subarray((b * S + i) * H + h * D, (b * S + i) * H + h * D + D), FP32_TOL, `dQ b=${b} h=${h} row ${i}`);
          }
        }
      }
    });
  });

  test(`${backend}: default dense batch strides and a shared (stride 0) B`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(25);
      const batch = 5, m = 6, n = 9, k = 4;
      const a = rng.f32(batch * m * k), b = rng.f32(k * n), c = new Float32Array(batch * m * n);
      native.gemm({ m, n, k, a, b, c, batchOuter: 1, batchInner: batch, strideBInner: 0 });
      for (let i = 0; i < batch; i++) {
        const r = gemmRef({ m, n, k, a, b, c: new Float32Array(m * n), aOff: i * m * k });
        assertClose(c.subarray(i * m * n, (i + 1) * m * n), r, FP32_TOL, `batch ${i}`);
      }
    });
  });

  test(`${backend}: bf16 inputs accumulate in fp32 (exact bf16 values) and track fp32 within bf16 tolerance`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(26);
      for (const [m, n, k] of [[45, 67, 300], [64, 64, 64]]) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = rng.f32(m * k), b = rng.f32(k * n);
            const ah = toBf16(a), bh = toBf16(b);
            const c = new Float32Array(m * n).fill(NaN);
            native.gemm({ transA, transB, m, n, k, a: ah, b: bh, c });
            const exact = gemmRef({ transA, transB, m, n, k, a: fromBf16(ah), b: fromBf16(bh), c });
            assertClose(c, exact, FP32_TOL, `bf16 ${m}x${n}x${k} tA=${transA} tB=${transB} vs bf16-rounded inputs`);
            // vs the fp32 product: each product a*b carries ~2^-8 relative rounding with random sign, so an output's
            // error is ~ 2^-8 * 0.6 * sqrt(k) (std); the max over thousands of outputs stays under ~5 std.
            const full = gemmRef({ transA, transB, m, n, k, a, b, c });
            assertClose(c, full, { atol: 0.015 * Math.sqrt(k), rtol: 0.01 }, 'bf16 vs fp32');
          }
        }
      }
      // the bf16 path also handles alpha, beta and strided batches
      const B = 2, S = 5, D = 16, H3 = 3 * D;
      const qkv = rng.f32(B * S * H3), qkvh = toBf16(qkv), c0 = rng.f32(B * S * S), c = c0.slice();
      native.gemm({ transB: true, m: S, n: S, k: D, alpha: 0.25, beta: 1, a: qkvh, b: qkvh.subarray(D), c, lda: H3, ldb: H3,
        batchOuter: B, batchInner: 1, strideAOuter: S * H3, strideBOuter: S * H3, strideCOuter: S * S });
      const q = fromBf16(qkvh);
      for (let b = 0; b < B; b++) {
        const r = gemmRef({ transB: true, m: S, n: S, k: D, alpha: 0.25, beta: 1, a: q, b: q, c: c0, lda: H3, ldb: H3,
          aOff: b * S * H3, bOff: b * S * H3 + D, cOff: b * S * S });
        assertClose(c.subarray(b * S * S, (b + 1) * S * S), r.subarray(b * S * S, (b + 1) * S * S), FP32_TOL, `bf16 batch ${b}`);
      }
      // strided C too (each head's slice of a context buffer, ldc = H), accumulating with beta
      const NH = 3, Dh = 4, Hc = NH * Dh, Hq = 3 * Hc;
      const qkv2 = toBf16(rng.f32(B * S * Hq)), probs = toBf16(rng.f32(B * NH * S * S)), ctx0 = rng.f32(B * S * Hc), ctx = ctx0.slice();
      native.gemm({ m: S, n: Dh, k: S, beta: 0.5, a: probs, b: qkv2.subarray(2 * Hc), c: ctx, lda: S, ldb: Hq, ldc: Hc,
        batchOuter: B, batchInner: NH, strideAOuter: NH * S * S, strideAInner: S * S, strideBOuter: S * Hq, strideBInner: Dh,
        strideCOuter: S * Hc, strideCInner: Dh });
      const p32 = fromBf16(probs), v32 = fromBf16(qkv2);
      let ref: Float64Array = Float64Array.from(ctx0);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < NH; h++) {
          ref = gemmRef({ m: S, n: Dh, k: S, beta: 0.5, a: p32, b: v32, c: ref, lda: S, ldb: Hq, ldc: Hc,
            aOff: (b * NH + h) * S * S, bOff: b * S * Hq + 2 * Hc + h * Dh, cOff: b * S * Hc + h * Dh });
        }
      }
      assertClose(ctx, ref, FP32_TOL, 'bf16 strided C with beta');
    });
  });

  test(`${backend}: results do not depend on the thread count`, { skip }, () => {
    withBackend(backend, () => {
      const rng = new Rng(27);
      const m = 200, n = 96, k = 130;
      const a = rng.f32(m * k), b = rng.f32(k * n);
      const run = (t: number) => { native.setThreads(t); const c = new Float32Array(m * n); native.gemm({ m, n, k, a, b, c }); return c; };
      const one = run(1), two = run(2);
      assertClose(one, gemmRef({ m, n, k, a, b, c: one }), FP32_TOL, '1 thread');
      assertClose(two, gemmRef({ m, n, k, a, b, c: two }), FP32_TOL, '2 threads');
      if (backend === 'builtin') assert.deepEqual(one, two, 'builtin GEMM differs between 1 and 2 threads');
    });
  });
}

test('oneDNN and builtin agree on a BERT-sized product', { skip: !native.info().onednnCompiled && 'no oneDNN' }, () => {
  const rng = new Rng(28);
  const m = 256, n = 768, k = 768;
  const a = rng.f32(m * k), b = rng.f32(n * k), c1 = new Float32Array(m * n), c2 = new Float32Array(m * n);
  withBackend('onednn', () => native.gemm({ transB: true, m, n, k, a, b, c: c1 }));
  withBackend('builtin', () => native.gemm({ transB: true, m, n, k, a, b, c: c2 }));
  assertClose(c1, c2, { atol: 1e-4, rtol: 1e-4 }, 'onednn vs builtin');
});

test('onednn: strided batches agree across batch modes (loop, 4d, fewer matrices than threads)', { skip: !native.info().onednnCompiled && 'no oneDNN' }, () => {
  const rng = new Rng(29);
  const B = 2, S = 9, NH = 3, D = 5, H = NH * D, H3 = 3 * H;
  const qkv = rng.f32(B * S * H3);
  const run = () => {
    const c = new Float32Array(B * NH * S * S);
    native.gemm({ transB: true, m: S, n: S, k: D, a: qkv, b: qkv.subarray(H), c, lda: H3, ldb: H3,
      batchOuter: B, batchInner: NH, strideAOuter: S * H3, strideAInner: D, strideBOuter: S * H3, strideBInner: D });
    return c;
  };
  const ref = new Float64Array(B * NH * S * S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      ref.set(gemmRef({ transB: true, m: S, n: S, k: D, a: qkv, b: qkv, c: new Float32Array(S * S), lda: H3, ldb: H3,
        aOff: b * S * H3 + h * D, bOff: b * S * H3 + H + h * D }), (b * NH + h) * S * S);
    }
  }
  const threads = native.info().threads;
  withBackend('onednn', () => {
    try {
      for (const mode of ['loop', '4d', '']) {
        process.env.BERTFIT_GEMM_BATCH = mode;
        assertClose(run(), ref, FP32_TOL, `BERTFIT_GEMM_BATCH='${mode}'`);
      }
      delete process.env.BERTFIT_GEMM_BATCH;
      native.setThreads(8);  // 6 matrices < 8 threads: each product runs on all threads in turn
      assertClose(run(), ref, FP32_TOL, '8 threads');
      process.env.BERTFIT_GEMM_BATCH = 'bogus';
      assert.throws(run, /BERTFIT_GEMM_BATCH must be '4d' or 'loop', got 'bogus'/);
    } finally {
      delete process.env.BERTFIT_GEMM_BATCH;
      native.setThreads(threads);
    }
  });
});
