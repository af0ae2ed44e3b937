// Helpers shared by the benchmark scripts: running bertfit / PyTorch as child processes, reading their JSON lines,
// and replacing a marked section of bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, sharedDir } from '../src/util/paths.js';

export const repoRoot = packageRoot;

export const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
export const torchBench = path.join(sharedDir, 'bench', 'torch_bert.py');
export const systemPython = process.env.BERTFIT_SYSTEM_PYTHON || '/usr/bin/python3';

/**
 * Environment for PyTorch runs: Debian's OpenBLAS does not recognise recent Xeons and falls back to its generic
 * (Prescott) kernels, ~20x slower than its AVX-512 ones; give PyTorch its best BLAS, as a fair race needs.
 */
export function torchEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NT: String(threads) };
  const flags = readFileSync('/proc/cpuinfo', 'utf8');
  if (!env.OPENBLAS_CORETYPE && /\bavx512f\b/.test(flags)) env.OPENBLAS_CORETYPE = 'SkylakeX';
  return env;
}

export function haveTorch(): boolean {
  return spawnSync(systemPython, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** Runs a command; returns its last JSON line (every benchmarked command ends with one), its other stdout lines and its stderr lines. */
export function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { json: Record<string, number | string>; lines: string[]; errLines: string[] } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  const lines = r.stdout.split('\n').filter((l) => l && !l.startsWith('{'));
  process.stderr.write(lines.map((l) => `  | ${l}\n`).join(''));
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${cmd} ${args.join(' ')} printed no JSON line`);
  return { json: JSON.parse(line), lines, errLines: r.stderr.split('\n').filter(Boolean) };
}

/** Runs a command and returns its last JSON line. */
export function lastJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, number | string> {
  return runJson(cmd, args, env).json;
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** Replaces the text between <!-- NAME:begin --> and <!-- NAME:end --> in bench/RESULTS.md (appends the block if absent). */
export function updateResults(name: string, body: string): void {
  const file = path.join(repoRoot, 'bench', 'RESULTS.md');
  const begin = `<!-- ${name}:begin -->`, end = `<!-- ${name}:end -->`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const block = `${begin}\n${body.trim()}\n${end}`;
  const i = text.indexOf(begin), j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}
