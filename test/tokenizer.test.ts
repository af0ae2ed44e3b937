import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';
import { fileURLToPath } from 'node:url';
import { BertTokenizer, basicTokenize, loadVocab, parseVocab, truncatePair, WordPiece } from '../src/tokenizer/index.js';
import { DataError } from '../src/data/errors.js';

const shared = path.resolve(packageRoot, '../shared/tokenizer');
const vocabFile = path.join(shared, 'vocab/bert-base-uncased.txt');
const uncased = BertTokenizer.fromVocabFile(vocabFile);
const cased = BertTokenizer.fromVocabFile(vocabFile, { lowerCase: false });

interface Golden {
  text_a: string;
  text_b?: string;
  casing: 'uncased' | 'cased';
  max_len: number | null;
  tokens: string[];
  input_ids: number[];
  token_type_ids: number[];
}

test('every golden case of ../shared/tokenizer/goldens matches exactly (tokens, ids, token types)', () => {
  const dir = path.join(shared, 'goldens');
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  assert.ok(files.length >= 6, `expected the six golden files, found ${files.join(', ')}`);
  let cases = 0;
  for (const f of files) {
    const lines = readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.length > 0);
    lines.forEach((l, i) => {
      const g = JSON.parse(l) as Golden;
      const tok = g.casing === 'cased' ? cased : uncased;
      const enc = tok.encodePair(g.text_a, g.text_b, g.max_len ?? undefined);
      const where = `${f}:${i + 1} ${JSON.stringify(g.text_a).slice(0, 60)}`;
      assert.deepEqual(tok.idsToTokens(enc.inputIds), g.tokens, where);
      assert.deepEqual(Array.from(enc.inputIds), g.input_ids, where);
      assert.deepEqual(Array.from(enc.tokenTypeIds), g.token_type_ids, where);
      cases++;
    });
  }
  assert.equal(cases, 3087);
});

test('basic tokenizer: whitespace, controls, punctuation and CJK as in the original', () => {
  // Zl/Zp split words (Python's str.split does); VT/FF/NUL/U+FFFD/ZWSP/soft hyphen are dropped inside words.
  assert.deepEqual(basicTokenize('a\u2028b\u2029c\u1680d\u3000e', true), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(basicTokenize('a\x0bb\x0cc\x00d\ufffde\u200bf\u00adg\ufeffh', true), ['abcdefgh']);
  assert.deepEqual(basicTokenize(' \t\r\n\u00a0 ', true), []);
  assert.deepEqual(basicTokenize('', false), []);
  assert.deepEqual(basicTokenize('x~y^z|w$v', false), ['x', '~', 'y', '^', 'z', '|', 'w', '$', 'v']);
  assert.deepEqual(basicTokenize('\u00bfQu\u00e9?\u2014\u00abno\u00bb', false), ['\u00bf', 'Qu\u00e9', '?', '\u2014', '\u00ab', 'no', '\u00bb']);
  // CJK ideographs (BMP, astral Extension B, compatibility block) are words of their own; kana is not CJK.
  assert.deepEqual(basicTokenize('ab中文cd\u{20000}e\uf900f', false), ['ab', '中', '文', 'cd', '\u{20000}', 'e', '\uf900', 'f']);
  assert.deepEqual(basicTokenize('かな漢字', false), ['かな', '漢', '字']);
  // Symbols that are not punctuation (S*) stay inside words.
  assert.deepEqual(basicTokenize('a\u00b1b\u20acc', false), ['a\u00b1b\u20acc']);
});

test('basic tokenizer: lower-casing is lower() then NFD then dropping Mn, per whitespace chunk', () => {
  assert.deepEqual(basicTokenize('ÅNGSTRÖM Crème Brûlée', true), ['angstrom', 'creme', 'brulee']);
  assert.deepEqual(basicTokenize('ÅNGSTRÖM', false), ['ÅNGSTRÖM']);
  // Precomposed and decomposed input agree once accents are stripped.
  assert.deepEqual(basicTokenize('cafe\u0301 caf\u00e9', true), ['cafe', 'cafe']);
  assert.deepEqual(basicTokenize('cafe\u0301', false), ['cafe\u0301']);
  // Final sigma: lower() is context-sensitive in both Python 3 and JS.
  assert.deepEqual(basicTokenize('ΣΑΣ ΟΔΟΣ.', true), ['σας', 'οδος', '.']);
  // U+1FEF GREEK VARIA is a symbol (Sk) but decomposes to "`", which then splits as punctuation.
  assert.deepEqual(basicTokenize('a\u1fefb', true), ['a', '`', 'b']);
  assert.deepEqual(basicTokenize('a\u1fefb', false), ['a\u1fefb']);
  // A compatibility ideograph is normalized by NFD only when lower-casing.
  assert.deepEqual(basicTokenize('\uf900', true), ['\u8c48']);
  // Full case mapping: U+0130 lower-cases to i + U+0307, whose mark is then dropped.
  assert.deepEqual(basicTokenize('\u0130STANBUL', true), ['istanbul']);
  // A chunk of only combining marks vanishes; a lone surrogate is kept as an ordinary character.
  assert.deepEqual(basicTokenize('a \u0301\u0308 b', true), ['a', 'b']);
  assert.deepEqual(basicTokenize('x\ud800y', true), ['x\ud800y']);
});

// A tiny vocabulary for WordPiece edge cases.
const tinyVocab = parseVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##want', '##ed', 'want', 'a', '##a',
  '\u{1f600}', '##\u{1f600}', ',', 'x', '##'].join('\n') + '\n', 'tiny.txt');
const wordIds = (wp: WordPiece, word: string): number[] => {
  const out: number[] = [];
  wp.encodeWord(word, out);
  return out;
};

test('WordPiece: greedy longest match, ## continuations, one [UNK] for a word without a full match', () => {
  const wp = new WordPiece(tinyVocab);
  const id = (t: string): number => tinyVocab.ids.get(t)!;
  assert.deepEqual(wordIds(wp, 'unwanted'), [id('un'), id('##want'), id('##ed')]);
  assert.deepEqual(wordIds(wp, 'want'), [id('want')]);
  assert.deepEqual(wordIds(wp, 'wanted'), [id('want'), id('##ed')]);
  // "x" is in the vocabulary but "##x" is not, so the whole word is one [UNK], not un ##want ##ed [UNK];
  // likewise "ed" is only a continuation piece.
  assert.deepEqual(wordIds(wp, 'unwantedx'), [id('[UNK]')]);
  assert.deepEqual(wordIds(wp, 'edwant'), [id('[UNK]')]);
  // Emoji (surrogate pairs) match as whole code points.
  assert.deepEqual(wordIds(wp, '\u{1f600}\u{1f600}'), [id('\u{1f600}'), id('##\u{1f600}')]);
});

test('WordPiece: words longer than maxWordChars code points become [UNK] (default 200)', () => {
  const unk = tinyVocab.unkId;
  const wp = new WordPiece(tinyVocab);
  assert.equal(wp.maxWordChars, 200);
  assert.equal(wordIds(wp, 'a'.repeat(200)).length, 200);
  assert.deepEqual(wordIds(wp, 'a'.repeat(201)), [unk]);
  // 3 emoji are 6 UTF-16 units but 3 characters.
  assert.equal(wordIds(new WordPiece(tinyVocab, 3), '\u{1f600}'.repeat(3)).length, 3);
  assert.deepEqual(wordIds(new WordPiece(tinyVocab, 2), '\u{1f600}'.repeat(3)), [unk]);
  assert.throws(() => new WordPiece(tinyVocab, 0), /maxWordChars must be a positive integer/);
  // Through the full tokenizer, with the real vocabulary: the goldens' 136-character word is split; 201 is not.
  assert.deepEqual(uncased.tokenize('a'.repeat(201)), ['[UNK]']);
  assert.deepEqual(BertTokenizer.fromVocabFile(vocabFile, { maxWordChars: 100 }).tokenize('b'.repeat(101)), ['[UNK]']);
});

test('literal special tokens are kept whole, case-sensitively (Hugging Face behaviour)', () => {
  assert.deepEqual(uncased.tokenize('Hello [SEP] world[MASK]!'), ['hello', '[SEP]', 'world', '[MASK]', '!']);
  assert.deepEqual(uncased.tokenize('a[CLS]b[PAD][UNK]'), ['a', '[CLS]', 'b', '[PAD]', '[UNK]']);
  assert.deepEqual(cased.tokenize('[SEP]'), ['[SEP]']);
  // Not a special token: lower-case or incomplete forms go through the normal path.
  assert.deepEqual(uncased.tokenize('[cls] [SEP'), ['[', 'cl', '##s', ']', '[', 'sep']);
  // With no special tokens configured, the original's splitting applies.
  assert.deepEqual(BertTokenizer.fromVocabFile(vocabFile, { specialTokens: [] }).tokenize('[SEP]'), ['[', 'sep', ']']);
  assert.throws(() => new BertTokenizer(tinyVocab, { specialTokens: ['<s>'] }), /special token "<s>" is not in the vocabulary/);
});

test('pair encoding: [CLS] a [SEP] b [SEP], token types, truncation of the longer side', () => {
  const enc = uncased.encodePair('hello world', 'a b');
  assert.deepEqual(Array.from(enc.inputIds), [101, 7592, 2088, 102, 1037, 1038, 102]);
  assert.deepEqual(Array.from(enc.tokenTypeIds), [0, 0, 0, 0, 1, 1, 1]);
  const single = uncased.encodePair('hello world');
  assert.deepEqual(Array.from(single.inputIds), [101, 7592, 2088, 102]);
  assert.deepEqual(Array.from(single.tokenTypeIds), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(uncased.encodePair('hello world a b', undefined, 4).inputIds), [101, 7592, 2088, 102]);

  const pair = (na: number, nb: number, maxLen: number): [number, number] => {
    const a = Array.from({ length: na }, (_, i) => i);
    const b = Array.from({ length: nb }, (_, i) => i);
    truncatePair(a, b, maxLen);
    return [a.length, b.length];
  };
  assert.deepEqual(pair(10, 2, 8), [3, 2]); // only the longer side shrinks
  assert.deepEqual(pair(4, 4, 8), [3, 2]); // ties remove from b first
  assert.deepEqual(pair(5, 9, 8), [3, 2]);
  assert.deepEqual(pair(2, 2, 8), [2, 2]); // fits: untouched
  assert.deepEqual(pair(5, 5, 3), [0, 0]);
  const a = [1, 2, 3, 4];
  truncatePair(a, undefined, 4);
  assert.deepEqual(a, [1, 2]); // single sentence: cut to max_len - 2, keeping the start
  assert.throws(() => truncatePair([1], [2], 2), /max_len must be an integer >= 3 for a sentence pair, got 2/);
  assert.throws(() => truncatePair([1], undefined, 1), /max_len must be an integer >= 2 for a single sentence, got 1/);
});

test('vocabulary: ids are line numbers (LF or CRLF, BOM dropped); bad files get clear errors', () => {
  const v = parseVocab('[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\n', 'crlf.txt');
  assert.deepEqual(v.tokens, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hi']);
  assert.deepEqual([v.padId, v.unkId, v.clsId, v.sepId, v.ids.get('hi')], [0, 1, 2, 3, 4]);
  // A duplicate maps to its last line, as in the original and Hugging Face.
  assert.equal(parseVocab('[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\nx\n', 'dup.txt').ids.get('x'), 5);

  assert.throws(() => parseVocab('[PAD]\n[UNK]\nhello\n', 'v.txt'),
    (e: unknown) => e instanceof DataError && e.message === 'v.txt: vocabulary lacks the special token(s) [CLS] [SEP] (is this a BERT vocab.txt?)');
  assert.throws(() => parseVocab('[CLS]\n[SEP]\n', 'v.txt'), /^DataError: v\.txt: vocabulary lacks the special token\(s\) \[PAD\] \[UNK\]/);
  assert.throws(() => parseVocab('', 'empty.txt'), /^DataError: empty\.txt: empty vocabulary file$/);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'bertfit-vocab-'));
  try {
    const bom = path.join(dir, 'bom.txt');
    writeFileSync(bom, '\ufeff[PAD]\n[UNK]\n[CLS]\n[SEP]\n');
    assert.equal(loadVocab(bom).padId, 0);
    const bad = path.join(dir, 'vocab.txt');
    writeFileSync(bad, Buffer.concat([Buffer.from('[PAD]\n[UNK]\n[CLS]\n'), Buffer.from([0x63, 0xc3, 0x28, 0x0a]), Buffer.from('[SEP]\n')]));
    assert.throws(() => loadVocab(bad), { name: 'DataError', message: `${bad}:4: invalid UTF-8 (the file must be UTF-8 encoded)` });
    assert.throws(() => loadVocab(path.join(dir, 'missing.txt')), { name: 'DataError', message: `${path.join(dir, 'missing.txt')}: cannot read file: ENOENT` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
