// The Hugging Face tokenizer files of an exported model: tokenizer.json (the `tokenizers` library's format, which
// transformers.js and BertTokenizerFast load), tokenizer_config.json and special_tokens_map.json, written the way
// BertTokenizerFast.save_pretrained writes them for a BERT WordPiece vocabulary.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileDurable } from '../util/atomic.js';
import { SPECIAL_TOKENS, parseVocab } from '../tokenizer/vocab.js';
import { DEFAULT_MAX_WORD_CHARS } from '../tokenizer/wordpiece.js';

export interface TokenizerFilesOptions {
  /** vocab.txt contents: one token per line, line index = id (LF or CRLF, final newline optional) */
  vocabText: string;
  /** lower-case and strip accents (uncased models) */
  doLowerCase: boolean;
  /** the longest input the model takes, in tokens (config.max_position_embeddings) */
  modelMaxLength: number;
}

/** special_tokens_map.json / tokenizer_config.json attribute of each special token. */
const ATTRIBUTE: Record<(typeof SPECIAL_TOKENS)[number], string> = {
  '[PAD]': 'pad_token', '[UNK]': 'unk_token', '[CLS]': 'cls_token', '[SEP]': 'sep_token', '[MASK]': 'mask_token',
};

/**
 * Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir` (created if missing).
 *
 * The files reproduce bertfit's BertTokenizer: ids come from the vocabulary exactly as parseVocab assigns them (a
 * token listed twice gets the id of its last line, so the earlier id has no entry in tokenizer.json's vocab map
 * and decodes as [UNK] in Hugging Face's tokenizers); [PAD] [UNK] [CLS] [SEP] and, if the vocabulary has it, [MASK]
 * are special tokens kept whole in text; and words longer than 200 characters become [UNK] (bertfit's and the
 * original BERT's limit, not Hugging Face's default of 100; see bench/TOKENIZER-DIFFERENCES.md).
 *
 * Each file is written with writeFileDurable (fsynced, not renamed into place): the caller makes the directory
 * appear atomically, e.g. by filling the temporary directory of replaceDirAtomic.
 *
 * Throws DataError naming the special token when the vocabulary lacks [PAD], [UNK], [CLS] or [SEP], and RangeError
 * for a modelMaxLength that is not a positive integer; nothing is written then.
 * Returns: the paths written, in the order above.
 */
export function writeTokenizerFiles(dir: string, o: TokenizerFilesOptions): string[] {
  if (!Number.isInteger(o.modelMaxLength) || o.modelMaxLength < 1) {
    throw new RangeError(`writeTokenizerFiles: modelMaxLength must be a positive integer, got ${o.modelMaxLength}`);
  }
  const vocab = parseVocab(o.vocabText, `writeTokenizerFiles(${dir})`);
  // Sorted by id, as the tokenizers library lists added tokens.
  const specials = SPECIAL_TOKENS.filter((t) => vocab.ids.has(t))
    .map((content) => ({ content, id: vocab.ids.get(content)! }))
    .sort((a, b) => a.id - b.id);
  const specialMap = Object.fromEntries(specials.map((s) => [ATTRIBUTE[s.content], s.content]));

  const files: [string, string][] = [
    ['tokenizer.json', tokenizerJson(vocab.ids, specials, o.doLowerCase, vocab.clsId, vocab.sepId)],
    ['tokenizer_config.json', json(tokenizerConfig(specials, specialMap, o))],
    ['special_tokens_map.json', json(sortKeys(specialMap))],
  ];
  mkdirSync(dir, { recursive: true });
  return files.map(([name, text]) => {
    const file = path.join(dir, name);
    writeFileDurable(file, text);
    return file;
  });
}

interface Special {
  content: string;
  id: number;
}

/**
 * tokenizer_config.json: a superset of what saveCheckpoint writes (do_lower_case, model_max_length,
 * tokenizer_class "BertTokenizer" with the same values), so an export into a checkpoint directory agrees with it.
 * transformers.js reads model_max_length (its tokenizer cuts to it) and tokenizer_class from here; Python's
 * transformers also reads added_tokens_decoder and the casing options.
 */
function tokenizerConfig(specials: Special[], specialMap: Record<string, string>, o: TokenizerFilesOptions): Record<string, unknown> {
  const addedTokensDecoder = Object.fromEntries(specials.map((s) => [String(s.id), {
    content: s.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true,
  }]));
  return sortKeys({
    ...specialMap,
    added_tokens_decoder: addedTokensDecoder,
    clean_up_tokenization_spaces: true,
    do_basic_tokenize: true,
    do_lower_case: o.doLowerCase,
    model_max_length: o.modelMaxLength,
    never_split: null,
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
  });
}

/**
 * tokenizer.json in the layout the tokenizers library saves (2-space indent, vocab in id order).
 *
 * truncation and padding are null, as BertTokenizerFast saves them: neither transformers.js nor Python's
 * transformers applies them from this file (they truncate by tokenizer_config's model_max_length when asked to).
 */
function tokenizerJson(ids: ReadonlyMap<string, number>, specials: Special[], lowerCase: boolean, clsId: number, sepId: number): string {
  const special = (id: string, typeId: number): unknown => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number): unknown => ({ Sequence: { id, type_id: typeId } });
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => ({
      id: s.id, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: lowerCase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [clsId], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [sepId], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  };
  const model = {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: DEFAULT_MAX_WORD_CHARS,
  };
  // The vocab map is written by hand: a JS object would move integer-like tokens ("0", "1999") to the front and
  // treat a "__proto__" token specially. Entries are in id order; a duplicated token appears once, at its last id.
  const entries = [...ids].sort((a, b) => a[1] - b[1]).map(([t, id]) => `      ${JSON.stringify(t)}: ${id}`);
  const modelText = JSON.stringify(model, null, 2).slice(0, -2).replace(/\n/g, '\n  ') +
    `,\n    "vocab": {\n${entries.join(',\n')}\n    }\n  }`;
  return JSON.stringify(head, null, 2).slice(0, -2) + `,\n  "model": ${modelText}\n}\n`;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** Keys in sorted order, as save_pretrained writes its JSON (sort_keys=True). */
function sortKeys<T>(obj: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]!]));
}
