// The label set of a classification task: which label string is class 0, 1, ...
import { DataError } from './errors.js';
import { canonicalLabel } from './label-spelling.js';
import type { Example } from './types.js';

const INTEGER = /^[+-]?\d+$/;

/**
 * The distinct labels of a (training) dataset, sorted so the order never depends on row order or
 * locale: numerically when every label is a decimal integer ("0" < "1" < "10"; MRPC: ["0", "1"], so
 * class 1 = paraphrase; exact for any number of digits), otherwise by UTF-16 code units (JS's default
 * sort: "B" < "a"). Numeric ties such as "1"/"01" fall back to code-unit order; they only occur in
 * examples built in code, since the dataset reader gives every number one spelling (label-spelling.ts).
 *
 * Multi-label examples (Example.labels) contribute each of their labels.
 * Throws DataError at the first example without a label, and when there is no label at all (multi-label data whose
 * lists are all empty, or no examples).
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
  if (seen.size === 0) {
    // only multi-label data gets here: every example's list is empty, so there is no class to train
    const ex = examples[0];
    throw new DataError({ file: ex?.source ?? '<examples>' }, 'no labels: every example has an empty label list');
  }
  const labels = [...seen];
  if (labels.every((l) => INTEGER.test(l))) return labels.sort((x, y) => compareIntegers(x, y) || byCodeUnits(x, y));
  return labels.sort(byCodeUnits);
}

const byCodeUnits = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

// Decimal integers compared exactly (Number() would tie 20-digit ids): by sign, then digit count, then digits.
function compareIntegers(x: string, y: string): number {
  const parse = (s: string) => {
    const digits = s.replace(/^[+-]?0*/, '');
    return { negative: s[0] === '-' && digits !== '', digits };
  };
  const a = parse(x), b = parse(y);
  if (a.negative !== b.negative) return a.negative ? -1 : 1;
  const magnitude = a.digits.length - b.digits.length || byCodeUnits(a.digits, b.digits);
  return a.negative ? -magnitude : magnitude;
}

/**
 * Checks an explicitly given label list: non-empty, no duplicates, no empty strings, and no two spellings of one
 * number ("1" and "01"): data labels are matched to the list by number, so such a list would be ambiguous.
 */
export function checkLabels(labels: readonly string[]): void {
  checkDistinct(labels);
  const byNumber = new Map<string, string>();
  for (const l of labels) {
    const key = canonicalLabel(l);
    const other = byNumber.get(key);
    if (other !== undefined) throw new RangeError(`the label list has ${JSON.stringify(other)} and ${JSON.stringify(l)}, which read as the same label ${JSON.stringify(key)}`);
    byNumber.set(key, l);
  }
}

function checkDistinct(labels: readonly string[]): void {
  if (labels.length === 0) throw new RangeError('the label list is empty');
  const seen = new Set<string>();
  for (const l of labels) {
    if (l.trim() === '') throw new RangeError('the label list has an empty label');
    if (seen.has(l)) throw new RangeError(`the label list has ${JSON.stringify(l)} twice`);
    seen.add(l);
  }
}

/**
 * The class index of a data label in a label list: the exact string, else the list's one label with the same
 * canonical spelling ("01" in --labels or an older checkpoint's id2label matches the data's "1"), else undefined.
 * Labels of the list that share a canonical spelling (possible in checkpoints) match exactly only.
 *
 * Throws RangeError for an empty list, duplicates or empty labels.
 */
export function labelIndex(labels: readonly string[]): (label: string) => number | undefined {
  checkDistinct(labels);
  const exact = new Map(labels.map((l, i) => [l, i]));
  const canonical = new Map<string, number>();
  const ambiguous = new Set<string>();
  labels.forEach((l, i) => {
    const key = canonicalLabel(l);
    if (canonical.has(key)) ambiguous.add(key);
    canonical.set(key, i);
  });
  for (const key of ambiguous) canonical.delete(key);
  return (label) => exact.get(label) ?? canonical.get(canonicalLabel(label));
}
