// BERT's FullTokenizer: literal special tokens, then BasicTokenizer words, then WordPiece ids; plus the
// sentence(-pair) encoding the classifier takes.
import { forEachWord } from './basic.js';
import { type Encoding, packPair, truncatePair } from './pair.js';
import { SPECIAL_TOKENS, type Vocab, loadVocab, parseVocab } from './vocab.js';
import { DEFAULT_MAX_WORD_CHARS, WordPiece } from './wordpiece.js';

export interface TokenizerOptions {
  /** do_lower_case: lower-case, NFD and strip accents (default true, for uncased models) */
  lowerCase?: boolean;
  /** words longer than this many characters become [UNK] (default 200, as in the original) */
  maxWordChars?: number;
  /**
   * strings kept whole as one token where they occur in text, matched case-sensitively (default:
   * those of [PAD] [UNK] [CLS] [SEP] [MASK] the vocabulary has, as Hugging Face's BertTokenizer does)
   */
  specialTokens?: readonly string[];
}

export class BertTokenizer {
  readonly lowerCase: boolean;
  private readonly wordPiece: WordPiece;
  // Alternation of the special tokens, longest first; null when there are none.
  private readonly specialPattern: RegExp | null;

  constructor(readonly vocab: Vocab, options: TokenizerOptions = {}) {
    this.lowerCase = options.lowerCase ?? true;
    this.wordPiece = new WordPiece(vocab, options.maxWordChars ?? DEFAULT_MAX_WORD_CHARS);
    const specials = options.specialTokens ?? SPECIAL_TOKENS.filter((t) => vocab.ids.has(t));
    for (const t of specials) {
      if (!vocab.ids.has(t)) throw new RangeError(`special token ${JSON.stringify(t)} is not in the vocabulary`);
    }
    this.specialPattern = specials.length === 0 ? null : new RegExp(
      [...specials].sort((x, y) => y.length - x.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
      'g');
  }

  /** A tokenizer for the vocab.txt at `file`; throws DataError for a bad file. */
  static fromVocabFile(file: string, options: TokenizerOptions = {}): BertTokenizer {
    return new BertTokenizer(loadVocab(file), options);
  }

  /**
   * A tokenizer from a vocabulary: the path of a vocab.txt, or its tokens in id order.
   *
   * Example: BertTokenizer.fromVocab('runs/mrpc/checkpoint-best/vocab.txt', { lowerCase: true }).encode('Hello!')
   */
  static fromVocab(vocab: string | readonly string[], options: TokenizerOptions = {}): BertTokenizer {
    if (typeof vocab === 'string') return BertTokenizer.fromVocabFile(vocab, options);
    return new BertTokenizer(parseVocab(vocab.join('\n'), '<vocab tokens>'), options);
  }

  /** [CLS] text [SEP]: ids and token types of one sentence, cut to maxLen ids when given. */
  encode(text: string, maxLen?: number): Encoding {
    return this.encodePair(text, undefined, maxLen);
  }

  /**
   * WordPiece ids of `text` (no [CLS]/[SEP] added).
   *
   * Args:
   *   text: raw text.
   *   out: ids are appended here (default: a new array).
   * Returns: `out`.
   */
  encodeText(text: string, out: number[] = []): number[] {
    const emit = (word: string): void => this.wordPiece.encodeWord(word, out);
    const pattern = this.specialPattern;
    if (pattern === null) {
      forEachWord(text, this.lowerCase, emit);
      return out;
    }
    // A special token splits the text around it, even inside a word ("a[SEP]b" -> a [SEP] b).
    pattern.lastIndex = 0;
    let from = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      if (m.index > from) forEachWord(text.substring(from, m.index), this.lowerCase, emit);
      out.push(this.vocab.ids.get(m[0])!);
      from = m.index + m[0].length;
    }
    forEachWord(from === 0 ? text : text.substring(from), this.lowerCase, emit);
    return out;
  }

  /** The WordPiece tokens of `text`, e.g. "Unwanted" -> ["un", "##want", "##ed"]. */
  tokenize(text: string): string[] {
    return this.idsToTokens(this.encodeText(text));
  }

  idsToTokens(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => {
      const t = this.vocab.tokens[id];
      if (t === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocab.tokens.length})`);
      return t;
    });
  }

  /**
   * Encodes one example as [CLS] a [SEP] b [SEP] (or [CLS] a [SEP] without b).
   *
   * Args:
   *   textA: first sentence; textB: second sentence, or undefined for single-sentence input.
   *   maxLen: if given, truncate (longer side first) so the result has at most maxLen ids.
   * Returns: input ids and token type ids, unpadded; the valid length is their length.
   */
  encodePair(textA: string, textB?: string, maxLen?: number): Encoding {
    const a = this.encodeText(textA);
    const b = textB === undefined ? undefined : this.encodeText(textB);
    if (maxLen !== undefined) truncatePair(a, b, maxLen);
    return packPair(a, b, this.vocab);
  }
}
