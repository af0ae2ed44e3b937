// Public surface of the tokenizer.
export { BertTokenizer, type TokenizerOptions } from './tokenizer.js';
export { type Encoding, packPair, truncatePair } from './pair.js';
export { type Vocab, loadVocab, parseVocab, REQUIRED_TOKENS, SPECIAL_TOKENS } from './vocab.js';
export { WordPiece, DEFAULT_MAX_WORD_CHARS } from './wordpiece.js';
export { basicTokenize, forEachWord } from './basic.js';
