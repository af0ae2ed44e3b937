// Finding a GLUE task's directory: an explicit --data-dir, ../shared/data/<dataDirName> beside the checkout, or the
// local cache ($BERTFIT_CACHE/data/<task>, default ~/.cache/bertfit/data/<task>). MRPC keeps its own locator, which
// can also download and rebuild the official files once.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../hub/registry.js';
import { sharedDir } from '../util/paths.js';
import { locateMrpc } from './mrpc-fetch.js';
import { taskFiles, taskSpec } from './tasks.js';

export interface LocateOptions {
  /** MRPC only: download the official files when not found locally (default true) */
  allowDownload?: boolean;
  /** MRPC only: per-download timeout in ms */
  timeoutMs?: number;
}

/** The places searched for a task when no directory is given, in order. */
export function taskSearchDirs(task: string): string[] {
  const spec = taskSpec(task);
  return [path.join(sharedDir, 'data', spec.dataDirName), path.join(cacheRoot(), 'data', spec.name)];
}

const missingFiles = (dir: string, files: readonly string[]): string[] => files.filter((f) => !existsSync(path.join(dir, f)));

/**
 * The directory holding a GLUE task's files.
 *
 * Args:
 *   task: a name in TASK_NAMES.
 *   dataDir: an explicit directory (--data-dir): used as it is, and it must hold the task's train and dev files.
 * Returns: the directory.
 * Throws: RangeError for an unknown task; Error naming the expected files when dataDir lacks them or when no
 *   directory is given and none is found (MRPC: and downloading fails).
 */
export async function locateTask(task: string, dataDir?: string, opts: LocateOptions = {}): Promise<string> {
  const spec = taskSpec(task);
  const { required, optional } = taskFiles(task);
  const expected = `${required.join(', ')}${optional.length ? ` (and optionally ${optional.join(', ')})` : ''}`;
  if (spec.name === 'mrpc') {
    return locateMrpc(dataDir, { ...(opts.allowDownload !== undefined && { allowDownload: opts.allowDownload }), ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) });
  }
  if (dataDir) {
    const missing = missingFiles(dataDir, required);
    if (missing.length) {
      throw new Error(`--data-dir ${dataDir}: expected GLUE ${spec.glueName} files ${expected} there; missing ${missing.join(', ')}`);
    }
    return dataDir;
  }
  const dirs = taskSearchDirs(task);
  for (const d of dirs) if (missingFiles(d, required).length === 0) return d;
  throw new Error(`GLUE ${spec.glueName} not found (looked in ${dirs.join(' and ')}): pass --data-dir with the task's files ` +
    `in GLUE's layout, as in ${spec.glueName}.zip: ${expected}`);
}
