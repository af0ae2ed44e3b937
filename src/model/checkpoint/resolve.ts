// Turns a model spec from the command line into a local checkpoint directory: a directory path, an alias that
// `bertfit pull` installs, or a Hugging Face id fetched once into the cache. `random:*` specs never get here.
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { verifyInstalled } from '../../hub/installed.js';
import { cacheRoot, findPretrained } from '../../hub/registry.js';
import { replaceDirAtomicAsync } from '../../util/atomic.js';
import { CheckpointError } from './errors.js';

/** Where a Hugging Face id is cached: $BERTFIT_CACHE/hub/<org>/<name>. */
export function hubDir(id: string): string {
  return path.join(cacheRoot(), 'hub', ...id.split('/'));
}

// HF repo ids: "name" or "org/name" of letters, digits, '-', '_', '.', not starting with '.' or '-'.
const HF_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export interface ResolveOptions {
  /** per-request inactivity limit in milliseconds (default 5000) */
  timeoutMs?: number;
}

/**
 * Resolves `spec` to a local directory holding config.json, vocab.txt and the weights.
 *
 * Args:
 *   spec: an existing directory; a registry model of src/hub (name or alias); or a Hugging Face id ("bert-base-uncased",
 *         "org/name"), served from $BERTFIT_CACHE/hub/<id> or downloaded there from $HF_ENDPOINT
 *         (default https://huggingface.co).
 * Returns:
 *   the directory path.
 */
export async function resolveModel(spec: string, opts: ResolveOptions = {}): Promise<string> {
  if (existsSync(spec)) {
    if (statSync(spec).isDirectory()) return spec;
    throw new CheckpointError(`model ${spec} is a file; pass the checkpoint directory that contains it`);
  }
  if (/^[./~]/.test(spec) || path.isAbsolute(spec)) throw new CheckpointError(`model directory ${spec} does not exist`);
  // Registry models (`bertfit pull`) are checked against their manifest's hashes; a missing install says how to pull.
  if (findPretrained(spec)) return (await verifyInstalled(spec)).dir;
  if (!HF_ID.test(spec) || spec.includes('..')) {
    throw new CheckpointError(`model "${spec}" is neither a directory, a model \`bertfit pull\` knows, ` +
      'nor a Hugging Face id like org/name');
  }
  const dir = hubDir(spec);
  // Downloads land in the cache by one directory rename, so a config.json there means a complete download.
  if (existsSync(path.join(dir, 'config.json'))) return dir;
  await downloadHub(spec, dir, opts.timeoutMs ?? 5000);
  return dir;
}

class HttpStatusError extends Error {
  constructor(readonly url: string, readonly status: number) {
    super(`HTTP ${status} for ${url}`);
  }
}

async function downloadHub(id: string, dir: string, timeoutMs: number): Promise<void> {
  const endpoint = (process.env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const url = (file: string): string => `${endpoint}/${id}/resolve/main/${file}`;
  try {
    await replaceDirAtomicAsync(dir, async (tmp) => {
      await fetchTo(url('config.json'), path.join(tmp, 'config.json'), timeoutMs);
      await fetchTo(url('vocab.txt'), path.join(tmp, 'vocab.txt'), timeoutMs);
      await fetchTo(url('tokenizer_config.json'), path.join(tmp, 'tokenizer_config.json'), timeoutMs, true);
      const gotSt = await fetchTo(url('model.safetensors'), path.join(tmp, 'model.safetensors'), timeoutMs, true);
      if (!gotSt) await fetchTo(url('pytorch_model.bin'), path.join(tmp, 'pytorch_model.bin'), timeoutMs);
    });
  } catch (e) {
    if (e instanceof HttpStatusError) {
      const why = e.status === 401 || e.status === 403 ? ' (gated or private repositories are not supported)' : '';
      throw new CheckpointError(`cannot download ${id}: ${e.message}${why}`);
    }
    // Errors of the local filesystem carry their syscall (raw node:fs errors) or an errno code (util/fs-errors'
    // FileError, which names the path); network ones (undici's "fetch failed", our timeouts) have neither.
    const local = e as NodeJS.ErrnoException;
    if (local.syscall || (typeof local.code === 'string' && /^E[A-Z]+$/.test(local.code))) {
      throw new CheckpointError(`cannot download ${id} into ${dir}: ${local.message}`);
    }
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new CheckpointError(`cannot download ${id} from ${new URL(endpoint).host} (offline?) and it is not in the ` +
      `cache ${dir}; pass a local directory or random:<shape> (${cause ?? (e as Error).message})`);
  }
}

/**
 * Streams `url` into `file` (fsynced), aborting when no data arrives for `timeoutMs`.
 * Returns false on a 404 when `optional`; other HTTP errors throw HttpStatusError.
 */
async function fetchTo(url: string, file: string, timeoutMs: number, optional = false): Promise<boolean> {
  const ctl = new AbortController();
  let timer = setTimeout(() => ctl.abort(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
  const poke = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new Error(`stalled for ${timeoutMs} ms`)), timeoutMs);
  };
  try {
    const res = await fetch(url, { signal: ctl.signal, redirect: 'follow' });
    if (res.status === 404 && optional) {
      await res.body?.cancel();
      return false;
    }
    if (!res.ok || !res.body) throw new HttpStatusError(url, res.status);
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', poke);
    const out = createWriteStream(file);
    await pipeline(body, out);
    const fh = await open(file, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return true;
  } finally {
    clearTimeout(timer);
  }
}
