// WordPiece vocabulary (vocab.txt): one token per line, the line index (0-based) is the token id.
import { statSync } from 'node:fs';
import { DataError } from '../data/errors.js';
import { readTextFile, splitLines } from '../data/text.js';

/** Tokens every BERT vocabulary must have for sentence-pair classification. */
export const REQUIRED_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] as const;
/**
 * Most lines a vocab.txt may have: CONFIG_LIMITS.vocab_size of src/model/config.ts (a vocabulary cannot be used
 * with more tokens than any accepted model has embeddings). Counted before the text is split, so a hostile file of
 * a hundred million empty lines is refused without building a hundred-million-entry array.
 */
export const MAX_VOCAB_TOKENS = 1 << 20;

/** Largest vocab.txt read: 2^20 tokens of up to 64 bytes (real ones: 30,522 tokens in 232 KB, 250k in ~4 MB). */
export const MAX_VOCAB_BYTES = 64 << 20;

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
  checkVocabSize(file);
  return parseVocab(readTextFile(file), file);
}

/** Refuses a vocab.txt over MAX_VOCAB_BYTES before reading it (a missing file is left to the reader's message). */
export function checkVocabSize(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return;
  }
  if (size > MAX_VOCAB_BYTES) {
    throw new DataError({ file }, `${size} bytes is more than the ${MAX_VOCAB_BYTES} a vocabulary can need (${MAX_VOCAB_TOKENS} tokens)`);
  }
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
  let lines = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) {
    if (++lines > MAX_VOCAB_TOKENS) {
      throw new DataError({ file, line: MAX_VOCAB_TOKENS + 1 }, `more than ${MAX_VOCAB_TOKENS} lines: too many tokens for a vocabulary`);
    }
  }
  const tokens = splitLines(text);
  if (tokens.length > MAX_VOCAB_TOKENS) {
    throw new DataError({ file, line: MAX_VOCAB_TOKENS + 1 }, `more than ${MAX_VOCAB_TOKENS} lines: too many tokens for a vocabulary`);
  }
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
