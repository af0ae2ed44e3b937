// Greedy longest-match-first WordPiece (google-research/bert WordpieceTokenizer): a word becomes the
// longest vocabulary entry that starts it, then the longest "##" continuation of the rest, and so on.
import type { Vocab } from './vocab.js';

/** The original tokenizer's max_input_chars_per_word (Hugging Face's default is 100). */
export const DEFAULT_MAX_WORD_CHARS = 200;

export class WordPiece {
  private readonly initial: ReadonlyMap<string, number>;
  // "##" entries keyed without their "##", so a continuation is looked up by a plain substring of the
  // word instead of a freshly concatenated "##" + substring.
  private readonly continuation = new Map<string, number>();
  // Longest entry (in UTF-16 units) of each map: a longer substring cannot match, so it is never built.
  private readonly maxInitial: number;
  private readonly maxContinuation: number;
  private readonly unkId: number;

  /**
   * Args:
   *   vocab: the vocabulary.
   *   maxWordChars: words longer than this many code points become a single [UNK].
   */
  constructor(vocab: Vocab, readonly maxWordChars: number = DEFAULT_MAX_WORD_CHARS) {
    if (!Number.isInteger(maxWordChars) || maxWordChars < 1) {
      throw new RangeError(`maxWordChars must be a positive integer, got ${maxWordChars}`);
    }
    this.initial = vocab.ids;
    this.unkId = vocab.unkId;
    let maxInitial = 0;
    let maxContinuation = 0;
    for (const [token, id] of vocab.ids) {
      maxInitial = Math.max(maxInitial, token.length);
      if (token.startsWith('##') && token.length > 2) {
        this.continuation.set(token.slice(2), id);
        maxContinuation = Math.max(maxContinuation, token.length - 2);
      }
    }
    this.maxInitial = maxInitial;
    this.maxContinuation = maxContinuation;
  }

  /**
   * Appends the ids of `word`'s pieces to `out`: all pieces, or one [UNK] when the word is too long or
   * some remainder of it has no matching piece.
   *
   * Args:
   *   word: one word from the BasicTokenizer (non-empty, no whitespace).
   *   out: ids are pushed here.
   */
  encodeWord(word: string, out: number[]): void {
    const n = word.length;
    // Python's len() counts code points; UTF-16 length is an upper bound, so count only when it matters.
    if (n > this.maxWordChars && countCodePoints(word) > this.maxWordChars) {
      out.push(this.unkId);
      return;
    }
    const first = out.length;
    let start = 0;
    while (start < n) {
      const pieces = start === 0 ? this.initial : this.continuation;
      let end = Math.min(n, start + (start === 0 ? this.maxInitial : this.maxContinuation));
      let id: number | undefined;
      // Ends inside a surrogate pair are tried too; they never match, since vocab entries are whole
      // code points, so pieces always start on a code point.
      for (; end > start; end--) {
        id = pieces.get(word.substring(start, end));
        if (id !== undefined) break;
      }
      if (id === undefined) {
        out.length = first;
        out.push(this.unkId);
        return;
      }
      out.push(id);
      start = end;
    }
  }
}

function countCodePoints(s: string): number {
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
