// Crash-safe writes: data goes to a temporary sibling, is fsynced, and only then renamed into place (rename is
// atomic within a filesystem), and the parent directory is fsynced so the rename itself survives a power cut.
// Readers therefore see either the old file/directory or the complete new one, never a torn mix.
//
// Leftovers of a crash are named <name>.tmp-<pid> (being filled, or complete and about to be renamed) and
// <name>.old-<pid> (the previous version, moved aside). Putting them right renames directories, which only the
// directory's writer may do: recoverReplacedDir acts only when no other live process holds the directory's run lock
// (./run-lock.ts), and readers use readableDir, which renames nothing.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { errnoCode, fileError, withFileErrors } from './fs-errors.js';
import { processAlive } from './processes.js';
import { acquireRunLock, holdsLock, LockError, otherHolder } from './run-lock.js';

/** fsyncs a directory so that entries created or renamed in it are durable. */
export function fsyncDir(dir: string): void {
  const fd = withFileErrors(dir, 'open directory', () => openSync(dir, 'r'));
  try {
    fsyncSync(fd);
  } catch (e) {
    // Some filesystems cannot fsync a directory; the data files themselves are still synced.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes(errnoCode(e) ?? '')) throw fileError(e, dir, 'sync directory');
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `file` (replacing it) and fsyncs it; not atomic on its own, see writeFileAtomic. */
export function writeFileDurable(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = withFileErrors(file, 'create', () => openSync(file, 'w'));
  try {
    withFileErrors(file, 'write', () => {
      for (let off = 0; off < bytes.byteLength;) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    });
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` with `data` atomically: temp file + fsync + rename + fsync of the directory. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  withFileErrors(dir, 'create directory', () => mkdirSync(dir, { recursive: true }));
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileDurable(tmp, data);
    withFileErrors(file, 'replace', () => renameSync(tmp, file));
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

/** A complete version of a directory that an interrupted replaceDirAtomic left beside it. */
interface Version {
  path: string;
  pid: number;
  kind: 'tmp' | 'old';
  /** trainer_state.json's step where it has one (checkpoint-last), else -1 */
  step: number;
  /** modification time of its config.json (or of the directory), ms */
  mtime: number;
}

const LEFTOVER = /^(.+)\.(tmp|old)-(\d+)$/;

/**
 * The complete versions of `dir` left beside it: every <dir>.old-<pid> (a whole earlier directory), and every
 * <dir>.tmp-<pid> whose <dir>.old-<pid> exists (its renames had started, which happens only after it was filled and
 * fsynced; a .tmp without its .old may be half-written), one per pid: its .tmp when complete, else its .old. Best
 * first: the highest recorded training step (not the pid, which says nothing about age), then the newest.
 */
function completeVersions(dir: string): Version[] {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs), base = path.basename(abs);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const olds = new Set<number>(), tmps = new Set<number>();
  for (const n of names) {
    const m = LEFTOVER.exec(n);
    if (!m || m[1] !== base) continue;
    (m[2] === 'old' ? olds : tmps).add(Number(m[3]));
  }
  const out: Version[] = [];
  const add = (pid: number, kind: 'tmp' | 'old') => {
    const p = path.join(parent, `${base}.${kind}-${pid}`);
    out.push({ path: p, pid, kind, step: recordedStep(p), mtime: mtimeOf(p) });
  };
  // a pid's complete new version supersedes its old one
  for (const pid of olds) add(pid, tmps.has(pid) ? 'tmp' : 'old');
  return out.sort((a, b) => b.step - a.step || b.mtime - a.mtime);
}

/** The optimizer step a checkpoint-last directory records (trainer_state.json), or -1. */
function recordedStep(dir: string): number {
  try {
    const st = JSON.parse(readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as { step?: unknown };
    return typeof st.step === 'number' && Number.isInteger(st.step) && st.step >= 0 ? st.step : -1;
  } catch {
    return -1;
  }
}

function mtimeOf(dir: string): number {
  for (const p of [path.join(dir, 'config.json'), dir]) {
    try { return statSync(p).mtimeMs; } catch { /* next */ }
  }
  return 0;
}

/**
 * Where a reader finds directory `dir`, renaming nothing: `dir` itself when it exists, else the best complete
 * version an interrupted save left beside it (see completeVersions), else `dir` (which does not exist).
 *
 * Returns: the path to read, and a notice when it is not `dir`.
 */
export function readableDir(dir: string): { path: string; notice?: string } {
  if (existsSync(dir)) return { path: dir };
  const best = completeVersions(dir)[0];
  if (!best) return { path: dir };
  return {
    path: best.path,
    notice: `${dir} is missing (a save was interrupted); reading the complete version ${path.basename(best.path)} beside it ` +
      '(the next run that writes there puts it back in place)',
  };
}

/**
 * Finishes a replaceDirAtomic that a crash cut short between its two renames, so nothing is lost: when `dir` is
 * missing, the best complete version beside it (the highest recorded training step, then the newest; see
 * completeVersions) becomes `dir`, and the other versions of dead processes are deleted.
 *
 * Only a directory's writer may rename in it: nothing is done while another live process holds the run lock of
 * `dir`'s parent (a writer in the middle of its own save), and otherwise the lock is held for the recovery itself.
 * Returns: what it did, or undefined when there was nothing to do (or it was not its to do).
 */
export function recoverReplacedDir(dir: string): string | undefined {
  const abs = path.resolve(dir);
  if (existsSync(abs)) return undefined;
  const parent = path.dirname(abs);
  if (completeVersions(abs).length === 0) return undefined;
  if (otherHolder(parent) !== null) return undefined;
  let lock;
  if (!holdsLock(parent)) {
    try {
      lock = acquireRunLock(parent, 'recovery');
    } catch (e) {
      if (e instanceof LockError) return undefined;   // a writer took it in the meantime: its business
      throw e;
    }
  }
  try {
    if (existsSync(abs)) return undefined;
    const [best, ...rest] = completeVersions(abs);
    if (!best) return undefined;
    withFileErrors(abs, 'restore', () => renameSync(best.path, abs));
    fsyncDir(parent);
    // the previous version of the one put back is superseded by it; so are the versions of other dead processes
    if (best.kind === 'tmp') rmSync(path.join(parent, `${path.basename(abs)}.old-${best.pid}`), { recursive: true, force: true });
    for (const v of rest) {
      if (processAlive(v.pid)) continue;
      for (const kind of ['tmp', 'old']) rmSync(path.join(parent, `${path.basename(abs)}.${kind}-${v.pid}`), { recursive: true, force: true });
    }
    const what = best.kind === 'tmp' ? 'the new' : 'the previous';
    return `${dir}: recovered ${what} version from ${path.basename(best.path)} (an earlier save was interrupted)` +
      (best.step >= 0 ? `, step ${best.step}` : '');
  } finally {
    lock?.release();
  }
}

/**
 * Tidies a directory this process holds the run lock of: every interrupted replace is recovered (recoverReplacedDir),
 * then every remaining <name>.tmp-<pid> / <name>.old-<pid> of another process is deleted (with the lock held, no
 * other process can be writing them: they are leftovers of crashed runs).
 *
 * Returns: the names deleted.
 */
export function tidyLockedDir(dir: string): { recovered: string[]; removed: string[] } {
  const recovered: string[] = [], removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { recovered, removed };
  }
  const bases = new Set(names.map((n) => LEFTOVER.exec(n)?.[1]).filter((b): b is string => b !== undefined));
  for (const b of bases) {
    const r = recoverReplacedDir(path.join(dir, b));
    if (r) recovered.push(r);
  }
  for (const n of readdirSync(dir)) {
    const m = LEFTOVER.exec(n);
    if (!m || Number(m[3]) === process.pid) continue;
    withFileErrors(path.join(dir, n), 'delete', () => rmSync(path.join(dir, n), { recursive: true, force: true }));
    removed.push(n);
  }
  return { recovered, removed };
}

function prepareTmpDir(dir: string): string {
  const abs = path.resolve(dir);
  recoverReplacedDir(abs);
  withFileErrors(path.dirname(abs), 'create directory', () => mkdirSync(path.dirname(abs), { recursive: true }));
  const tmp = `${abs}.tmp-${process.pid}`;
  // A leftover from an earlier crashed run that had this pid.
  rmSync(tmp, { recursive: true, force: true });
  withFileErrors(tmp, 'create directory', () => mkdirSync(tmp));
  return tmp;
}

function commitDir(tmp: string, dir: string): void {
  const abs = path.resolve(dir);
  const old = `${abs}.old-${process.pid}`;
  fsyncDir(tmp);
  rmSync(old, { recursive: true, force: true });
  const hadOld = existsSync(abs);
  if (hadOld) withFileErrors(abs, 'move aside', () => renameSync(abs, old));
  try {
    withFileErrors(abs, 'replace', () => renameSync(tmp, abs));
  } catch (e) {
    if (hadOld) renameSync(old, abs);
    throw e;
  }
  fsyncDir(path.dirname(abs));
  if (hadOld) rmSync(old, { recursive: true, force: true });
}
