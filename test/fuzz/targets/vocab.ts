// Fuzz target: vocab.txt (src/tokenizer/vocab.ts) read as the loader reads it (strict UTF-8, then parseVocab), and a
// tokenizer built on it encoding a fixed sentence pair, so odd vocabularies ("##", empty lines, duplicates, huge
// tokens, special tokens missing) are exercised through WordPiece too.
import { decodeUtf8 } from '../../../src/data/text.js';
import { BertTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { parseVocab } from '../../../src/tokenizer/vocab.js';
import { TINY_VOCAB } from '../build.js';
import { mutateBytes } from '../mutate.js';
import type { FuzzTarget } from '../runner.js';

const FILE = 'fuzz/vocab.txt';

export const target: FuzzTarget = {
  name: 'vocab',
  seeds: () => [
    TINY_VOCAB,
    '\ufeff' + TINY_VOCAB.replace(/\n/g, '\r\n'),
    TINY_VOCAB + '##\n\n中\n##文\né\n##é\n[unused0]\nthe\n' + 'x'.repeat(300) + '\n',
  ].map((s) => Buffer.from(s)),
  mutate: (seed, rng, corpus) => {
    if (rng.chance(0.3)) {
      // Line-level: repeat, drop or swap lines, which byte edits rarely do.
      const lines = seed.toString('latin1').split('\n');
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const i = rng.int(lines.length);
        const op = rng.int(3);
        if (op === 0) lines.splice(i, 1);
        else if (op === 1) lines.splice(rng.int(lines.length + 1), 0, ...Array(1 + rng.int(50)).fill(lines[i] ?? ''));
        else lines.splice(i, 1, rng.pick(['', '##', '[CLS]', '[SEP]', '[PAD]', '[UNK]', '\r', ' ', '\u0000', '##' + 'a'.repeat(1000)]));
      }
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    return mutateBytes(seed, rng, rng.pick(corpus));
  },
  run: (input) => {
    const vocab = parseVocab(decodeUtf8(input, FILE), FILE);
    const tok = new BertTokenizer(vocab, { lowerCase: true });
    tok.encodePair('The cats [SEP] sat on 中文 mats, éé!', 'the ' + 'x'.repeat(300), 32);
  },
};
