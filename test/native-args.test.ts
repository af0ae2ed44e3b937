// Bad arguments must throw a TypeError / RangeError that names the function and the argument, before any memory
// is touched: wrong array types (including bf16/fp32 mixes), bad sizes, buffers too short for the leading
// dimensions and batch strides, out-of-range ids / labels / lengths, and outputs aliasing inputs they must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native/index.js';
import type { GemmParams } from '../src/native/index.js';

const F = (n: number) => new Float32Array(n);
const H = (n: number) => new Uint16Array(n);
const call = (fn: unknown, ...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(...args);
const throwsRange = (fn: () => unknown, msg: RegExp) => assert.throws(fn, (e: Error) => e instanceof RangeError && msg.test(e.message), String(msg));
const throwsType = (fn: () => unknown, msg: RegExp) => assert.throws(fn, (e: Error) => e instanceof TypeError && msg.test(e.message), String(msg));

const gemm = (p: Record<string, unknown>) => () => native.gemm({ m: 2, n: 3, k: 4, a: F(8), b: F(12), c: F(6), ...p } as unknown as GemmParams);

test('gemm: buffers too short name the operand and the sizes', () => {
  throwsRange(gemm({ c: F(5) }), /^gemm: c is too short: needs 6 elements, has 5$/);
  throwsRange(gemm({ a: F(7) }), /^gemm: a is too short: needs 8 elements, has 7$/);
  throwsRange(gemm({ b: F(11), transB: true }), /^gemm: b is too short: needs 12 elements, has 11$/);
  // padded leading dimension: the last row only needs its first k elements
  throwsRange(gemm({ lda: 6, a: F(9) }), /^gemm: a is too short: needs 10 elements, has 9$/);
  // strided batch: Q inside a [B*S, 3H] buffer, last (b, h) matrix must fit
  const B = 2, S = 4, NH = 2, D = 3, H3 = 3 * NH * D;
  // last Q matrix (b=1, h=1) ends at 1*S*3H + 1*D + (S-1)*3H + D = 132
  const p = { transB: true, m: S, n: S, k: D, a: F(131), b: F(B * S * H3), c: F(B * NH * S * S), lda: H3, ldb: H3,
    batchOuter: B, batchInner: NH, strideAOuter: S * H3, strideAInner: D, strideBOuter: S * H3, strideBInner: D };
  throwsRange(() => native.gemm(p), /^gemm: a is too short: needs 132 elements, has 131$/);
  native.gemm({ ...p, a: F(132) });
  throwsRange(() => native.gemm({ ...p, a: F(B * S * H3), c: F(B * NH * S * S - 1) }), /^gemm: c is too short: needs 64 elements, has 63$/);
});

test('gemm: bad leading dimensions, sizes and strides', () => {
  throwsRange(gemm({ lda: 3 }), /^gemm: lda must be >= 4 \(the stored row length of a\), got 3$/);
  throwsRange(gemm({ transA: true, lda: 1, a: F(100) }), /^gemm: lda must be >= 2/);
  throwsRange(gemm({ ldc: 2 }), /^gemm: ldc must be >= 3/);
  throwsRange(gemm({ m: -1 }), /^gemm: m must be a non-negative integer, got the number -1$/);
  throwsRange(gemm({ k: 1.5 }), /^gemm: k must be a non-negative integer, got the number 1.5$/);
  throwsRange(gemm({ n: NaN }), /^gemm: n must be a non-negative integer/);
  throwsType(gemm({ n: '3' }), /^gemm: n must be a non-negative integer, got a string$/);
  throwsType(gemm({ m: undefined }), /^gemm: m must be a non-negative integer, got undefined$/);
  throwsRange(gemm({ alpha: Infinity }), /^gemm: alpha must be finite/);
  throwsType(gemm({ transA: 1 }), /^gemm: transA must be a boolean, got the number 1$/);
  throwsRange(gemm({ batchInner: 2, c: F(12), a: F(16), b: F(24), strideCInner: 0 }), /^gemm: strideCInner must be > 0 when batchInner > 1$/);
  throwsRange(gemm({ batchOuter: -2 }), /^gemm: batchOuter must be a non-negative integer/);
  throwsType(() => call(native.gemm), /^gemm: expected 1 arguments, got 0$/);
  throwsType(() => call(native.gemm, F(3)), /^gemm: p must be a GemmParams object, got a Float32Array$/);
});

test('gemm: dtype errors: bf16/fp32 mix, bf16 C, plain arrays', () => {
  throwsType(gemm({ a: H(8) }), /^gemm: a and b must have the same dtype .* got a Uint16Array and a Float32Array$/);
  throwsType(gemm({ b: H(12) }), /^gemm: a and b must have the same dtype .* got a Float32Array and a Uint16Array$/);
  throwsType(gemm({ a: H(8), b: H(12), c: H(6) }), /^gemm: c must be a Float32Array .* got a Uint16Array$/);
  throwsType(gemm({ a: [1, 2, 3] }), /^gemm: a must be a Float32Array or a Uint16Array \(bf16\), got an Array$/);
  throwsType(gemm({ b: new Float64Array(12) }), /^gemm: b must be .* got a Float64Array$/);
});

test('kernels: wrong array types, bf16/fp32 mixes and argument counts', () => {
  throwsType(() => native.biasAdd(H(6) as unknown as Float32Array, F(3), 2, 3), /^biasAdd: x must be a Float32Array, got a Uint16Array$/);
  throwsType(() => native.f32ToBf16(F(4), F(4) as unknown as Uint16Array, 4), /^f32ToBf16: dst must be a Uint16Array \(bf16\), got a Float32Array$/);
  throwsType(() => native.bf16ToF32(F(4) as unknown as Uint16Array, F(4), 4), /^bf16ToF32: src must be a Uint16Array/);
  throwsType(() => native.embeddingForward(F(2) as unknown as Int32Array, F(10), F(10), 2, 5, false), /^embeddingForward: ids must be an Int32Array, got a Float32Array$/);
  throwsType(() => call(native.tanhForward, F(2), F(2)), /^tanhForward: expected 3 arguments, got 2$/);
  throwsRange(() => call(native.geluBackward, F(2), F(2), F(2), 2, 'relu'), /^geluBackward: kind must be 'erf' or 'tanh', got 'relu'$/);
  throwsType(() => call(native.geluBackward, F(2), F(2), F(2), 2, 0), /^geluBackward: kind must be a string, got the number 0$/);
  throwsType(() => call(native.layerNormBackward, F(4), F(4), F(2), F(2), F(2), F(4), F(2), F(2), 2, 2, 1), /^layerNormBackward: accumulate must be a boolean/);
});

test('kernels: sizes and too-short buffers', () => {
  throwsRange(() => native.biasAdd(F(5), F(3), 2, 3), /^biasAdd: x is too short: needs 6 elements, has 5$/);
  throwsRange(() => native.biasAdd(F(6), F(2), 2, 3), /^biasAdd: bias is too short: needs 3 elements, has 2$/);
  throwsRange(() => native.layerNormForward(F(6), F(3), F(3), F(6), F(2), F(2), -2, 3, 1e-5), /^layerNormForward: rows must be a non-negative integer, got the number -2$/);
  throwsRange(() => native.layerNormForward(F(6), F(3), F(3), F(6), F(1), F(2), 2, 3, 1e-5), /^layerNormForward: mean is too short: needs 2 elements, has 1$/);
  throwsRange(() => native.layerNormForward(F(6), F(3), F(3), F(6), F(2), F(2), 2, 3, -1), /^layerNormForward: eps must be in \[0, 1\], got -1$/);
  throwsRange(() => native.softmaxBackward(F(12), F(12), F(11), 3, 4, 1, 0, 0, 0), /^softmaxBackward: dscores is too short: needs 12 elements, has 11$/);
  throwsRange(() => native.adamUpdate(F(4), F(3), F(4), F(4), 1e-3, 0.9, 0.999, 1e-8, 0, 1, false), /^adamUpdate: grad must have the same length as param \(4\), has 3$/);
  throwsRange(() => native.adamUpdate(F(4), F(4), F(4), F(4), 1e-3, 0.9, 0.999, 1e-8, 0, 0, false), /^adamUpdate: step must be >= 1/);
  throwsRange(() => native.adamUpdate(F(4), F(4), F(4), F(4), 1e-3, 1, 0.999, 1e-8, 0, 1, false), /^adamUpdate: beta1 must be in \[0, /);
  throwsRange(() => native.axpy(1, F(3), F(4)), /^axpy: x and y must have the same length, got 3 and 4$/);
  throwsRange(() => native.clipByGlobalNorm(F(3), -1), /^clipByGlobalNorm: maxNorm must be in \[0, /);
  throwsRange(() => native.setThreads(0), /^setThreads: n must be in \[1, 1024\], got 0$/);
  throwsRange(() => call(native.setGemmBackend, 'mkl'), /^setGemmBackend: backend must be 'onednn' or 'builtin', got 'mkl'$/);
});

test('dropout and softmax: p, seed, offset, validLen and dropped are checked', () => {
  throwsRange(() => native.dropoutForward(F(4), F(4), 4, 1.5, 0, 0), /^dropoutForward: p must be in \[0, 1\], got 1.5$/);
  throwsRange(() => native.dropoutBackward(F(4), F(4), 4, 0.1, -1, 0), /^dropoutBackward: seed must be a non-negative integer, got the number -1$/);
  throwsRange(() => native.dropoutForward(F(4), F(4), 4, 0.1, 0, 2 ** 60), /^dropoutForward: offset must be a non-negative integer/);
  throwsRange(() => native.dropoutForward(F(4), F(3), 4, 0.1, 0, 0), /^dropoutForward: out is too short: needs 4 elements, has 3$/);
  const s = F(2 * 1 * 2 * 3);
  throwsRange(() => native.softmaxForward(s, new Int32Array([3, 4]), 2, 1, 2, 3, 1, 0, 0, 0, null), /^softmaxForward: validLen\[1\] = 4 is outside \[0, Sk=3\]$/);
  throwsRange(() => native.softmaxForward(s, new Int32Array([3]), 2, 1, 2, 3, 1, 0, 0, 0, null), /^softmaxForward: validLen is too short: needs 2 elements, has 1$/);
  throwsType(() => native.softmaxForward(s, new Int32Array([3, 3]), 2, 1, 2, 3, 1, 0.1, 0, 0, null), /^softmaxForward: dropped must be a Float32Array when dropoutP > 0, got null$/);
  throwsRange(() => native.softmaxForward(s, new Int32Array([3, 3]), 2, 1, 2, 3, 1, 0.1, 0, 0, F(5)), /^softmaxForward: dropped is too short/);
  throwsRange(() => native.softmaxForward(s, new Int32Array([3, 3]), 2, 1, 2, 3, 1, 0.1, 0, 0, s), /^softmaxForward: dropped must not overlap scores$/);
});

test('ids and labels out of range throw before anything is written', () => {
  const out = F(10).fill(7);
  throwsRange(() => native.embeddingForward(new Int32Array([0, 4]), F(20), out, 2, 5, false), /^embeddingForward: ids\[1\] = 4 is out of range for table with 4 rows of dim 5$/);
  throwsRange(() => native.embeddingForward(new Int32Array([-1, 0]), F(20), out, 2, 5, false), /^embeddingForward: ids\[0\] = -1 is out of range/);
  assert.ok(out.every((v) => v === 7), 'out was written before the ids check');
  const dt = F(20);
  throwsRange(() => native.embeddingBackward(new Int32Array([1, 9]), F(10), dt, 2, 5), /^embeddingBackward: ids\[1\] = 9 is out of range for dtable with 4 rows of dim 5$/);
  assert.ok(dt.every((v) => v === 0));
  throwsRange(() => native.crossEntropyForward(F(6), new Int32Array([0, 3]), F(6), 2, 3), /^crossEntropyForward: labels\[1\] = 3 is outside \[0, C=3\)$/);
  throwsRange(() => native.crossEntropyBackward(F(6), new Int32Array([-1, 0]), F(6), 2, 3, 1), /^crossEntropyBackward: labels\[0\] = -1 is outside/);
});

test('outputs that must not alias their inputs are rejected', () => {
  const buf = F(32);
  throwsRange(() => native.layerNormBackward(buf.subarray(0, 8), F(8), F(4), F(2), F(2), buf.subarray(4, 12), F(4), F(4), 2, 4, false), /^layerNormBackward: dx must not overlap dout$/);
  throwsRange(() => native.adamUpdate(buf.subarray(0, 4), F(4), buf.subarray(2, 6), F(4), 1e-3, 0.9, 0.999, 1e-8, 0, 1, false), /^adamUpdate: param must not overlap m$/);
  throwsRange(() => native.gemm({ m: 2, n: 2, k: 2, a: buf.subarray(0, 4), b: buf.subarray(4, 8), c: buf.subarray(6, 10) }), /^gemm: c must not overlap b$/);
  throwsRange(() => native.gemm({ m: 2, n: 2, k: 2, a: buf, b: F(4), c: buf.subarray(3, 7), lda: 4 }), /^gemm: c must not overlap a$/);
  native.gemm({ m: 2, n: 2, k: 2, a: buf.subarray(0, 4), b: buf.subarray(4, 8), c: buf.subarray(8, 12) });
  // disjoint views of one buffer are fine
  native.layerNormBackward(buf.subarray(0, 8), F(8), F(4), F(2), F(2), buf.subarray(8, 16), F(4), F(4), 2, 4, false);
});

test('subarray views: kernels stay inside the view', () => {
  const buf = F(20).fill(1);
  const view = buf.subarray(5, 11);  // 6 elements
  native.biasAdd(view, new Float32Array([1, 2, 3]), 2, 3);
  assert.deepEqual(Array.from(buf), [1, 1, 1, 1, 1, 2, 3, 4, 2, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  throwsRange(() => native.biasAdd(view, F(3), 3, 3), /^biasAdd: x is too short: needs 9 elements, has 6$/);
  const c = F(12).fill(-5);
  native.gemm({ m: 1, n: 2, k: 1, a: new Float32Array([2]), b: new Float32Array([3, 4]), c: c.subarray(4, 6) });
  assert.deepEqual(Array.from(c), [-5, -5, -5, -5, 6, 8, -5, -5, -5, -5, -5, -5]);
});
