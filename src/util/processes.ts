// Is a process (named by a pid a lock file or a leftover directory recorded) still running? Used to tell stale locks
// and leftovers of crashed runs from those of live ones.
import { readFileSync } from 'node:fs';

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), as a string; undefined
 * where /proc is not available or the process does not exist. With the pid it names one process for good: a pid
 * reused by a later process has another start time.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may contain spaces or ')': count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether process `pid` on this host is running. With `startTime` (as processStartTime gave it when the pid was
 * recorded), a running process with another start time is a later process that reuses the pid: not the same one.
 */
export function processAlive(pid: number, startTime?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startTime !== undefined) {
    const now = processStartTime(pid);
    if (now !== undefined && now !== startTime) return false;
  }
  return true;
}
