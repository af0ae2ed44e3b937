// Error kinds the CLI maps to exit codes: UsageError -> 2, anything else -> 1.

/** Bad command-line settings or arguments: exit code 2, reported before any work starts. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError ? 2 : 1;
}

export function formatError(e: unknown): string {
  if (e instanceof Error) {
    const debug = process.env.BERTFIT_DEBUG === '1';
    return `bertfit: ${e.message}` + (debug && e.stack ? `\n${e.stack}` : '');
  }
  return `bertfit: ${String(e)}`;
}
