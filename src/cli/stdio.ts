// `bertfit predict | head -1`: the reader closes the pipe after one line and the next write fails with EPIPE. That is
// the reader saying it has enough, not an error: the process ends at once with exit code 0 and no message.
import { errnoCode } from '../util/fs-errors.js';

/**
 * Makes EPIPE on stdout end the process quietly (exit 0); another stdout error (ENOSPC when redirected to a full
 * disk) ends it with a message and exit code 1. Errors writing stderr (progress lines) are ignored: the work goes on
 * and its exit code still tells how it went.
 */
export function endQuietlyOnBrokenPipe(): void {
  process.stdout.on('error', (e: Error) => {
    if (errnoCode(e) === 'EPIPE') process.exit(0);
    try { process.stderr.write(`bertfit: cannot write to stdout: ${e.message}\n`); } catch { /* nowhere to say it */ }
    process.exit(1);
  });
  process.stderr.on('error', () => {});
}
