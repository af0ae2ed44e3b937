// Settings and data checked against the model before any work: what the model cannot take fails here with the
// setting's name, not mid-epoch with a native RangeError (a --max-len past the position table, a vocab.txt longer than
// the word embeddings, sentence pairs for a model with one token type).
import type { Example } from '../data/types.js';
import { OptionError, UsageError } from '../errors.js';
import type { BertConfig } from '../model/config.js';
import type { BertTokenizer } from '../tokenizer/tokenizer.js';

/** maxLen must fit the position embeddings. */
export function checkMaxLen(config: BertConfig, maxLen: number): void {
  const P = config.max_position_embeddings;
  if (maxLen > P) throw new OptionError('maxLen', `must be at most the model's max_position_embeddings ${P}, got ${maxLen}`);
}

/** Every token id the tokenizer can produce must have a row in the word embeddings. */
export function checkVocab(config: BertConfig, tokenizer: BertTokenizer, source: string): void {
  const n = tokenizer.vocab.tokens.length;
  if (n > config.vocab_size) {
    throw new UsageError(`${source}: the vocabulary has ${n} tokens but the model's word embeddings have ${config.vocab_size} rows ` +
      `(vocab_size): token ids ${config.vocab_size} and above would fail; use the vocab.txt that belongs to this model`);
  }
}

/** Whether the model can take sentence pairs (a second token type). */
export function takesPairs(config: BertConfig): boolean {
  return config.type_vocab_size >= 2;
}

/** A model with one token type cannot take sentence pairs: refuses the first pair in the data, naming its row. */
export function checkPairs(config: BertConfig, source: string, rows: readonly Example[] | null, what: string): void {
  if (takesPairs(config) || !rows) return;
  const pair = rows.find((e) => e.textB !== undefined);
  if (!pair) return;
  const where = pair.source ? `${pair.source}:${pair.line}` : `${what} row ${pair.line}`;
  throw new UsageError(`${where}: a sentence pair, but ${source} has type_vocab_size ${config.type_vocab_size} ` +
    '(no embedding for a second segment); give single texts, or use a model with type_vocab_size 2');
}
