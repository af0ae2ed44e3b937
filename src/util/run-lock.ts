// One writer per output directory. A run that writes into a directory (finetune's --out, a sweep's --out) holds
// <dir>/.bertfit.lock for its whole life: a JSON file with the holder's pid, host, start time and command. A second
// run on the same directory is refused with a message naming the holder. A lock whose holder died (kill -9, power
// cut) is stale: on the same host the pid is checked (with its start time, so a reused pid does not keep a dead lock
// alive) and the lock taken over with a notice; a lock from another host cannot be checked and is reported instead.
//
// The lock is created with link(2) from a complete temporary file, which fails when the lock exists: the check and
// the creation are one atomic step, and a lock file is never seen half-written.
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, fileError } from './fs-errors.js';
import { processAlive, processStartTime } from './processes.js';

export const LOCK_FILE = '.bertfit.lock';

/** What a lock file records about its holder. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken */
  started: string;
  /** what holds it (finetune, sweep, recovery) */
  command: string;
  /** the holder's start time in clock ticks since boot (Linux), to tell a reused pid */
  procStart?: string;
}

/** The directory is in use by another run (or the lock cannot be checked). The CLI exits with 1. */
export class LockError extends Error {
  override name = 'LockError';
}

/** Locks this process holds, by absolute directory; released when it exits, however it exits. */
const held = new Map<string, RunLock>();
let exitHookInstalled = false;

export class RunLock {
  private released = false;
  constructor(readonly dir: string, readonly file: string, readonly info: LockInfo,
    /** set when a stale lock of a dead process was taken over: a line for the user */
    readonly notice?: string) {}

  /** Removes the lock file (only if it is still this lock). Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.dir);
    const now = readLock(this.file);
    if (now !== null && now !== 'corrupt' && sameHolder(now, this.info)) rmSync(this.file, { force: true });
  }
}

function lockInfo(command: string): LockInfo {
  const procStart = processStartTime(process.pid);
  return { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command, ...(procStart ? { procStart } : {}) };
}

function sameHolder(a: LockInfo, b: LockInfo): boolean {
  return a.pid === b.pid && a.host === b.host && a.started === b.started;
}

/** The lock file's holder; null when there is no lock file, 'corrupt' when it is not a lock. */
export function readLock(file: string): LockInfo | null | 'corrupt' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw fileError(e, file, 'read lock file');
  }
  try {
    const o = JSON.parse(text) as Partial<LockInfo>;
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.started === 'string' && typeof o.command === 'string') {
      return o as LockInfo;
    }
  } catch { /* not JSON */ }
  return 'corrupt';
}

/** 'alive', 'dead', or 'unknown' (held from another host: its pid cannot be checked from here). */
function holderState(h: LockInfo): 'alive' | 'dead' | 'unknown' {
  if (h.host !== os.hostname()) return 'unknown';
  if (h.pid === process.pid) {
    // this process's locks are in `held`; a lock with our pid but not ours was left by an earlier process
    return [...held.values()].some((l) => sameHolder(l.info, h)) ? 'alive' : 'dead';
  }
  return processAlive(h.pid, h.procStart) ? 'alive' : 'dead';
}

function describe(h: LockInfo): string {
  return `${h.command}, pid ${h.pid} on ${h.host}, started ${h.started}`;
}

/** Creates `file` holding `info` if it does not exist; false if it does. */
function tryCreate(file: string, info: LockInfo): boolean {
  const tmp = `${file}.${process.pid}.new`;
  writeFileSync(tmp, JSON.stringify(info) + '\n');
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EEXIST') return false;
    // file systems without hard links: an exclusive create, then the content (a reader may briefly see it empty)
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
      try {
        writeFileSync(file, JSON.stringify(info) + '\n', { flag: 'wx' });
        return true;
      } catch (e2) {
        if (errnoCode(e2) === 'EEXIST') return false;
        throw e2;
      }
    }
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Moves a stale lock aside, checking that what it moved is the stale lock and not one another process created in
 * the meantime (which is put back). True when the stale lock is gone.
 */
function takeOver(file: string, stale: LockInfo): boolean {
  const aside = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return true;   // someone removed it already
    throw e;
  }
  const moved = readLock(aside);
  if (moved !== null && moved !== 'corrupt' && sameHolder(moved, stale)) {
    rmSync(aside, { force: true });
    return true;
  }
  try { linkSync(aside, file); } catch { /* a newer lock is in place already */ }
  rmSync(aside, { force: true });
  return false;
}

/**
 * Takes the lock of directory `dir` (which must exist) for `command`, or throws.
 *
 * Returns: the lock (release() it when done; it is also released when the process exits). Its notice is set when a
 *   stale lock of a dead process was taken over.
 * Throws: LockError when another live run holds it (naming it), when it is held from another host, or when the lock
 *   file is not a lock; FileError naming the directory when it cannot be written (read-only, permissions, full).
 */
export function acquireRunLock(dir: string, command: string): RunLock {
  const abs = path.resolve(dir);
  const file = path.join(abs, LOCK_FILE);
  const mine = held.get(abs);
  if (mine) throw new LockError(`${dir} is in use by this process already (${describe(mine.info)}); give each run its own output directory`);
  const info = lockInfo(command);
  let notice: string | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    let created: boolean;
    try {
      created = tryCreate(file, info);
    } catch (e) {
      throw fileError(e, dir, 'write to the output directory');
    }
    if (created) {
      const lock = new RunLock(abs, file, info, notice);
      held.set(abs, lock);
      installExitHook();
      return lock;
    }
    const holder = readLock(file);
    if (holder === null) continue;   // released between our attempt and the read: try again
    if (holder === 'corrupt') {
      throw new LockError(`${file} exists but is not a bertfit lock file; if no bertfit run is using ${dir}, delete it`);
    }
    const state = holderState(holder);
    if (state === 'alive') {
      throw new LockError(`${dir} is in use by another bertfit run (${describe(holder)}); wait for it to finish or use another output directory`);
    }
    if (state === 'unknown') {
      throw new LockError(`${dir} is locked by a bertfit run on another host (${describe(holder)}); ` +
        `if that run is no longer active, delete ${file}`);
    }
    if (takeOver(file, holder)) {
      notice = `${dir}: took over the lock of an earlier run that is no longer running (${describe(holder)})`;
    }
  }
  throw new LockError(`${dir}: could not take the lock ${file} (other runs keep taking it); try again`);
}

/**
 * The live holder of `dir`'s lock other than this process, or null when the lock is free, stale, or this process's.
 * Lets a reader or a recovery step keep its hands off a directory a writer is working in.
 */
export function otherHolder(dir: string): LockInfo | null {
  const h = readLock(path.join(path.resolve(dir), LOCK_FILE));
  if (h === null) return null;
  // a file that is not a lock, or one from another host, cannot be proven dead: assume a writer
  if (h === 'corrupt') return { pid: 0, host: '?', started: '?', command: 'unknown' };
  if (held.get(path.resolve(dir))?.info && sameHolder(held.get(path.resolve(dir))!.info, h)) return null;
  return holderState(h) === 'dead' ? null : h;
}

/** Whether this process holds the lock of `dir`. */
export function holdsLock(dir: string): boolean {
  return held.has(path.resolve(dir));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // process.exit (a second Ctrl-C) skips finally blocks; 'exit' handlers still run, synchronously
  process.on('exit', () => {
    for (const lock of [...held.values()]) {
      try { lock.release(); } catch { /* exiting anyway; a stale lock is detected next time */ }
    }
  });
}
