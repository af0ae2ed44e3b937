// Shared by the model tests: repository paths, the PyTorch reference fixtures, small configs and comparisons.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../src/model/checkpoint/index.js';
import { type BertConfig, parseConfig } from '../src/model/config.js';
import type { Batch } from '../src/data/types.js';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const repoRoot = findRepoRoot();
export const fixturesDir = path.join(repoRoot, 'fixtures', 'model');
/** Debian's interpreter (python3-torch); BERTFIT_SYSTEM_PYTHON overrides it, as for scripts/hf_venv.sh. */
export const SYSTEM_PYTHON = process.env.BERTFIT_SYSTEM_PYTHON || '/usr/bin/python3';

/** What scripts/make_model_fixtures.py recorded from PyTorch for one batch. */
export interface Expected {
  batch: Batch;
  labels: Int32Array;
  /** regression / multi-label fixtures: the targets [B, C] */
  targets?: Float32Array;
  logits: Float32Array;
  loss: number;
  /** canonical parameter name -> d(loss)/d(param) */
  grads: Map<string, Float32Array>;
}

export function readExpected(file: string): Expected {
  const t = readSafetensors(file).tensors;
  const get = (name: string): { shape: number[]; data: Float32Array } => {
    const e = t.get(name);
    if (!e) throw new Error(`${file}: no tensor ${name}`);
    return { shape: e.shape, data: e.toFloat32() };
  };
  const ids = get('input_ids');
  const [B, S] = ids.shape;
  const labels = Int32Array.from(get('labels').data);
  const batch: Batch = {
    size: B, seqLen: S,
    inputIds: Int32Array.from(ids.data), tokenTypeIds: Int32Array.from(get('token_type_ids').data),
    validLength: Int32Array.from(get('valid_length').data), labels, indices: Int32Array.from({ length: B }, (_, i) => i),
  };
  const grads = new Map<string, Float32Array>();
  for (const name of t.keys()) if (name.startsWith('grad.')) grads.set(name.slice(5), get(name).data);
  const targets = t.has('targets') ? get('targets').data : undefined;
  if (targets) batch.targets = targets;
  return { batch, labels, targets, logits: get('logits').data, loss: get('loss').data[0], grads };
}

/** True when SYSTEM_PYTHON can import torch (the reference for the BERT-Tiny parity test). */
export function haveTorch(): boolean {
  if (!existsSync(SYSTEM_PYTHON)) return false;
  return spawnSync(SYSTEM_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/**
 * Directory holding the fixtures of `config` made by scripts/make_model_fixtures.py, generated on first use into
 * .cache/model-fixtures/<hash of the scripts> (so a changed script regenerates them).
 */
export function generatedFixtures(config: string): string {
  const scripts = ['make_model_fixtures.py', 'hf_io.py'].map((f) => readFileSync(path.join(repoRoot, 'scripts', f)));
  const hash = createHash('sha256').update(Buffer.concat(scripts)).digest('hex').slice(0, 16);
  const dir = path.join(repoRoot, '.cache', 'model-fixtures', `${config}-${hash}`);
  if (existsSync(path.join(dir, `${config}-expected.safetensors`))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  const r = spawnSync(SYSTEM_PYTHON, [path.join(repoRoot, 'scripts', 'make_model_fixtures.py'), config, tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make_model_fixtures.py ${config} failed (${r.status}):\n${r.stderr}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** A small BERT config for tests (fields as in config.json). */
export function testConfig(overrides: Record<string, unknown> = {}): BertConfig {
  return parseConfig({
    vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
    max_position_embeddings: 16, num_labels: 3, ...overrides,
  }, 'test config');
}

/** A padded batch of random ids: rows of the given lengths, [CLS]=2 first, token type 1 on the second half. */
export function randomBatch(lengths: number[], seqLen: number, vocab: number, numLabels: number, seed = 1): Batch {
  let s = seed >>> 0;
  const rand = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 4294967296) * n);
  };
  const B = lengths.length;
  const inputIds = new Int32Array(B * seqLen);
  const tokenTypeIds = new Int32Array(B * seqLen);
  lengths.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      inputIds[b * seqLen + i] = i === 0 ? 2 : 3 + rand(vocab - 3);
      tokenTypeIds[b * seqLen + i] = i >= n / 2 ? 1 : 0;
    }
  });
  return {
    size: B, seqLen, inputIds, tokenTypeIds, validLength: Int32Array.from(lengths),
    labels: Int32Array.from(lengths, () => rand(numLabels)), indices: Int32Array.from(lengths, (_, i) => i),
  };
}

/** Row b of a batch alone, unpadded (seqLen = its valid length). */
export function rowBatch(batch: Batch, b: number): Batch {
  const n = batch.validLength[b];
  const from = b * batch.seqLen;
  return {
    size: 1, seqLen: n, inputIds: batch.inputIds.slice(from, from + n), tokenTypeIds: batch.tokenTypeIds.slice(from, from + n),
    validLength: Int32Array.of(n), labels: batch.labels.slice(b, b + 1), indices: Int32Array.of(0),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** ||a - b|| / ||b|| (b the reference). */
export function relNormError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
