// Crash-safe writes: data goes to a temporary sibling, is fsynced, and only then renamed into place (rename is
// atomic within a filesystem), and the parent directory is fsynced so the rename itself survives a power cut.
// Readers therefore see either the old file/directory or the complete new one, never a torn mix.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** fsyncs a directory so that entries created or renamed in it are durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (e) {
    // Some filesystems cannot fsync a directory; the data files themselves are still synced.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `file` (replacing it) and fsyncs it; not atomic on its own, see writeFileAtomic. */
export function writeFileDurable(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(file, 'w');
  try {
    for (let off = 0; off < bytes.byteLength;) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` with `data` atomically: temp file + fsync + rename + fsync of the directory. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileDurable(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/**
 * Replaces directory `dir` with one that `fill` populates, atomically.
 *
 * fill receives an empty `<dir>.tmp-<pid>` and must write (and fsync, e.g. with writeFileDurable) every file in it.
 * The old directory is renamed to `<dir>.old-<pid>`, the new one renamed into place, and the old one deleted; a crash
 * leaves either the old or the new directory under `<dir>` (or, between the two renames, both beside it, which
 * recoverReplacedDir puts right). If fill throws, the temporary directory is removed and `dir` is untouched.
 */
export function replaceDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const tmp = prepareTmpDir(dir);
  try {
    fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  commitDir(tmp, dir);
}

/** replaceDirAtomic for an asynchronous fill (downloads). */
export async function replaceDirAtomicAsync(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const tmp = prepareTmpDir(dir);
  try {
    await fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  commitDir(tmp, dir);
}

/**
 * Finishes a replaceDirAtomic that a crash cut short between its two renames, so nothing is lost: when `dir` is
 * missing but `<dir>.old-<pid>` exists, the new `<dir>.tmp-<pid>` of that pid is complete (the renames start only
 * after it was filled and fsynced) and becomes `dir`; without it the old directory is put back. Returns what it did,
 * or undefined when there was nothing to recover. Called before every load of, and every save over, a directory.
 */
export function recoverReplacedDir(dir: string): string | undefined {
  const abs = path.resolve(dir);
  if (existsSync(abs)) return undefined;
  const parent = path.dirname(abs), base = path.basename(abs);
  if (!existsSync(parent)) return undefined;
  const olds = readdirSync(parent).filter((n) => n.startsWith(`${base}.old-`)).sort();
  if (olds.length === 0) return undefined;
  const pid = olds.at(-1)!.slice(`${base}.old-`.length);
  const old = path.join(parent, olds.at(-1)!), tmp = path.join(parent, `${base}.tmp-${pid}`);
  const from = existsSync(tmp) ? tmp : old;
  renameSync(from, abs);
  fsyncDir(parent);
  if (from === tmp) rmSync(old, { recursive: true, force: true });
  return `${dir}: recovered ${from === tmp ? 'the new' : 'the previous'} version from ${path.basename(from)} (an earlier save was interrupted)`;
}

function prepareTmpDir(dir: string): string {
  const abs = path.resolve(dir);
  recoverReplacedDir(abs);
  mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.tmp-${process.pid}`;
  // A leftover from an earlier crashed run that had this pid.
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  return tmp;
}

function commitDir(tmp: string, dir: string): void {
  const abs = path.resolve(dir);
  const old = `${abs}.old-${process.pid}`;
  fsyncDir(tmp);
  rmSync(old, { recursive: true, force: true });
  const hadOld = existsSync(abs);
  if (hadOld) renameSync(abs, old);
  try {
    renameSync(tmp, abs);
  } catch (e) {
    if (hadOld) renameSync(old, abs);
    throw e;
  }
  fsyncDir(path.dirname(abs));
  if (hadOld) rmSync(old, { recursive: true, force: true });
}
