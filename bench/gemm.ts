// GEMM throughput for BERT-base training shapes (M = 4096 tokens), ours vs torch.mm, fp32 and bf16.
//
//   npm run bench:gemm [-- --threads N] [--no-torch] [--reps-seconds S] [--ghz G]
//
// For each Linear layer Y[M,N] = X[M,K] W[N,K]^T the three products of a training step are timed:
//   fwd  Y  = X W^T      (NT)
//   dX   dX = dY W       (NN)
//   dW   dW = dY^T X     (TN)
// plus the attention products per (batch, head) inside a fused [B*S, 3H] QKV buffer (strided batch), where the
// oneDNN "loop" and "4d" batch modes (BERTFIT_GEMM_BATCH) are compared. torch.mm runs in a child /usr/bin/python3
// with the same thread count. Peak: src/util/cpu-peak.ts (cores * GHz * 64 flop/cycle, fp32). Each figure is the
// best of repeated calls (see timeIt), for ours and torch alike.
import { spawnSync } from 'node:child_process';
import { torchEnv } from './common.js';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { native } from '../src/native/index.js';
import type { GemmParams } from '../src/native/index.js';
import { assumedCpuGhz, cpuPeakGflops } from '../src/util/cpu-peak.js';

interface Args { threads: number; torch: boolean; repsSeconds: number; ghz: number }

function parseArgs(argv: string[]): Args {
  const args: Args = { threads: native.info().threads, torch: true, repsSeconds: 0.6, ghz: assumedCpuGhz() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`bench/gemm: ${a} needs a positive number, got '${argv[i]}'`);
      return v;
    };
    if (a === '--threads') args.threads = Math.floor(num());
    else if (a === '--no-torch') args.torch = false;
    else if (a === '--reps-seconds') args.repsSeconds = num();
    else if (a === '--ghz') args.ghz = num();
    else throw new Error(`bench/gemm: unknown argument '${a}' (use --threads N, --no-torch, --reps-seconds S, --ghz G)`);
  }
  return args;
}

interface Case { layer: string; op: string; m: number; n: number; k: number; transA: boolean; transB: boolean }

const LAYERS: [string, number, number][] = [  // name, N (out features), K (in features)
  ['attn-out 768x768', 768, 768],
  ['qkv 2304x768', 2304, 768],
  ['ffn-up 3072x768', 3072, 768],
  ['ffn-down 768x3072', 768, 3072],
];
const M = 4096;

function cases(): Case[] {
  const out: Case[] = [];
  for (const [layer, n, k] of LAYERS) {
    out.push({ layer, op: 'fwd NT', m: M, n, k, transA: false, transB: true });
    out.push({ layer, op: 'dX NN', m: M, n: k, k: n, transA: false, transB: false });
    out.push({ layer, op: 'dW TN', m: n, n: k, k: M, transA: true, transB: false });
  }
  return out;
}

function randomF32(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function toBf16(x: Float32Array): Uint16Array {
  const h = new Uint16Array(x.length);
  native.f32ToBf16(x, h, x.length);
  return h;
}

/** Best (minimum) seconds per call after one warm-up call (which also builds and caches the oneDNN primitive).
 *  The minimum, not the median: the 2 cores are shared, and other processes only ever add time. */
function timeIt(fn: () => void, budget: number): number {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start) / 1000 < budget) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
    if (times.length >= 50) break;
  }
  return Math.min(...times);
}

function gflops(c: Case, sec: number): number {
  return (2 * c.m * c.n * c.k) / sec / 1e9;
}

function ours(c: Case, dtype: 'fp32' | 'bf16', budget: number): number {
  const aLen = c.m * c.k, bLen = c.k * c.n;
  const a32 = randomF32(aLen, 1), b32 = randomF32(bLen, 2);
  const a = dtype === 'bf16' ? toBf16(a32) : a32, b = dtype === 'bf16' ? toBf16(b32) : b32;
  const p: GemmParams = { transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, a, b, c: new Float32Array(c.m * c.n) };
  return gflops(c, timeIt(() => native.gemm(p), budget));
}

const TORCH_SCRIPT = `
import json, sys, time
try:
    import torch
except Exception as e:
    print(json.dumps({"error": "cannot import torch: %s" % e})); sys.exit(0)
req = json.load(sys.stdin)
torch.set_num_threads(req["threads"])
torch.manual_seed(0)
out = []
for c in req["cases"]:
    dt = torch.bfloat16 if c["dtype"] == "bf16" else torch.float32
    a = torch.rand(c["k"], c["m"]) if c["transA"] else torch.rand(c["m"], c["k"])
    b = torch.rand(c["n"], c["k"]) if c["transB"] else torch.rand(c["k"], c["n"])
    a, b = a.to(dt), b.to(dt)
    A = a.t() if c["transA"] else a
    B = b.t() if c["transB"] else b
    t0 = time.perf_counter(); torch.mm(A, B); first = time.perf_counter() - t0
    times = [first]
    # slow paths (Debian's reference BLAS for fp32) get a single timed call instead of minutes of repeats
    if first < 1.0:
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < req["budget"] and len(times) < 50):
            t0 = time.perf_counter(); torch.mm(A, B); times.append(time.perf_counter() - t0)
    out.append(2.0 * c["m"] * c["n"] * c["k"] / min(times) / 1e9)
print(json.dumps({"torch": torch.__version__, "gflops": out}))
`;

function torchGflops(list: (Case & { dtype: string })[], threads: number, budget: number): { version: string; gflops: number[] } | string {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return `${python} not found`;
  const r = spawnSync(python, ['-c', TORCH_SCRIPT], {
    input: JSON.stringify({ cases: list, threads, budget }), encoding: 'utf8', maxBuffer: 1 << 20,
    // torchEnv selects OpenBLAS's AVX-512 kernels, which Debian's OpenBLAS does not pick by itself on this CPU
    env: { ...torchEnv(threads), OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) return `python exited with ${r.status}: ${r.stderr.trim().split('\n').pop()}`;
  const res = JSON.parse(r.stdout) as { error?: string; torch?: string; gflops?: number[] };
  if (res.error) return res.error;
  return { version: res.torch!, gflops: res.gflops! };
}

function attention(budget: number): string[] {
  // BERT-base attention for 4096 tokens: B=32 sequences of S=128, NH=12 heads of D=64.
  const B = 32, S = 128, NH = 12, D = 64, H = NH * D, H3 = 3 * H;
  const qkv32 = randomF32(B * S * H3, 3), probs32 = randomF32(B * NH * S * S, 4);
  const rows: string[] = [];
  const flopQK = 2 * B * NH * S * S * D;
  for (const dtype of ['fp32', 'bf16'] as const) {
    const qkv = dtype === 'bf16' ? toBf16(qkv32) : qkv32, probs = dtype === 'bf16' ? toBf16(probs32) : probs32;
    const scores = new Float32Array(B * NH * S * S), ctx = new Float32Array(B * S * H);
    const qk: GemmParams = { transB: true, m: S, n: S, k: D, alpha: 0.125, a: qkv, b: qkv.subarray(H), c: scores, lda: H3, ldb: H3,
      batchOuter: B, batchInner: NH, strideAOuter: S * H3, strideAInner: D, strideBOuter: S * H3, strideBInner: D,
      strideCOuter: NH * S * S, strideCInner: S * S };
    const pv: GemmParams = { m: S, n: D, k: S, a: probs, b: qkv.subarray(2 * H), c: ctx, lda: S, ldb: H3, ldc: H,
      batchOuter: B, batchInner: NH, strideAOuter: NH * S * S, strideAInner: S * S, strideBOuter: S * H3, strideBInner: D,
      strideCOuter: S * H, strideCInner: D };
    const modes: [string, string, string][] = [['builtin', '', 'builtin']];
    if (native.info().onednnCompiled) modes.unshift(['onednn', 'loop', 'onednn loop'], ['onednn', '4d', 'onednn 4d']);
    for (const [backend, mode, label] of modes) {
      native.setGemmBackend(backend as 'onednn' | 'builtin');
      process.env.BERTFIT_GEMM_BATCH = mode;
      const tqk = timeIt(() => native.gemm(qk), budget), tpv = timeIt(() => native.gemm(pv), budget);
      rows.push(`| ${dtype} | ${label} | ${(tqk * 1e3).toFixed(2)} | ${(flopQK / tqk / 1e9).toFixed(1)} | ${(tpv * 1e3).toFixed(2)} | ${(flopQK / tpv / 1e9).toFixed(1)} |`);
    }
    delete process.env.BERTFIT_GEMM_BATCH;
  }
  return rows;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  native.setThreads(args.threads);
  const info = native.info();
  const peak = cpuPeakGflops('fp32', args.threads, args.ghz);
  const fmt = (x: number | undefined, d = 1) => (x === undefined ? 'n/a' : x.toFixed(d));
  console.log(`# GEMM benchmark (M = ${M} tokens, BERT-base)\n`);
  console.log(`addon: backend=${info.backend} version=${info.version} isa=${info.isa || '-'} threads=${args.threads}`);
  console.log(`cpu: ${os.cpus()[0]?.model ?? '?'}; load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`peak fp32 = ${peak.assumption} = ${peak.gflops.toFixed(1)} GFLOP/s\n`);

  const list = cases();
  const defaultBackend = info.backend;
  const res = list.map((c) => {
    native.setGemmBackend(defaultBackend);
    const f32 = ours(c, 'fp32', args.repsSeconds);
    const b16 = ours(c, 'bf16', args.repsSeconds);
    native.setGemmBackend('builtin');
    const builtin = ours(c, 'fp32', args.repsSeconds);
    native.setGemmBackend(defaultBackend);
    return { f32, b16, builtin };
  });

  let torch: { version: string; gflops: number[] } | string = 'skipped (--no-torch)';
  if (args.torch) {
    const req = [...list.map((c) => ({ ...c, dtype: 'fp32' })), ...list.map((c) => ({ ...c, dtype: 'bf16' }))];
    torch = torchGflops(req, args.threads, args.repsSeconds);
  }
  const tf = (i: number, bf: boolean) => (typeof torch === 'string' ? undefined : torch.gflops[i + (bf ? list.length : 0)]);
  if (typeof torch === 'string') console.log(`notice: torch column skipped: ${torch}\n`);
  else console.log(`torch ${torch.version} (torch.mm, ${args.threads} threads)\n`);

  console.log(`| layer | op | ${defaultBackend} fp32 GFLOP/s | % peak | torch fp32 | ours/torch | ${defaultBackend} bf16 GFLOP/s | bf16/fp32 | torch bf16 | builtin fp32 |`);
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  list.forEach((c, i) => {
    const r = res[i], t32 = tf(i, false), t16 = tf(i, true);
    console.log(`| ${c.layer} | ${c.op} ${c.m}x${c.n}x${c.k} | ${fmt(r.f32)} | ${fmt((100 * r.f32) / peak.gflops, 0)}% | ${fmt(t32)} | ` +
      `${t32 ? fmt(r.f32 / t32, 2) + 'x' : 'n/a'} | ${fmt(r.b16)} | ${fmt(r.b16 / r.f32, 2)}x | ${fmt(t16)} | ${fmt(r.builtin)} |`);
  });
  const geo = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  const g32 = geo(res.map((r) => r.f32)), g16 = geo(res.map((r) => r.b16));
  console.log(`\ngeometric mean: ${defaultBackend} fp32 ${g32.toFixed(1)} GFLOP/s (${((100 * g32) / peak.gflops).toFixed(0)}% of peak), ` +
    `bf16 ${g16.toFixed(1)} GFLOP/s (${(g16 / g32).toFixed(2)}x fp32), builtin fp32 ${geo(res.map((r) => r.builtin)).toFixed(1)} GFLOP/s`);
  if (typeof torch !== 'string') {
    const t32 = geo(list.map((_, i) => tf(i, false)!)), t16 = geo(list.map((_, i) => tf(i, true)!));
    console.log(`torch.mm geometric mean: fp32 ${t32.toFixed(1)} GFLOP/s (ours ${(g32 / t32).toFixed(2)}x), bf16 ${t16.toFixed(1)} GFLOP/s (ours ${(g16 / t16).toFixed(2)}x)`);
  }

  console.log(`\n## attention, strided batch over ${32 * 12} (batch, head) pairs in a fused QKV buffer (S=128, D=64)\n`);
  console.log('| dtype | backend / batch mode | QK^T ms | GFLOP/s | PV ms | GFLOP/s |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const row of attention(args.repsSeconds)) console.log(row);
  native.setGemmBackend(defaultBackend);
  console.log(`\nload average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main();
