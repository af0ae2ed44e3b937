// Error kinds the CLI maps to exit codes: UsageError (from the library, src/errors.ts) -> 2, anything else -> 1.
import { OptionError, UsageError, flagOf } from '../errors.js';

export { UsageError };

export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError ? 2 : 1;
}

export function formatError(e: unknown): string {
  if (e instanceof Error) {
    const debug = process.env.BERTFIT_DEBUG === '1';
    // The library names an option as the API spells it; on the command line it is a flag.
    const message = e instanceof OptionError ? `${flagOf(e.option)} ${e.problem}` : e.message;
    return `bertfit: ${message}` + (debug && e.stack ? `\n${e.stack}` : '');
  }
  return `bertfit: ${String(e)}`;
}
