// Numerical guards: NaN and Inf never pass silently. Training checks its loss, gradient norm and weights every step;
// inference checks every row of logits before it is turned into probabilities (a NaN logit would print as
// "probs": [null, ...] and count as a wrong answer in an accuracy).
import { native } from '../native/index.js';

/** A NaN / Inf where a number was needed: a training step (with its cause) or an input's logits. Exit code 1. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

/** "NaN", "Infinity" or "-Infinity" for a message. */
export function describeValue(x: number): string {
  return Number.isNaN(x) ? 'NaN' : String(x);
}

/** Whether every element of `x` is finite: one fp64 pass in the native core (the sum of squares turns NaN or Inf). */
export function allFinite(x: Float32Array): boolean {
  return x.length === 0 || Number.isFinite(native.globalNorm(x));
}

/** How many elements of `x` are NaN and how many ±Inf (a full scan: for messages, after allFinite said no). */
export function countNonFinite(x: Float32Array): { nan: number; inf: number } {
  let nan = 0, inf = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
  }
  return { nan, inf };
}

/** "3 NaN and 1 Inf" / "5 NaN" for a message. */
export function formatCount(c: { nan: number; inf: number }): string {
  return [c.nan ? `${c.nan} NaN` : '', c.inf ? `${c.inf} Inf` : ''].filter(Boolean).join(' and ');
}

/**
 * The first row of logits [n, C] with a non-finite value, or -1.
 *
 * Args: logits: [n, C] row-major; n rows; C values per row.
 */
export function firstNonFiniteRow(logits: Float32Array, n: number, C: number): number {
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < C; c++) if (!Number.isFinite(logits[r * C + c]!)) return r;
  }
  return -1;
}

/**
 * Throws NonFiniteError for the first row of logits [n, C] that is not finite, naming the input with `nameOf(row)`.
 * The message blames the model (its weights), which is where a NaN logit comes from with finite inputs.
 */
export function checkLogitRows(logits: Float32Array, n: number, C: number, nameOf: (row: number) => string): void {
  const r = firstNonFiniteRow(logits, n, C);
  if (r < 0) return;
  const row = Array.from(logits.subarray(r * C, (r + 1) * C)).map(describeValue).join(', ');
  throw new NonFiniteError(`${nameOf(r)}: the model's scores are not finite (logits [${row}]); ` +
    'the checkpoint\'s weights are probably damaged (NaN/Inf), or the input overflows the model');
}
