// Shared helpers for fine-tuning tests: a synthetic sentence-pair task learnable from scratch, temp dirs, the CLI.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';

export const repoRoot = packageRoot;

export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export function tempDir(prefix = 'bertfit-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A writer of numbered files in `dir`: write(ext, content) creates f<N>.<ext> there and returns its path. */
export function tempFileWriter(dir: string): (ext: string, content: string | Buffer) => string {
  let fileNo = 0;
  return (ext, content) => {
    const file = path.join(dir, `f${fileNo++}.${ext}`);
    writeFileSync(file, content);
    return file;
  };
}

/** A small seeded PRNG (mulberry32) so the synthetic data is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A small word set: each word is seen often, so a from-scratch model learns to match words across the segments.
const WORDS = 'apple river stone cloud green music paper window garden silver market winter'.split(' ');

/**
 * "Is b a word-shuffled copy of a?" — label 1: b is a permutation of a's words; label 0: b has none of a's words. Learnable from scratch by attention between the segments.
 */
export function shuffledCopyTask(n: number, seed: number): Array<{ text_a: string; text_b: string; label: string }> {
  const r = prng(seed);
  const pick = () => WORDS[Math.floor(r() * WORDS.length)]!;
  const shuffle = <T>(xs: T[]) => { for (let i = xs.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [xs[i], xs[j]] = [xs[j]!, xs[i]!]; } return xs; };
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(r() * 3);
    const a = Array.from({ length: len }, pick);
    const positive = r() < 0.5;
    let b: string[];
    if (positive) b = shuffle([...a]);
    else {
      // disjoint words: nothing of a appears in b
      const used = new Set(a);
      b = [];
      while (b.length < len) { const w = pick(); if (!used.has(w)) b.push(w); }
    }
    out.push({ text_a: a.join(' '), text_b: b.join(' '), label: positive ? '1' : '0' });
  }
  return out;
}

export function writeJsonl(file: string, rows: readonly object[]): string {
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** Runs the bertfit CLI synchronously. */
export function runCli(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', ...env }, timeout: 300_000 });
}

export { spawn };
