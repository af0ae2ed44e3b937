// Shared by test/native-*.test.ts: float64 reference implementations of the native kernels, a deterministic RNG,
// the PyTorch fixture loader, a TypeScript Philox4x32-10, and closeness assertions with useful messages.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';

export function repoRoot(): string {
  return packageRoot;
}

// ---- deterministic random numbers (mulberry32 + Box-Muller) ----

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  f32(n: number, scale = 1, shift = 0): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * scale + shift;
    return a;
  }
}

// ---- assertions ----

export interface Tol {
  atol: number;
  rtol: number;
}

/** |a - e| <= atol + rtol * |e| elementwise; reports the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
      `(atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

// ---- PyTorch fixtures (scripts/make_kernel_fixtures.py) ----

export type FixtureTensor = Float32Array | Int32Array | Uint16Array;
export interface FixtureCase {
  params: Record<string, number | string | boolean>;
  t: Record<string, FixtureTensor>;
  shape: Record<string, number[]>;
}

export function loadTorchFixtures(): Record<string, FixtureCase> {
  const file = path.join(repoRoot(), 'fixtures', 'kernels', 'torch_kernels.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    cases: Record<string, { params: FixtureCase['params']; tensors: Record<string, { dtype: string; shape: number[]; b64: string }> }>;
  };
  const out: Record<string, FixtureCase> = {};
  for (const [name, c] of Object.entries(json.cases)) {
    const t: FixtureCase['t'] = {};
    const shape: FixtureCase['shape'] = {};
    for (const [tn, spec] of Object.entries(c.tensors)) {
      const bytes = Buffer.from(spec.b64, 'base64');
      const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      if (spec.dtype === 'f32') t[tn] = new Float32Array(buf);
      else if (spec.dtype === 'i32') t[tn] = new Int32Array(buf);
      else if (spec.dtype === 'u16') t[tn] = new Uint16Array(buf);
      else throw new Error(`${file}: case ${name}, tensor ${tn}: unknown dtype ${spec.dtype}`);
      shape[tn] = spec.shape;
    }
    out[name] = { params: c.params, t, shape };
  }
  return out;
}

// ---- float64 references ----

/** erf to ~1e-15: (2/sqrt(pi)) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!! (all terms positive: no cancellation). */
export function erf64(x: number): number {
  if (Math.abs(x) > 6) return Math.sign(x);
  let term = x, sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

export function gelu64(x: number, kind: 'erf' | 'tanh'): number {
  if (kind === 'erf') return 0.5 * x * (1 + erf64(x / Math.SQRT2));
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function dgelu64(x: number, kind: 'erf' | 'tanh'): number {
  if (kind === 'erf') return 0.5 * (1 + erf64(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  const c = Math.sqrt(2 / Math.PI);
  const t = Math.tanh(c * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
}

export interface GemmRefArgs {
  transA?: boolean; transB?: boolean; m: number; n: number; k: number; alpha?: number; beta?: number;
  a: ArrayLike<number>; b: ArrayLike<number>; c: ArrayLike<number>; lda?: number; ldb?: number; ldc?: number;
  aOff?: number; bOff?: number; cOff?: number;
}

/** Returns a copy of c with C = alpha op(A) op(B) + beta C applied at cOff (float64 sums; beta 0 ignores C). */
export function gemmRef(p: GemmRefArgs): Float64Array {
  const { m, n, k } = p;
  const lda = p.lda ?? (p.transA ? m : k), ldb = p.ldb ?? (p.transB ? k : n), ldc = p.ldc ?? n;
  const alpha = p.alpha ?? 1, beta = p.beta ?? 0;
  const ao = p.aOff ?? 0, bo = p.bOff ?? 0, co = p.cOff ?? 0;
  const out = Float64Array.from(p.c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) {
        const av = p.transA ? p.a[ao + q * lda + i] : p.a[ao + i * lda + q];
        const bv = p.transB ? p.b[bo + j * ldb + q] : p.b[bo + q * ldb + j];
        s += av * bv;
      }
      const idx = co + i * ldc + j;
      out[idx] = alpha * s + (beta === 0 ? 0 : beta * p.c[idx]);
    }
  }
  return out;
}

export function layerNormRef(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number,
  cols: number, eps: number): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * cols), mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m += x[r * cols + c];
    m /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[r * cols + c] - m) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) y[r * cols + c] = (x[r * cols + c] - m) * rs * gamma[c] + beta[c];
  }
  return { y, mean, rstd };
}

/** Masked, scaled softmax over rows of [B, NH, Sq, Sk]. */
export function softmaxRef(s: ArrayLike<number>, validLen: ArrayLike<number>, B: number, NH: number, Sq: number,
  Sk: number, scale: number): Float64Array {
  const out = new Float64Array(B * NH * Sq * Sk);
  for (let r = 0; r < B * NH * Sq; r++) {
    const vl = validLen[Math.floor(r / (NH * Sq))];
    let mx = -Infinity;
    for (let j = 0; j < vl; j++) mx = Math.max(mx, scale * s[r * Sk + j]);
    let sum = 0;
    for (let j = 0; j < vl; j++) sum += Math.exp(scale * s[r * Sk + j] - mx);
    for (let j = 0; j < Sk; j++) out[r * Sk + j] = j < vl ? Math.exp(scale * s[r * Sk + j] - mx) / sum : 0;
  }
  return out;
}

export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, B: number, C: number):
  { loss: number; probs: Float64Array } {
  const probs = new Float64Array(B * C);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, logits[b * C + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[b * C + c] - mx);
    for (let c = 0; c < C; c++) probs[b * C + c] = Math.exp(logits[b * C + c] - mx) / sum;
    loss += Math.log(sum) + mx - logits[b * C + labels[b]];
  }
  return { loss: loss / B, probs };
}

/** Round-to-nearest-even fp32 -> bf16 bits; NaN -> 0x7FC0. */
export function bf16Ref(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToNumber(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
}

// ---- Philox4x32-10 (Salmon et al. 2011), BigInt for the 32x32 -> 64 products ----

export function philox4x32_10(ctr: readonly number[], key: readonly number[]): number[] {
  const M0 = 0xd2511f53n, M1 = 0xcd9e8d57n, W0 = 0x9e3779b9, W1 = 0xbb67ae85;
  let [c0, c1, c2, c3] = ctr.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let r = 0; r < 10; r++) {
    const p0 = M0 * BigInt(c0), p1 = M1 * BigInt(c2);
    const hi0 = Number(p0 >> 32n), lo0 = Number(p0 & 0xffffffffn);
    const hi1 = Number(p1 >> 32n), lo1 = Number(p1 & 0xffffffffn);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** Element c of the dropout stream of `seed` (api.ts dropoutForward). */
export function philoxBits(seed: number, c: number): number {
  const block = Math.floor(c / 4);
  const key = [Number(BigInt(seed) & 0xffffffffn), Number(BigInt(seed) >> 32n)];
  const ctr = [Number(BigInt(block) & 0xffffffffn), Number(BigInt(block) >> 32n), 0, 0];
  return philox4x32_10(ctr, key)[c % 4];
}

export function keepRef(seed: number, c: number, p: number): boolean {
  return (philoxBits(seed, c) >>> 8) * 2 ** -24 >= p;
}

// ---- finite differences ----

/** d/dx_i of f at x by central differences in float64 around a float32 x (step h). */
export function centralDiff(x: Float32Array, i: number, h: number, f: (x: Float32Array) => number): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const hp = x[i] - x0;  // the step actually taken after fp32 rounding
  const fp = f(x);
  x[i] = x0 - h;
  const hm = x0 - x[i];
  const fm = f(x);
  x[i] = x0;
  return (fp - fm) / (hp + hm);
}

export function dot64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
