// Character classes of the original BERT BasicTokenizer (google-research/bert tokenization.py:
// _clean_text, _is_whitespace, _is_control, _is_chinese_char, _is_punctuation, _run_strip_accents),
// computed from the Unicode tables behind JS regex \p{...} classes and cached per code point.

/** A letter, digit or any other character that stays inside a word. */
export const OTHER = 1;
/** Separates words: \t \n \r, Zs, and Zl/Zp (which Python's str.split() in whitespace_tokenize splits on). */
export const SPACE = 2;
/** Removed without splitting the word: NUL, U+FFFD and the control categories Cc/Cf (soft hyphen, ZWSP, ...). */
export const DROP = 3;
/** Becomes a token of its own: ASCII non-alphanumeric symbols and every Unicode P* character. */
export const PUNCT = 4;
/** CJK ideograph: becomes a token of its own, split off before lower-casing. */
export const CJK = 5;
/** Non-spacing mark (Mn): removed after NFD when lower-casing (accent stripping), kept otherwise. */
export const MARK = 6;

const CONTROL = /^[\p{Cc}\p{Cf}]$/u;
const WHITESPACE = /^[\p{Zs}\p{Zl}\p{Zp}]$/u;
const PUNCTUATION = /^\p{P}$/u;
const NONSPACING_MARK = /^\p{Mn}$/u;

// BERT's own definition of a "Chinese character" (the CJK Unified Ideographs blocks up to Extension E
// and the two compatibility blocks). Unicode has no property for exactly this set: \p{Unified_Ideograph}
// also covers Extensions F-H and leaves out most of F900-FAFF, which would change tokenization.
const CJK_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f], [0x2b820, 0x2ceaf], [0xf900, 0xfaff], [0x2f800, 0x2fa1f],
];

function isAsciiPunct(cp: number): boolean {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

function computeClass(cp: number): number {
  if (cp === 0 || cp === 0xfffd) return DROP;
  if (cp === 0x09 || cp === 0x0a || cp === 0x0d) return SPACE;
  const ch = String.fromCodePoint(cp);
  if (CONTROL.test(ch)) return DROP;
  if (WHITESPACE.test(ch)) return SPACE;
  for (const [lo, hi] of CJK_RANGES) if (cp >= lo && cp <= hi) return CJK;
  if (isAsciiPunct(cp) || PUNCTUATION.test(ch)) return PUNCT;
  if (NONSPACING_MARK.test(ch)) return MARK;
  return OTHER;
}

// One byte per code point (1.1 MB), filled on first sight so the regexes run once per distinct character.
const table = new Uint8Array(0x110000);
for (let cp = 0; cp < 128; cp++) table[cp] = computeClass(cp);

/** The class (OTHER, SPACE, DROP, PUNCT, CJK or MARK) of a code point. */
export function charClass(cp: number): number {
  const c = table[cp];
  return c !== 0 ? c : (table[cp] = computeClass(cp));
}

/** Class table for code points 0-127, for loops that handle ASCII inline. */
export const ASCII_CLASS: Uint8Array = table.subarray(0, 128);
