// The label set of a classification task: which label string is class 0, 1, ...
import { DataError } from './errors.js';
import type { Example } from './types.js';

const INTEGER = /^[+-]?\d+$/;

/**
 * The distinct labels of a (training) dataset, sorted so the order never depends on row order or
 * locale: numerically when every label is a decimal integer ("0" < "1" < "10"; MRPC: ["0", "1"], so
 * class 1 = paraphrase), otherwise by UTF-16 code units (JS's default sort: "B" < "a"). Numeric ties
 * such as "1"/"01" fall back to code-unit order.
 *
 * Multi-label examples (Example.labels) contribute each of their labels.
 * Throws DataError at the first example without a label.
 */
export function labelSet(examples: readonly Example[]): string[] {
  const seen = new Set<string>();
  for (const ex of examples) {
    if (ex.labels !== undefined) {
      for (const l of ex.labels) seen.add(l);
      continue;
    }
    if (ex.label === undefined) {
      throw new DataError({ file: ex.source ?? '<examples>', line: ex.line }, 'example has no label, so the label set cannot be taken from this data');
    }
    seen.add(ex.label);
  }
  const labels = [...seen];
  const byCodeUnits = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  if (labels.every((l) => INTEGER.test(l))) return labels.sort((x, y) => Number(x) - Number(y) || byCodeUnits(x, y));
  return labels.sort(byCodeUnits);
}

/** Checks an explicitly given label list: non-empty, no duplicates, no empty strings. */
export function checkLabels(labels: readonly string[]): void {
  if (labels.length === 0) throw new RangeError('the label list is empty');
  const seen = new Set<string>();
  for (const l of labels) {
    if (l.trim() === '') throw new RangeError('the label list has an empty label');
    if (seen.has(l)) throw new RangeError(`the label list has ${JSON.stringify(l)} twice`);
    seen.add(l);
  }
}
