// Errors of bad settings, shared by the library API and the CLI (which maps UsageError to exit code 2).

/** Bad settings or arguments: reported before any work starts (the CLI exits with 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * A setting with a bad value. `option` is the API's name of it (`batchSize`); the CLI shows the flag
 * (`--batch-size`) in its place, so both say the same thing about the same setting.
 */
export class OptionError extends UsageError {
  override name = 'OptionError';
  constructor(readonly option: string, readonly problem: string) {
    super(`${option} ${problem}`);
  }
}

/** The command-line flag of an API option name: batchSize -> --batch-size. */
export function flagOf(option: string): string {
  return '--' + option.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
