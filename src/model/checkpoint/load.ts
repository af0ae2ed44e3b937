// Loads a Hugging Face-layout BERT checkpoint directory (config.json, vocab.txt, model.safetensors or
// pytorch_model.bin, optional tokenizer_config.json) into canonical float32 tensors checked against the config.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { recoverReplacedDir } from '../../util/atomic.js';
import { formatBytes } from '../../util/memory.js';
import { checkVocabSize } from '../../tokenizer/vocab.js';
import { MAX_CONFIG_BYTES, parameterCount, readConfig, type BertConfig } from '../config.js';
import { CheckpointError } from './errors.js';
import { assertFinite } from './finite.js';
import { classifyName, expectedTensors } from './names.js';
import { readSafetensors } from './safetensors.js';
import { isFloatDType, type TensorEntry } from './tensor.js';
import { readTorchCheckpoint, type WeightLimits } from './torch.js';

export interface LoadedTensor {
  shape: number[];
  data: Float32Array;
}

export interface LoadedCheckpoint {
  dir: string;
  config: BertConfig;
  /** canonical name -> row-major float32 data, in expectedTensors() order, heads listed in missingHeads excluded */
  tensors: Map<string, LoadedTensor>;
  /** names of pooler/classifier tensors the checkpoint lacks; a head is listed whole or not at all */
  missingHeads: string[];
  vocabFile: string;
  doLowerCase: boolean;
  /** what the loader dropped, renamed or inferred, one line each, for the caller to print */
  notices: string[];
  format: 'safetensors' | 'pytorch';
}

/**
 * Reads the checkpoint in `dir`, preferring model.safetensors over pytorch_model.bin.
 *
 * Throws CheckpointError (or ConfigError for config.json) naming the file and tensor when a required tensor is
 * missing, has the wrong shape or an integer dtype, holds NaN or infinite values, or when the files are malformed.
 * config.json is read first and bounds what the weights file may make the reader allocate (weightLimits).
 */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const recovered = recoverReplacedDir(dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CheckpointError(`checkpoint directory ${dir} does not exist`);
  const config = readConfig(path.join(dir, 'config.json'));
  const notices: string[] = recovered ? [recovered] : [];

  const st = path.join(dir, 'model.safetensors');
  const bin = path.join(dir, 'pytorch_model.bin');
  let weightsFile: string;
  let format: LoadedCheckpoint['format'];
  let raw: Map<string, TensorEntry>;
  const limits = weightLimits(config);
  if (existsSync(st)) {
    checkFileSize(st, limits, dir);
    [weightsFile, format, raw] = [st, 'safetensors', readSafetensors(st).tensors];
  } else if (existsSync(bin)) {
    checkFileSize(bin, limits, dir);
    [weightsFile, format, raw] = [bin, 'pytorch', readTorchCheckpoint(bin, limits)];
  } else {
    const sharded = ['model.safetensors.index.json', 'pytorch_model.bin.index.json'].some((f) => existsSync(path.join(dir, f)));
    throw new CheckpointError(`${dir}: no model.safetensors or pytorch_model.bin` +
      (sharded ? ' (sharded checkpoints are not supported)' : ''));
  }

  const found = canonicalise(raw, weightsFile, notices);
  const tensors = new Map<string, LoadedTensor>();
  const missingHeads: string[] = [];
  const expected = expectedTensors(config);
  for (const head of ['pooler', 'classifier'] as const) {
    const names = expected.filter((e) => e.head === head).map((e) => e.name);
    if (names.some((n) => !found.has(n))) {
      missingHeads.push(...names);
      notices.push(`${weightsFile}: no ${head} weights (${names.filter((n) => !found.has(n)).join(', ')} missing); ` +
        'it will be initialised fresh');
    }
  }
  for (const e of expected) {
    if (missingHeads.includes(e.name)) continue;
    const t = found.get(e.name);
    if (!t) {
      throw new CheckpointError(`${weightsFile}: tensor ${e.name} is missing (expected shape [${e.shape}] from ` +
        `${path.join(dir, 'config.json')})`);
    }
    const what = `${weightsFile}: tensor ${e.name}` + (t.rawName !== e.name ? ` (stored as ${t.rawName})` : '');
    if (t.entry.shape.length !== e.shape.length || t.entry.shape.some((d, i) => d !== e.shape[i])) {
      throw new CheckpointError(`${what}: expected shape [${e.shape}] (from config.json), found [${t.entry.shape}]`);
    }
    if (!isFloatDType(t.entry.dtype)) throw new CheckpointError(`${what}: dtype ${t.entry.dtype} is not a floating-point type`);
    const data = t.entry.toFloat32();
    assertFinite(data, `${what}`);
    tensors.set(e.name, { shape: e.shape.slice(), data });
  }
  const known = new Set(expected.map((e) => e.name));
  const extra = [...found.keys()].filter((n) => !known.has(n));
  if (extra.length) {
    throw new CheckpointError(`${weightsFile}: tensor ${found.get(extra[0])!.rawName} is not part of the model that ` +
      `config.json describes (${config.num_hidden_layers} layers)` + (extra.length > 1 ? `, nor are ${extra.length - 1} more` : ''));
  }

  const vocabFile = path.join(dir, 'vocab.txt');
  if (!existsSync(vocabFile)) throw new CheckpointError(`${dir}: no vocab.txt (the WordPiece vocabulary is required)`);
  checkVocabSize(vocabFile);
  const doLowerCase = readCasing(dir, vocabFile, notices);
  return { dir, config, tensors, missingHeads, vocabFile, doLowerCase, notices, format };
}

/**
 * What the weights may occupy: every parameter as float64 (the widest float dtype), twice over for what a checkpoint
 * may carry besides them (a pre-training head holds another vocab x hidden matrix), plus 16 MiB for buffers and
 * small extras. Anything larger is not this config's model, or is hostile.
 */
function weightLimits(config: BertConfig): WeightLimits {
  return { maxStorageBytes: 2 * 8 * parameterCount(config) + (16 << 20) };
}

/** Refuses, before reading it, a weights file far bigger than the config's model can be. */
function checkFileSize(file: string, limits: WeightLimits, dir: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read: ${(e as Error).message}`);
  }
  // Headers and the pickle add ~100 bytes per tensor; 64 MiB leaves room for any real one.
  const max = limits.maxStorageBytes + (64 << 20);
  if (size > max) {
    throw new CheckpointError(`${file}: ${formatBytes(size)} is more than the ${formatBytes(max)} that the model ` +
      `${path.join(dir, 'config.json')} describes can occupy; the weights and config.json do not belong together`);
  }
}

/** Renames to canonical names, dropping pre-training heads and buffers; notices say what was dropped. */
function canonicalise(raw: Map<string, TensorEntry>, file: string, notices: string[]):
  Map<string, { rawName: string; entry: TensorEntry }> {
  const out = new Map<string, { rawName: string; entry: TensorEntry }>();
  const dropped = { heads: 0, buffers: [] as string[], unexpected: [] as string[], renamed: 0 };
  for (const [rawName, entry] of raw) {
    const c = classifyName(rawName);
    if (c.kind === 'pretraining-head') dropped.heads++;
    else if (c.kind === 'buffer') dropped.buffers.push(rawName);
    else if (c.kind === 'unexpected') dropped.unexpected.push(rawName);
    else {
      const prev = out.get(c.name);
      if (prev) throw new CheckpointError(`${file}: tensors ${prev.rawName} and ${rawName} both map to ${c.name}`);
      if (c.renamed) dropped.renamed++;
      out.set(c.name, { rawName, entry });
    }
  }
  if (dropped.heads) notices.push(`${file}: dropped ${dropped.heads} pre-training head tensors (cls.*)`);
  if (dropped.buffers.length) notices.push(`${file}: skipped buffers ${dropped.buffers.join(', ')}`);
  if (dropped.renamed) notices.push(`${file}: read ${dropped.renamed} LayerNorm gamma/beta tensors as weight/bias`);
  if (dropped.unexpected.length) {
    const shown = dropped.unexpected.slice(0, 5).join(', ');
    notices.push(`${file}: ignored ${dropped.unexpected.length} tensors that are not part of BERT: ${shown}` +
      (dropped.unexpected.length > 5 ? ', ...' : ''));
  }
  return out;
}

/** tokenizer_config.json's do_lower_case, else a guess from the directory name, else from the vocabulary. */
function readCasing(dir: string, vocabFile: string, notices: string[]): boolean {
  const tc = path.join(dir, 'tokenizer_config.json');
  if (existsSync(tc)) {
    // ~1 KB in practice (a few hundred KB with many added tokens); bigger is not a tokenizer config.
    const size = statSync(tc).size;
    if (size > MAX_CONFIG_BYTES) throw new CheckpointError(`${tc}: ${size} bytes is more than the ${MAX_CONFIG_BYTES} a tokenizer config can need`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(tc, 'utf8'));
    } catch (e) {
      throw new CheckpointError(`${tc}: not valid JSON: ${(e as Error).message}`);
    }
    const v = (parsed as Record<string, unknown> | null)?.do_lower_case;
    if (typeof v === 'boolean') return v;
    if (v !== undefined) throw new CheckpointError(`${tc}: field "do_lower_case" must be true or false, got ${JSON.stringify(v)}`);
  }
  const base = path.basename(path.resolve(dir)).toLowerCase();
  if (/(^|[^a-z])uncased($|[^a-z])/.test(base)) return note(true, `directory name "${base}" says uncased`);
  if (/(^|[^a-z])cased($|[^a-z])/.test(base)) return note(false, `directory name "${base}" says cased`);
  // A cased vocabulary has capitalised word pieces ("The", "##A"); special tokens like [CLS] do not count.
  const capital = readFileSync(vocabFile, 'utf8').split('\n').some((t) => /^(##)?\p{Lu}/u.test(t));
  return note(!capital, capital ? 'vocab.txt has capitalised tokens' : 'vocab.txt has no capitalised tokens');

  function note(lower: boolean, why: string): boolean {
    notices.push(`${dir}: no do_lower_case in tokenizer_config.json; ${why}, so lower-casing is ${lower ? 'on' : 'off'}`);
    return lower;
  }
}
