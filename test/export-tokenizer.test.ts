// The tokenizer files of an export, loaded by transformers.js (@huggingface/transformers, local files only), must
// encode every golden case of ../shared/tokenizer/goldens as bertfit's BertTokenizer (= the original BERT) does,
// except the differences listed in KNOWN_DIFFERENCES, which are asserted exactly so a change on either side shows.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { writeTokenizerFiles } from '../src/export/tokenizer-files.js';
import { BertTokenizer, type Encoding } from '../src/tokenizer/index.js';
import { DataError } from '../src/data/errors.js';
import { packageRoot } from '../src/util/paths.js';

// Never reach the network or write a cache: everything comes from the directories written here.
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;

const vocabFile = path.join(packageRoot, 'assets/vocab-bert-base-uncased.txt');
const vocabText = readFileSync(vocabFile, 'utf8');
const goldenDir = path.resolve(packageRoot, '../shared/tokenizer/goldens');
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'bertfit-export-tokenizer-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** What transformers.js returns with return_tensor: false. */
interface HfEncoding {
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
}
type HfOptions = { text_pair?: string; truncation?: boolean; max_length?: number; padding?: boolean };
interface HfTokenizer {
  encode(text: string, o?: HfOptions): HfEncoding;
  batch(texts: string[], o?: HfOptions): { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  decode(ids: number[]): string;
}

let dirCount = 0;
/** Writes the files into a fresh directory (transformers.js memoizes loads by path) and loads them. */
async function exportAndLoad(o: { vocabText: string; doLowerCase: boolean; modelMaxLength?: number },
  patch?: (tokenizerJson: Record<string, any>) => void): Promise<{ dir: string; hf: HfTokenizer }> {
  const dir = path.join(tmpRoot, `model-${dirCount++}`);
  writeTokenizerFiles(dir, { modelMaxLength: 512, ...o });
  if (patch) {
    const file = path.join(dir, 'tokenizer.json');
    const j = JSON.parse(readFileSync(file, 'utf8'));
    patch(j);
    writeFileSync(file, JSON.stringify(j));
  }
  const tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true }) as any;
  const hf: HfTokenizer = {
    encode: (text, opt = {}) => tok(text, { ...opt, return_tensor: false }),
    batch: (texts, opt = {}) => tok(texts, { ...opt, return_tensor: false }),
    decode: (ids) => tok.decode(ids, { skip_special_tokens: true }),
  };
  return { dir, hf };
}

interface Golden {
  text_a: string;
  text_b?: string;
  casing: 'uncased' | 'cased';
  max_len: number | null;
  input_ids: number[];
  token_type_ids: number[];
}

function readGoldens(): { key: string; g: Golden }[] {
  const out: { key: string; g: Golden }[] = [];
  for (const f of readdirSync(goldenDir).filter((n) => n.endsWith('.jsonl')).sort()) {
    readFileSync(path.join(goldenDir, f), 'utf8').split('\n').forEach((l, i) => {
      if (l.length > 0) out.push({ key: `${f}:${i + 1}`, g: JSON.parse(l) as Golden });
    });
  }
  return out;
}

/**
 * Golden cases (file:line) where transformers.js 4.3.2 differs from the original BERT tokenizer, by cause:
 * - empty-second-text: an empty text_pair is taken as no pair (`text_pair || null` in @huggingface/tokenizers), so
 *   the result is [CLS] a [SEP], not [CLS] a [SEP] [SEP] with token type 1 for the last [SEP].
 * - plain-cut: transformers.js has no truncation strategy; truncation cuts the packed [CLS] a [SEP] b [SEP] at
 *   max_length, dropping the final [SEP] and the end of b (or all of b and part of a), instead of shortening the
 *   longer sentence one token at a time and keeping the special tokens.
 */
const KNOWN_DIFFERENCES: Record<string, 'empty-second-text' | 'plain-cut'> = {
  'hard-cases.cased.jsonl:17': 'empty-second-text', // "only a has text" / ""
  'hard-cases.uncased.jsonl:17': 'empty-second-text',
  'hard-cases.uncased.maxlen16.jsonl:17': 'empty-second-text',
  'hard-cases.uncased.maxlen16.jsonl:5': 'plain-cut', // "你好世界 means hello world" / ...
  'hard-cases.uncased.maxlen16.jsonl:6': 'plain-cut', // "I can't believe it's not butter!!!" / ...
  'hard-cases.uncased.maxlen16.jsonl:7': 'plain-cut', // "The price rose 3.5% to $1,234.56 on 2004-05-17." / ...
  'hard-cases.uncased.maxlen16.jsonl:8': 'plain-cut', // single sentence: e-mail and URL
  'hard-cases.uncased.maxlen16.jsonl:9': 'plain-cut', // "zero\u200bwidth\u200djoiner and soft\u00adhyphen" / ...
  'hard-cases.uncased.maxlen16.jsonl:11': 'plain-cut', // 136- and 101-character words / ...
  'hard-cases.uncased.maxlen16.jsonl:12': 'plain-cut', // "Δελτίο тест привет" / ...
  'hard-cases.uncased.maxlen16.jsonl:13': 'plain-cut', // "emoji 😀 and 👍🏽 thumbs" / ...
  'hard-cases.uncased.maxlen16.jsonl:14': 'plain-cut', // single sentence: guillemets and curly quotes
  'hard-cases.uncased.maxlen16.jsonl:21': 'plain-cut', // "O'Neil's well-known state-of-the-art U.S.A. co-op" / ...
};

const ids = (e: Encoding): { input_ids: number[]; token_type_ids: number[] } =>
  ({ input_ids: Array.from(e.inputIds), token_type_ids: Array.from(e.tokenTypeIds) });

test('transformers.js matches bertfit and the original BERT on every golden case, except the listed differences', async () => {
  const uncased = (await exportAndLoad({ vocabText, doLowerCase: true })).hf;
  const cased = (await exportAndLoad({ vocabText, doLowerCase: false })).hf;
  const bertfit = { uncased: BertTokenizer.fromVocabFile(vocabFile), cased: BertTokenizer.fromVocabFile(vocabFile, { lowerCase: false }) };
  const count = { single: 0, pair: 0, withMaxLen: 0, cut: 0, differing: 0 };
  const seenDifferences: string[] = [];
  for (const { key, g } of readGoldens()) {
    if (g.input_ids.length > 512) continue; // longer than the model takes
    const bf = bertfit[g.casing];
    const want = ids(bf.encodePair(g.text_a, g.text_b, g.max_len ?? undefined));
    // bertfit is the reference only because it reproduces the original exactly (test/tokenizer.test.ts).
    assert.deepEqual(want, { input_ids: g.input_ids, token_type_ids: g.token_type_ids }, `${key}: bertfit`);
    const got = (g.casing === 'cased' ? cased : uncased).encode(g.text_a, {
      ...(g.text_b !== undefined ? { text_pair: g.text_b } : {}),
      ...(g.max_len !== null ? { truncation: true, max_length: g.max_len } : {}),
    });
    assert.deepEqual(got.attention_mask, got.input_ids.map(() => 1), `${key}: attention_mask`);
    const actual = { input_ids: got.input_ids, token_type_ids: got.token_type_ids };
    const kind = KNOWN_DIFFERENCES[key];
    if (kind === undefined) {
      assert.deepEqual(actual, want, `${key}: transformers.js differs from bertfit / the original BERT`);
    } else {
      let expected: { input_ids: number[]; token_type_ids: number[] };
      if (kind === 'empty-second-text') {
        assert.equal(g.text_b, '', key);
        expected = ids(bf.encodePair(g.text_a, undefined, g.max_len ?? undefined));
      } else {
        const full = ids(bf.encodePair(g.text_a, g.text_b));
        assert.ok(g.max_len !== null && full.input_ids.length > g.max_len, `${key}: not a truncation case`);
        expected = { input_ids: full.input_ids.slice(0, g.max_len), token_type_ids: full.token_type_ids.slice(0, g.max_len) };
      }
      assert.deepEqual(actual, expected, `${key}: the known difference (${kind}) changed`);
      assert.notDeepEqual(actual, want, `${key}: listed as a difference but now matches; remove it from the list`);
      seenDifferences.push(key);
      count.differing++;
    }
    count[g.text_b === undefined ? 'single' : 'pair']++;
    if (g.max_len !== null) count.withMaxLen++;
    if (g.max_len !== null && bf.encodePair(g.text_a, g.text_b).inputIds.length > g.max_len) count.cut++;
  }
  assert.deepEqual(seenDifferences.sort(), Object.keys(KNOWN_DIFFERENCES).sort());
  // The workaround for an empty second text: " " is truthy but yields no tokens, so the pair template applies.
  const spaced = uncased.encode('only a has text', { text_pair: ' ' });
  assert.deepEqual({ input_ids: spaced.input_ids, token_type_ids: spaced.token_type_ids }, ids(bertfit.uncased.encodePair('only a has text', '')));
  // 3087 cases: 18 single sentences (6 per hard-cases file) and 3069 pairs; 2037 have a max length, which cuts 10
  // of them (all in hard-cases.uncased.maxlen16: no MRPC pair is longer than 128 tokens).
  assert.deepEqual(count, { single: 18, pair: 3069, withMaxLen: 2037, cut: 10, differing: 13 });
});

test('transformers.js truncation is a plain cut of the packed pair (every MRPC pair at max_length 48)', async () => {
  const { hf } = await exportAndLoad({ vocabText, doLowerCase: true });
  const bf = BertTokenizer.fromVocabFile(vocabFile);
  const maxLen = 48;
  let cut = 0, same = 0;
  for (const { key, g } of readGoldens().filter((c) => c.key.startsWith('mrpc.uncased.jsonl:'))) {
    const full = ids(bf.encodePair(g.text_a, g.text_b));
    const got = hf.encode(g.text_a, { text_pair: g.text_b, truncation: true, max_length: maxLen });
    if (full.input_ids.length <= maxLen) {
      assert.deepEqual({ input_ids: got.input_ids, token_type_ids: got.token_type_ids }, full, key);
      same++;
    } else {
      assert.deepEqual(got.input_ids, full.input_ids.slice(0, maxLen), key);
      assert.deepEqual(got.token_type_ids, full.token_type_ids.slice(0, maxLen), key);
      assert.notDeepEqual(got.input_ids, Array.from(bf.encodePair(g.text_a, g.text_b, maxLen).inputIds), key);
      cut++;
    }
  }
  assert.ok(cut > 100 && same > 100, `expected both kinds of MRPC pair, got ${cut} cut and ${same} fitting`);
});

test("with Hugging Face's default max_input_chars_per_word (100) a word of 101-200 characters becomes [UNK]", async () => {
  // Why tokenizer.json says 200: the golden pair with a 136- and a 101-character word is split into pieces by the
  // original BERT (and by the export, checked above); with 100 transformers.js makes each word one [UNK].
  const { hf } = await exportAndLoad({ vocabText, doLowerCase: true }, (j) => { j.model.max_input_chars_per_word = 100; });
  const g = readGoldens().find((c) => c.key === 'hard-cases.uncased.jsonl:11')!.g;
  const words = `${g.text_a} ${g.text_b}`.split(/\s+/).filter((w) => [...w].length > 100).map((w) => [...w].length);
  assert.deepEqual(words, [136, 101]);
  const got = hf.encode(g.text_a, { text_pair: g.text_b });
  const at100 = ids(BertTokenizer.fromVocabFile(vocabFile, { maxWordChars: 100 }).encodePair(g.text_a, g.text_b));
  assert.deepEqual({ input_ids: got.input_ids, token_type_ids: got.token_type_ids }, at100);
  assert.notDeepEqual(got.input_ids, g.input_ids);
  assert.equal(got.input_ids.filter((id) => id === 100).length, 2);
});

test('differences outside the goldens: astral CJK ideographs and lone surrogates', async () => {
  const { hf } = await exportAndLoad({ vocabText, doLowerCase: true });
  const bf = BertTokenizer.fromVocabFile(vocabFile);
  const tokens = (x: ArrayLike<number>): string[] => bf.idsToTokens(x);
  // Ideographs outside the BMP (U+20000) are not split off: @huggingface/tokenizers scans UTF-16 units, so
  // "cd\u{20000}e" stays one word (one [UNK]) where the original makes cd [UNK] e.
  assert.deepEqual(tokens(bf.encode('ab cd\u{20000}e').inputIds), ['[CLS]', 'ab', 'cd', '[UNK]', 'e', '[SEP]']);
  assert.deepEqual(tokens(hf.encode('ab cd\u{20000}e').input_ids), ['[CLS]', 'ab', '[UNK]', '[SEP]']);
  // BMP ideographs agree.
  assert.deepEqual(hf.encode('ab中文cd').input_ids, Array.from(bf.encode('ab中文cd').inputIds));
  // A lone surrogate (impossible in UTF-8 input) is dropped as a control character (Cs) by transformers.js; bertfit
  // keeps it as a character, which makes its word [UNK].
  assert.deepEqual(tokens(bf.encode('x\ud800y').inputIds), ['[CLS]', '[UNK]', '[SEP]']);
  assert.deepEqual(tokens(hf.encode('x\ud800y').input_ids), ['[CLS]', 'x', '##y', '[SEP]']);
});

test('the files: tokenizer.json layout, tokenizer_config.json agreeing with saveCheckpoint, padding as bertfit pads', async () => {
  const { dir, hf } = await exportAndLoad({ vocabText, doLowerCase: true, modelMaxLength: 128 });
  assert.deepEqual(readdirSync(dir).sort(), ['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
  const text = readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
  const tj = JSON.parse(text);
  assert.equal(tj.version, '1.0');
  assert.equal(tj.truncation, null);
  assert.equal(tj.padding, null);
  assert.deepEqual(tj.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]),
    [['[PAD]', 0], ['[UNK]', 100], ['[CLS]', 101], ['[SEP]', 102], ['[MASK]', 103]]);
  assert.deepEqual(tj.normalizer, { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true });
  assert.deepEqual(tj.post_processor.special_tokens['[SEP]'], { id: '[SEP]', ids: [102], tokens: ['[SEP]'] });
  assert.deepEqual(tj.decoder, { type: 'WordPiece', prefix: '##', cleanup: true });
  assert.equal(tj.model.max_input_chars_per_word, 200);
  assert.equal(Object.keys(tj.model.vocab).length, 30522);
  // The vocab map is in id order in the file, integer-like tokens included (a JS object would hoist them).
  const vocabPart = text.slice(text.indexOf('"vocab": {'));
  const order = [...vocabPart.matchAll(/^ {6}(".*"): (\d+),?$/gm)].map((m) => Number(m[2]));
  assert.equal(order.length, 30522);
  assert.ok(order.every((id, i) => id === i));

  const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  // The three fields saveCheckpoint writes, with the same meaning, so an export into a checkpoint directory agrees.
  assert.equal(config.tokenizer_class, 'BertTokenizer');
  assert.equal(config.do_lower_case, true);
  assert.equal(config.model_max_length, 128);
  assert.equal(config.strip_accents, null);
  assert.equal(config.tokenize_chinese_chars, true);
  assert.equal(config.clean_up_tokenization_spaces, true);
  assert.equal(config.added_tokens_decoder['102'].content, '[SEP]');
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'special_tokens_map.json'), 'utf8')),
    { cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' });

  // The text-classification pipeline's call: padding with [PAD] (id 0, type 0, mask 0) and a cut at model_max_length.
  const batch = hf.batch(['a', 'hello world', 'x '.repeat(200)], { padding: true, truncation: true });
  assert.deepEqual(batch.input_ids[0]!.slice(0, 4), [101, 1037, 102, 0]);
  assert.deepEqual(batch.attention_mask[0]!.slice(0, 4), [1, 1, 1, 0]);
  assert.deepEqual(batch.token_type_ids[0]!.slice(0, 4), [0, 0, 0, 0]);
  assert.equal(batch.input_ids[2]!.length, 128);
  assert.equal(batch.input_ids[2]!.at(-1), 1060); // "x": the final [SEP] is cut off (plain cut)
});

test('a cased vocabulary with doLowerCase false keeps case and accents, and decodes back', async () => {
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'Hello', 'hello', ',', '!', 'Crème', 'creme', 'Br', '##ûlée',
    'brulee', 'ÅNGSTRÖM', 'angstrom', 'Σ', '##ΑΣ', 'Caf', '##é', 'cafe', '中', '[', ']'];
  const vocabText = vocab.join('\r\n') + '\r\n'; // CRLF, as parseVocab accepts
  const { hf } = await exportAndLoad({ vocabText, doLowerCase: false });
  const bf = BertTokenizer.fromVocab(vocab, { lowerCase: false });
  const tokens = (x: ArrayLike<number>): string[] => bf.idsToTokens(x);
  for (const s of ['Hello, Crème Brûlée!', 'ÅNGSTRÖM hello ΣΑΣ', 'Café中Crème', 'creme brulee', 'Hello [MASK] Hello[SEP]!']) {
    const got = hf.encode(s, { text_pair: 'Hello!' });
    const want = ids(bf.encodePair(s, 'Hello!'));
    assert.deepEqual({ input_ids: got.input_ids, token_type_ids: got.token_type_ids }, want, s);
  }
  assert.deepEqual(tokens(hf.encode('Hello, Crème Brûlée!').input_ids), ['[CLS]', 'Hello', ',', 'Crème', 'Br', '##ûlée', '!', '[SEP]']);
  assert.equal(hf.decode(hf.encode('Hello, Crème Brûlée!').input_ids), 'Hello, Crème Brûlée!');
  // A decomposed accent is not composed on the cased path: "Cafe" + U+0301 has no vocabulary match.
  assert.deepEqual(tokens(hf.encode('Cafe\u0301').input_ids), ['[CLS]', '[UNK]', '[SEP]']);
  assert.deepEqual(hf.encode('Cafe\u0301').input_ids, Array.from(bf.encode('Cafe\u0301').inputIds));
});

test('vocabulary checks: a missing [SEP] is a clear error; no [MASK] and repeated tokens work as in bertfit', async () => {
  const dir = path.join(tmpRoot, 'no-sep');
  assert.throws(() => writeTokenizerFiles(dir, { vocabText: '[PAD]\n[UNK]\n[CLS]\nhello\n', doLowerCase: true, modelMaxLength: 512 }),
    (e: unknown) => e instanceof DataError && /lacks the special token\(s\) \[SEP\]/.test(e.message));
  assert.equal(existsSync(dir), false, 'nothing is written for a bad vocabulary');
  assert.throws(() => writeTokenizerFiles(dir, { vocabText, doLowerCase: true, modelMaxLength: 0 }), /modelMaxLength must be a positive integer/);

  // No [MASK]: not needed by a classifier; it is simply not a special token (bertfit does the same).
  // "hello" on lines 5 and 7: both tokenizers use the last line's id; id 5 has no entry in tokenizer.json.
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'x', 'hello', 'world', 'hello', '[', ']', 'mask', '0', '__proto__'];
  const { dir: d, hf } = await exportAndLoad({ vocabText: vocab.join('\n'), doLowerCase: true });
  const bf = BertTokenizer.fromVocab(vocab);
  for (const s of ['hello world [MASK] x', '0 __proto__ hello']) {
    assert.deepEqual(hf.encode(s).input_ids, Array.from(bf.encode(s).inputIds), s);
  }
  assert.deepEqual(hf.encode('hello').input_ids, [2, 7, 3]);
  const tj = JSON.parse(readFileSync(path.join(d, 'tokenizer.json'), 'utf8'));
  assert.deepEqual(tj.added_tokens.map((t: { content: string }) => t.content), ['[PAD]', '[UNK]', '[CLS]', '[SEP]']);
  assert.equal(Object.keys(tj.model.vocab).length, vocab.length - 1);
  assert.equal(JSON.parse(readFileSync(path.join(d, 'tokenizer_config.json'), 'utf8')).mask_token, undefined);
});
