// One spelling per label: labels read from files are trimmed and numbers are compared as numbers, so "1", "01",
// "1.0" and " 1" name one class instead of four (and each change is reported, never silent).
//
// The canonical spelling of a numeric label is the number as JavaScript writes it (String(Number(x)): "1", "0.5",
// "-2", "1e+21"), except that every digit is kept: labels are often long ids, and rounding to a double would merge
// "12345678901234567890" with "12345678901234567891". It depends on the label alone, never on which spelling a file
// happens to show first, so train, dev and eval files agree without seeing each other, and config.json's id2label and
// predictions carry this spelling. A label list given explicitly (--labels, a checkpoint's id2label) keeps its own
// spelling: labelIndex() matches data labels to it by number.
import { preview } from './errors.js';

/** A decimal number: sign, integer digits, fraction digits, exponent; no hex, no Infinity/NaN, no digit separators. */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?)(\d+))?$/;

/**
 * Exponents with more digits than this are not read as numbers: such a label is some code, not a class number, and
 * bounding it keeps the arithmetic below exact in doubles (|exponent| + digits stays far below 2^53).
 */
const MAX_EXPONENT_DIGITS = 6;

/**
 * The canonical spelling of a decimal number, or null when `s` (already trimmed) is not one.
 *
 * Examples: "01" -> "1", "1.0" -> "1", "+1" -> "1", "-0" -> "0", ".50" -> "0.5", "1e3" -> "1000", "1E21" -> "1e+21",
 * "0.0000001" -> "1e-7"; "1.5" stays "1.5"; "abc", "", "0x1", "1,000", "Infinity" -> null.
 */
export function canonicalNumber(s: string): string | null {
  const m = DECIMAL.exec(s);
  if (m === null) return null;
  const [, sign, int = '', frac = '', expSign, expDigits = '0'] = m;
  if (int === '' && frac === '') return null;   // "", "+", ".", "e5"
  const exp = expDigits.replace(/^0+(?=\d)/, '');
  if (exp.length > MAX_EXPONENT_DIGITS) return null;
  // value = digits × 10^e, with digits an integer without leading or trailing zeros
  let digits = (int + frac).replace(/^0+/, '');
  let e = (expSign === '-' ? -1 : 1) * Number(exp) - frac.length;
  // counted by hand: /0+$/ retries at every zero of a long inner run of zeros, quadratic in a hostile label
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 0x30) end--;
  e += digits.length - end;
  digits = digits.slice(0, end);
  if (digits === '') return '0';   // every zero, -0 included, is "0" (as String(-0) is)
  return (sign === '-' ? '-' : '') + formatDigits(digits, e);
}

// ECMAScript's Number::toString layout (plain for 1e-7 < |x| < 1e21, else exponential) applied to exact digits.
function formatDigits(d: string, e: number): string {
  const k = d.length;
  const n = k + e;   // the decimal point sits after n digits
  if (k <= n && n <= 21) return d + '0'.repeat(n - k);
  if (0 < n && n <= 21) return `${d.slice(0, n)}.${d.slice(n)}`;
  if (-6 < n && n <= 0) return `0.${'0'.repeat(-n)}${d}`;
  const x = n - 1;
  return `${d[0]}${k > 1 ? `.${d.slice(1)}` : ''}e${x >= 0 ? '+' : '-'}${Math.abs(x)}`;
}

/** Whether s is a short decimal integer in canonical form: digits without a leading zero, or "0". */
function isPlainInteger(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 15 || (s.charCodeAt(0) === 0x30 && n > 1)) return false;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** The canonical spelling of one label: trimmed, and a number in its canonical form. */
export function canonicalLabel(raw: string): string {
  const t = raw.trim();
  return canonicalNumber(t) ?? t;
}

/** At most this many numbers get a notice line of their own per file; the rest are counted in one more line. */
const MAX_NUMBER_NOTICES = 5;
/** Spellings of one number listed in its notice. */
const MAX_SPELLINGS = 4;

/**
 * Canonicalises the labels of one file and remembers what it changed, for the notices.
 *
 * Usage: `read` every label as it is read, then `notices()` once at the end of the file.
 */
export class LabelSpellings {
  private trimmed = 0;
  private firstTrim: { line: number; raw: string; label: string } | null = null;
  /** the labels that took the fast path (canonical integers), to name them in notices */
  private readonly plain = new Set<string>();
  /** canonical number -> its spellings (trimmed) in first-seen order, and the first line with another spelling */
  private readonly numbers = new Map<string, { spellings: string[]; firstOther: number }>();

  constructor(private readonly file: string) {}

  /** The canonical spelling of a label read at 1-based `line`. */
  read(raw: string, line: number): string {
    // the usual class ids ("0", "1", "12") are canonical already; this check runs on every row
    if (isPlainInteger(raw)) {
      this.plain.add(raw);
      return raw;
    }
    const t = raw.trim();
    if (t !== raw) {
      this.trimmed++;
      this.firstTrim ??= { line, raw, label: t };
    }
    const num = canonicalNumber(t);
    if (num === null) return t;
    let seen = this.numbers.get(num);
    if (seen === undefined) {
      seen = { spellings: [], firstOther: 0 };
      this.numbers.set(num, seen);
    }
    // The list stays tiny: each entry is a different spelling of one number, and only a handful are ever shown.
    if (seen.spellings.length <= MAX_SPELLINGS && !seen.spellings.includes(t)) seen.spellings.push(t);
    if (t !== num && seen.firstOther === 0) seen.firstOther = line;
    return num;
  }

  /**
   * What was changed, one message per kind, each starting `FILE:LINE:` at the first row concerned, e.g.
   * `train.tsv:7: labels "1", "01", "1.0" read as the number 1`, `train.tsv:3: whitespace around labels ignored on
   * 2 rows (" pos" read as "pos")`. Empty when every label was already in its canonical spelling.
   */
  notices(): string[] {
    const out: string[] = [];
    if (this.firstTrim !== null) {
      const { line, raw, label } = this.firstTrim;
      out.push(`${this.file}:${line}: whitespace around labels ignored on ${this.trimmed} row${this.trimmed === 1 ? '' : 's'} ` +
        `(${preview(raw)} read as ${preview(label)})`);
    }
    const changed = [...this.numbers].filter(([, s]) => s.firstOther !== 0).sort(([, a], [, b]) => a.firstOther - b.firstOther);
    for (const [num, { spellings: others, firstOther }] of changed.slice(0, MAX_NUMBER_NOTICES)) {
      // the canonical spelling first where the file has it, then the others in the order first seen
      const spellings = this.plain.has(num) || others.includes(num) ? [num, ...others.filter((x) => x !== num)] : others;
      const shown = spellings.slice(0, MAX_SPELLINGS).map((s) => preview(s));
      const more = spellings.length > MAX_SPELLINGS ? ' and more spellings' : '';
      out.push(`${this.file}:${firstOther}: label${shown.length > 1 ? 's' : ''} ${shown.join(', ')}${more} read as the number ${num.length > 60 ? preview(num).slice(1, -1) : num}`);
    }
    if (changed.length > MAX_NUMBER_NOTICES) {
      out.push(`${this.file}: ${changed.length - MAX_NUMBER_NOTICES} more numeric labels written in other ways read as numbers`);
    }
    return out;
  }
}
