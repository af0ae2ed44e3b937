// Filesystem errors that name the path. Node's own messages often do not: an error of write() or fsync() on a file
// descriptor says "ENOSPC: no space left on device, write" without saying which file, and EEXIST / ENOTDIR from a
// nested path name a component the user never typed. Every write bertfit makes goes through these helpers so the
// message says what it tried to do, to which path, and why it failed in words (with the code, for scripts).

/** A filesystem operation that failed; `path` is the file or directory, `code` the errno code (ENOSPC, EACCES, ...). */
export class FileError extends Error {
  override name = 'FileError';
  constructor(readonly path: string, readonly code: string | undefined, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'is a directory',
  ENOENT: 'no such file or directory',
  ENOTEMPTY: 'directory not empty',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  ENAMETOOLONG: 'name too long',
  EFBIG: 'file too large',
  EXDEV: 'cannot move across file systems',
  EBUSY: 'resource busy',
};

/** The errno code of an error thrown by node:fs, if it has one. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The error to throw for `e`, raised while doing `action` ("write", "create directory") on `file`: a FileError naming
 * the path for errno errors, `e` itself for anything else (and for a FileError, which already names its path).
 */
export function fileError(e: unknown, file: string, action: string): unknown {
  if (e instanceof FileError) return e;
  const code = errnoCode(e);
  if (code === undefined || !/^E[A-Z]+$/.test(code)) return e;
  const reason = REASONS[code] ?? (e as Error).message.replace(/^E[A-Z]+: /, '').replace(/, \w+ '.*$/, '');
  return new FileError(file, code, `cannot ${action} ${file}: ${reason} (${code})`, { cause: e });
}

/** Runs `fn`; an errno error it throws becomes a FileError naming `file` (see fileError). */
export function withFileErrors<T>(file: string, action: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fileError(e, file, action);
  }
}
