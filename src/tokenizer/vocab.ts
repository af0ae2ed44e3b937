// WordPiece vocabulary (vocab.txt): one token per line, the line index (0-based) is the token id.
import { DataError } from '../data/errors.js';
import { readTextFile, splitLines } from '../data/text.js';

/** Tokens every BERT vocabulary must have for sentence-pair classification. */
export const REQUIRED_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] as const;
/** Tokens kept whole when they occur literally in the text (Hugging Face's BertTokenizer does the same). */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export interface Vocab {
  /** id -> token (line i of vocab.txt is id i) */
  readonly tokens: readonly string[];
  /** token -> id, for word-initial pieces (every entry) */
  readonly ids: ReadonlyMap<string, number>;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
}

/** Reads vocab.txt (UTF-8, LF or CRLF). Throws DataError naming the file and line on bad input. */
export function loadVocab(file: string): Vocab {
  return parseVocab(readTextFile(file), file);
}

/**
 * Builds a Vocab from the text of a vocab.txt.
 *
 * Args:
 *   text: the file's contents, one token per line.
 *   file: the name used in error messages.
 * Returns: the vocabulary. Lines are taken as they are (like Hugging Face's load_vocab); a token
 *   listed twice maps to its last line, as in both the original and Hugging Face's; `tokens` keeps
 *   every line so ids and lines stay aligned.
 */
export function parseVocab(text: string, file: string): Vocab {
  const tokens = splitLines(text);
  if (tokens.length === 0) throw new DataError({ file }, 'empty vocabulary file');
  const ids = new Map<string, number>();
  tokens.forEach((token, i) => ids.set(token, i));
  const missing = REQUIRED_TOKENS.filter((t) => !ids.has(t));
  if (missing.length > 0) {
    throw new DataError({ file }, `vocabulary lacks the special token(s) ${missing.join(' ')} (is this a BERT vocab.txt?)`);
  }
  return {
    tokens, ids,
    padId: ids.get('[PAD]')!, unkId: ids.get('[UNK]')!, clsId: ids.get('[CLS]')!, sepId: ids.get('[SEP]')!,
  };
}
