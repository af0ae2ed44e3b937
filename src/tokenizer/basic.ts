// BERT's BasicTokenizer: text -> words, before WordPiece. Follows google-research/bert tokenization.py
// step by step (clean -> split off CJK -> split on whitespace -> lower-case + NFD + drop Mn -> split on
// punctuation), but in one pass over the UTF-16 code units with an ASCII fast path: a chunk that is pure
// ASCII without control characters is split in place, without building a cleaned copy of the text.
import { ASCII_CLASS, CJK, DROP, MARK, PUNCT, SPACE, charClass } from './chars.js';

export type WordSink = (word: string) => void;

/**
 * Splits `text` into words and passes each one to `emit`, in order.
 *
 * Args:
 *   text: any string (lone surrogates are kept as ordinary characters).
 *   lowerCase: the do_lower_case setting: lower-case, NFD-decompose and drop non-spacing marks.
 *   emit: receives each non-empty word.
 */
export function forEachWord(text: string, lowerCase: boolean, emit: WordSink): void {
  const n = text.length;
  let start = -1; // first code unit of the current whitespace-delimited chunk, -1 between chunks
  let plain = true; // the chunk is ASCII without dropped characters
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    let width = 1;
    let cls: number;
    if (c < 128) {
      cls = ASCII_CLASS[c]!;
    } else {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) width = 2;
      cls = charClass(cp);
    }
    if (cls === SPACE || cls === CJK) {
      if (start >= 0) {
        emitChunk(text, start, i, plain, lowerCase, emit);
        start = -1;
      }
      // The original surrounds each CJK character with spaces, so it is a chunk of its own.
      if (cls === CJK) emitChunk(text, i, i + width, false, lowerCase, emit);
    } else {
      if (start < 0) {
        start = i;
        plain = true;
      }
      if (c >= 128 || cls === DROP) plain = false;
    }
    i += width;
  }
  if (start >= 0) emitChunk(text, start, n, plain, lowerCase, emit);
}

/** Convenience wrapper of forEachWord that collects the words. */
export function basicTokenize(text: string, lowerCase: boolean): string[] {
  const words: string[] = [];
  forEachWord(text, lowerCase, (w) => words.push(w));
  return words;
}

// One whitespace-delimited chunk text[start, end): normalize it (slow path only), then split on punctuation.
function emitChunk(text: string, start: number, end: number, plain: boolean, lowerCase: boolean, emit: WordSink): void {
  if (plain) {
    splitOnPunct(text, start, end, lowerCase, emit);
    return;
  }
  let s = dropChars(text, start, end);
  if (lowerCase) s = stripMarks(s.toLowerCase().normalize('NFD'));
  splitOnPunct(s, 0, s.length, false, emit);
}

// _clean_text for one chunk: the chunk without NUL, U+FFFD and Cc/Cf characters.
function dropChars(text: string, start: number, end: number): string {
  let out = '';
  let run = start; // start of the current run of kept code units
  for (let i = start; i < end; ) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (charClass(cp) === DROP) {
      out += text.substring(run, i);
      run = i + width;
    }
    i += width;
  }
  return out + text.substring(run, end);
}

// _run_strip_accents after NFD: drop every non-spacing mark (Mn).
function stripMarks(s: string): string {
  let out = '';
  let run = 0;
  for (let i = 0; i < s.length; ) {
    const cp = s.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (cp >= 128 && charClass(cp) === MARK) {
      out += s.substring(run, i);
      run = i + width;
    }
    i += width;
  }
  return run === 0 ? s : out + s.substring(run);
}

// _run_split_on_punc on s[start, end): each punctuation character becomes a word of its own. Whitespace
// (which only the slow path's lower-casing/NFD could produce) separates words, as the original's final
// whitespace_tokenize does. `lowerAscii` lower-cases words of the fast path, which skipped toLowerCase.
function splitOnPunct(s: string, start: number, end: number, lowerAscii: boolean, emit: WordSink): void {
  let word = -1; // first code unit of the current word, -1 when none
  let upper = false;
  for (let i = start; i < end; ) {
    const c = s.charCodeAt(i);
    let width = 1;
    let cls: number;
    if (c < 128) {
      cls = ASCII_CLASS[c]!;
    } else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) width = 2;
      cls = charClass(cp);
    }
    if (cls === PUNCT || cls === SPACE) {
      if (word >= 0) {
        emit(lowerAscii && upper ? s.substring(word, i).toLowerCase() : s.substring(word, i));
        word = -1;
      }
      if (cls === PUNCT) emit(s.substring(i, i + width));
    } else {
      if (word < 0) {
        word = i;
        upper = false;
      }
      if (c >= 65 && c <= 90) upper = true;
    }
    i += width;
  }
  if (word >= 0) emit(lowerAscii && upper ? s.substring(word, end).toLowerCase() : s.substring(word, end));
}
