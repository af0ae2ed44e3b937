// info(), threads and the environment knobs read at load time (BERTFIT_THREADS, BERTFIT_GEMM), the latter in
// child processes since they only apply when the addon is first loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { native } from '../src/native/index.js';
import { repoRoot } from './native-ref.js';

const indexUrl = pathToFileURL(path.join(repoRoot(), 'dist', 'src', 'native', 'index.js')).href;

/** Loads the addon in a fresh node with extra env vars; returns the JSON it printed or its stderr. */
function child(env: Record<string, string>, body: string): { ok: boolean; out: unknown; stderr: string } {
  const script = `import { native } from ${JSON.stringify(indexUrl)};\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, BERTFIT_GEMM: '', BERTFIT_THREADS: '', ...env }, encoding: 'utf8', timeout: 30_000,
  });
  return { ok: r.status === 0, out: r.status === 0 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

test('info() describes the build, backend, threads and CPU', () => {
  const info = native.info();
  assert.ok(info.backend === 'onednn' || info.backend === 'builtin');
  assert.equal(typeof info.onednnCompiled, 'boolean');
  assert.ok(Number.isInteger(info.threads) && info.threads >= 1);
  assert.ok(Array.isArray(info.cpuFeatures) && info.cpuFeatures.every((f) => typeof f === 'string'));
  if (info.onednnCompiled) {
    native.setGemmBackend('onednn');
    assert.match(native.info().version, /^\d+\.\d+\.\d+$/);
    assert.notEqual(native.info().isa, '');
  } else {
    assert.equal(info.backend, 'builtin');
    assert.equal(info.version, 'builtin');
    assert.equal(info.isa, '');
  }
});

test('cpuFeatures agree with the kernel\'s /proc/cpuinfo flags', { skip: !existsSync('/proc/cpuinfo') && 'no /proc/cpuinfo' }, () => {
  const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
  if (!line) return;
  const flags = new Set(line.split(':')[1].trim().split(/\s+/));
  const ours = new Set(native.info().cpuFeatures);
  for (const f of ['avx2', 'avx512f', 'avx512bw', 'avx512_bf16', 'avx512_vnni', 'amx_bf16', 'amx_tile', 'fma']) {
    assert.equal(ours.has(f), flags.has(f), `cpuid says ${f}=${ours.has(f)}, /proc/cpuinfo says ${flags.has(f)}`);
  }
});

test('setThreads changes info().threads', () => {
  const before = native.info().threads;
  native.setThreads(1);
  assert.equal(native.info().threads, 1);
  native.setThreads(3);
  assert.equal(native.info().threads, 3);
  native.setThreads(before);
});

test('BERTFIT_THREADS sets the default thread count; a bad value fails at load with its name', () => {
  const r = child({ BERTFIT_THREADS: '1' }, 'console.log(JSON.stringify(native.info().threads));');
  assert.ok(r.ok, r.stderr);
  assert.equal(r.out, 1);
  const bad = child({ BERTFIT_THREADS: 'two' }, 'console.log("1");');
  assert.equal(bad.ok, false);
  assert.match(bad.stderr, /BERTFIT_THREADS must be an integer in \[1, 1024\], got 'two'/);
});

test('BERTFIT_GEMM=builtin selects the built-in GEMM at load; results equal the in-process builtin', () => {
  const body = `
    const m = 70, n = 45, k = 33, a = new Float32Array(m * k), b = new Float32Array(k * n), c = new Float32Array(m * n);
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i);
    for (let i = 0; i < b.length; i++) b[i] = Math.cos(i);
    native.gemm({ m, n, k, a, b, c });
    console.log(JSON.stringify({ backend: native.info().backend, c: Array.from(c) }));`;
  const r = child({ BERTFIT_GEMM: 'builtin' }, body);
  assert.ok(r.ok, r.stderr);
  const out = r.out as { backend: string; c: number[] };
  assert.equal(out.backend, 'builtin');
  const m = 70, n = 45, k = 33, a = new Float32Array(m * k), b = new Float32Array(k * n), c = new Float32Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i);
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i);
  const before = native.info().backend;
  native.setGemmBackend('builtin');
  native.gemm({ m, n, k, a, b, c });
  native.setGemmBackend(before);
  assert.deepEqual(out.c, Array.from(c));
  const bad = child({ BERTFIT_GEMM: 'mkl' }, 'console.log("1");');
  assert.equal(bad.ok, false);
  assert.match(bad.stderr, /BERTFIT_GEMM must be 'onednn' or 'builtin', got 'mkl'/);
  if (native.info().onednnCompiled) {
    const d = child({}, 'console.log(JSON.stringify(native.info().backend));');
    assert.ok(d.ok, d.stderr);
    assert.equal(d.out, 'onednn', 'oneDNN is the default when compiled in');
  }
});

test('oneDNN: primitives are created once per shape and bf16 runs on AMX when the CPU has it', { skip: !native.info().onednnCompiled && 'no oneDNN' }, () => {
  const body = `
    const m = 64, n = 48, k = 32, c = new Float32Array(m * n);
    const a16 = new Uint16Array(m * k).fill(0x3f80), b16 = new Uint16Array(k * n).fill(0x3f80);
    const a32 = new Float32Array(m * k).fill(1), b32 = new Float32Array(k * n).fill(1);
    for (let i = 0; i < 4; i++) { native.gemm({ m, n, k, a: a16, b: b16, c }); native.gemm({ m, n, k, a: a32, b: b32, c }); }
    native.gemm({ m, n, k, a: a32, b: b32, c, beta: 1 });  // a different post-op: one more primitive
    console.log(JSON.stringify(c[0]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { native } from ${JSON.stringify(indexUrl)};\n${body}`], {
    env: { ...process.env, BERTFIT_GEMM: '', ONEDNN_VERBOSE: '2' }, encoding: 'utf8', timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('onednn_verbose,'));
  const creates = lines.filter((l) => l.startsWith('onednn_verbose,create'));
  const execs = lines.filter((l) => l.startsWith('onednn_verbose,exec'));
  assert.equal(execs.length, 9, lines.join('\n'));
  assert.equal(creates.length, 3, `expected 3 primitive creations (bf16, fp32, fp32+sum), got:\n${creates.join('\n')}`);
  if (native.info().cpuFeatures.includes('amx_bf16')) {
    const bf16 = execs.filter((l) => l.includes('src_bf16'));
    assert.ok(bf16.length === 4 && bf16.every((l) => /amx/.test(l)), `bf16 GEMM does not use AMX:\n${bf16.join('\n')}`);
  }
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!), 64);  // beta = 1 added 32 to the previous 32
});
