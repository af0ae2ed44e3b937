// `bertfit tokenize`: JSON lines {"text_a", "text_b"?} on stdin -> {"tokens", "input_ids", "token_type_ids"}
// lines on stdout (unpadded), with the same tokenizer and pair encoding training uses.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UsageError } from '../errors.js';
import { hasValue, jsonString, parseJsonObject } from '../../data/json.js';
import { readLines } from '../../data/text.js';
import { BertTokenizer } from '../../tokenizer/tokenizer.js';
import { DEFAULT_MAX_WORD_CHARS } from '../../tokenizer/wordpiece.js';

interface TokenizeFlags {
  vocab: string;
  cased?: boolean;
  maxLen?: string;
  maxWordChars: string;
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('tokenize JSON lines {"text_a": ..., "text_b": ...} (text_b optional) from stdin into ' +
      '{"tokens", "input_ids", "token_type_ids"} JSON lines on stdout, as [CLS] a [SEP] b [SEP] without padding')
    .requiredOption('--vocab <file>', 'WordPiece vocabulary (vocab.txt)')
    .option('--cased', 'keep case and accents (cased models); default: lower-case and strip accents')
    .option('--max-len <n>', 'truncate each encoding to at most n ids, removing tokens from the longer sentence')
    .option('--max-word-chars <n>', 'longer words become [UNK]', String(DEFAULT_MAX_WORD_CHARS))
    .action(async (flags: TokenizeFlags) => {
      const maxLen = flags.maxLen === undefined ? undefined : parseIntFlag('--max-len', flags.maxLen, 3);
      const maxWordChars = parseIntFlag('--max-word-chars', flags.maxWordChars, 1);
      if (!existsSync(flags.vocab)) throw new UsageError(`--vocab: no such file: ${flags.vocab}`);
      const tokenizer = BertTokenizer.fromVocabFile(flags.vocab, { lowerCase: !flags.cased, maxWordChars });
      // `bertfit tokenize | head` closes the pipe early: stop quietly instead of failing with EPIPE.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') throw e;
        process.exit(0);
      });
      await tokenizeJsonLines(process.stdin, process.stdout, tokenizer, maxLen);
    });
}

function parseIntFlag(flag: string, value: string, min: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * The command's work, on any streams.
 *
 * Args:
 *   input: JSON lines, one object per line; blank lines are skipped.
 *   output: receives one JSON line per input object, in order.
 *   maxLen: truncation limit, or undefined for none.
 * Throws: DataError naming the stdin line for invalid UTF-8, invalid JSON or a missing/non-string text.
 */
export async function tokenizeJsonLines(input: AsyncIterable<Uint8Array | string>, output: Writable,
  tokenizer: BertTokenizer, maxLen: number | undefined): Promise<void> {
  let buffered = '';
  const flush = async (): Promise<void> => {
    if (!output.write(buffered)) await once(output, 'drain');
    buffered = '';
  };
  // Lines before a bad one are still written out, so the error's line number matches the output's end.
  try {
    for await (const { text, line } of readLines(input, 'stdin')) {
      if (text.trim() === '') continue;
      const obj = parseJsonObject(text, { file: 'stdin', line });
      const a = jsonString(obj, { file: 'stdin', line, field: 'text_a' });
      const b = hasValue(obj, 'text_b') ? jsonString(obj, { file: 'stdin', line, field: 'text_b' }) : undefined;
      const enc = tokenizer.encodePair(a, b, maxLen);
      buffered += JSON.stringify({
        tokens: tokenizer.idsToTokens(enc.inputIds),
        input_ids: Array.from(enc.inputIds),
        token_type_ids: Array.from(enc.tokenTypeIds),
      }) + '\n';
      if (buffered.length >= 1 << 16) await flush();
    }
  } finally {
    if (buffered.length > 0) await flush();
  }
}
