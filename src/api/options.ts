// Validation of API options: one place that says what a setting may be, so the library and the CLI (which
// shows these errors with the flag's name) refuse the same values with the same words.
import { OptionError } from '../errors.js';
import { native } from '../native/index.js';

export const isPositiveInt = (x: number): boolean => Number.isInteger(x) && x > 0;
export const isNonNegativeInt = (x: number): boolean => Number.isInteger(x) && x >= 0;

/**
 * Checks a numeric option.
 *
 * Args:
 *   option: its API name (batchSize); value: undefined means "not given" and passes.
 *   ok: the test; what: what it must be, for the message ("a positive integer").
 * Returns: the value. Throws: OptionError "batchSize must be a positive integer, got 0".
 */
export function checkNumber(option: string, value: number | undefined, ok: (x: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new OptionError(option, `must be ${what}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`);
  }
  return value;
}

/** Checks an option with a fixed set of values. */
export function checkChoice<T extends string>(option: string, value: T | undefined, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!choices.includes(value)) throw new OptionError(option, `must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

export type Dtype = 'fp32' | 'bf16';
export const DTYPES: readonly Dtype[] = ['fp32', 'bf16'];

/**
 * Sets the compute threads of the process (the native core's OpenMP pool is process-wide) when `threads` is
 * given; the default is BERTFIT_THREADS or all cores.
 */
export function applyThreads(threads: number | undefined): void {
  const n = checkNumber('threads', threads, isPositiveInt, 'a positive integer');
  if (n !== undefined) native.setThreads(n);
}
