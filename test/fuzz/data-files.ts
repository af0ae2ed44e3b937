// What the TSV/CSV/JSONL fuzz targets share: text-aware mutations (the bytes a delimited or JSON-lines file is made
// of, invalid UTF-8, huge fields) and the reading of one input the way `bertfit finetune --train FILE` reads it.
import { type DataFormat, type DatasetOptions, parseDataset } from '../../src/data/dataset.js';
import { encodeDataset } from '../../src/data/encode.js';
import { DataError } from '../../src/data/errors.js';
import { checkLabels, labelSet } from '../../src/data/labels.js';
import { decodeUtf8 } from '../../src/data/text.js';
import type { Example } from '../../src/data/types.js';
import { bundledVocabFile } from '../../src/model/open.js';
import { BertTokenizer } from '../../src/tokenizer/tokenizer.js';
import { MAX_INPUT_BYTES, mutateBytes } from './mutate.js';
import type { Rng } from './rng.js';

/** Byte strings parsers of these formats treat specially, inserted or overwritten at random offsets. */
const TOKENS: readonly Buffer[] = [
  '"', '""', '"""', '\t', ',', ';', '|', '\n', '\r\n', '\r', '\n\n', ' ', '\\', '\\"', '\\u', '\\ud800', '{', '}', '[', ']', ':',
  '"label":', '"text_a":', '"text_b":', 'null', 'true', '1e999', '-0', '01', '1.0', ' 1', '1e1234567', '0x1', 'NaN',
  '\u0000', '\u2028', '\u00a0', '中', '\ud83d\ude00',
].map((s) => Buffer.from(s, 'utf8')).concat([
  Buffer.from([0xef, 0xbb, 0xbf]),   // a BOM (at the start it is dropped; elsewhere it is text)
  Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),   // invalid UTF-8
  Buffer.from([0xe4, 0xb8]),   // a truncated multi-byte character
]);

/** Long runs that make a field, a line or the file large (the quadratic cases of issue 18 among them). */
function hugeRun(rng: Rng): Buffer {
  const n = 1 + rng.int(60_000);
  const unit = rng.pick(['x', '""', '"', '\n', '\r\n', '\t', ',', '0', 'a b ', '\\"', '[', '{"a":']);
  return Buffer.from(unit.repeat(Math.max(1, Math.floor(n / unit.length))));
}

/**
 * One mutation of a data file: 1-4 text-level edits (insert a special token, overwrite with one, insert a huge run,
 * repeat or drop a line, truncate) or, a quarter of the time, the generic byte-level edits.
 */
export function mutateDataFile(seed: Buffer, rng: Rng, corpus: readonly Buffer[]): Buffer {
  if (rng.chance(0.25)) return mutateBytes(seed, rng, rng.pick(corpus));
  let b = seed;
  for (let k = 1 + rng.int(4); k > 0; k--) {
    const at = rng.int(b.length + 1);
    switch (rng.int(6)) {
      case 0: b = Buffer.concat([b.subarray(0, at), rng.pick(TOKENS), b.subarray(at)]); break;
      case 1: { const t = rng.pick(TOKENS); b = Buffer.concat([b.subarray(0, at), t, b.subarray(at + t.length)]); break; }
      case 2: b = Buffer.concat([b.subarray(0, at), hugeRun(rng), b.subarray(at)]); break;
      case 3: { // repeat a line many times (many rows), or drop one
        const start = b.lastIndexOf(0x0a, at - 1) + 1;
        let end = b.indexOf(0x0a, at);
        end = end < 0 ? b.length : end + 1;
        const line = b.subarray(start, end);
        // copies capped so the result stays near MAX_INPUT_BYTES (2000 copies of a long line would be gigabytes)
        const copies = Math.min(1 + rng.int(2000), Math.floor(Math.max(0, MAX_INPUT_BYTES - b.length) / Math.max(1, line.length)));
        b = rng.chance(0.5) ? Buffer.concat([b.subarray(0, end), ...Array<Buffer>(copies).fill(line), b.subarray(end)])
          : Buffer.concat([b.subarray(0, start), b.subarray(end)]);
        break;
      }
      case 4: b = b.subarray(0, at); break;
      case 5: b = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]); break;
    }
    if (b.length > MAX_INPUT_BYTES) b = b.subarray(0, MAX_INPUT_BYTES);
  }
  return b;
}

/** The reader options each input is tried with: the defaults, and the less common paths. */
const VARIANTS: readonly DatasetOptions[] = [
  {},
  { emptyText: 'skip', raggedRows: 'skip', labelSep: '|' },
  { textB: null, label: null, emptyText: 'allow' },
  { labelSpelling: 'exact', id: 'id', emptyText: 'allow' },
];

const tokenizer = BertTokenizer.fromVocabFile(bundledVocabFile(), { lowerCase: true });

/**
 * Reads `input` as a file of `format` under each option variant, as the product does: strict UTF-8 decoding, the
 * reader, then (for labelled data) the label set and encoding of the first rows against it. A DataError ends one
 * variant (the expected outcome for a broken file); when every variant ended so, the first is rethrown. Any
 * other error escapes at once: it is a bug. Also checks what must hold for data that was accepted: every label read is
 * in the label set, and that set is a valid label list.
 */
export function readDataFile(input: Buffer, format: DataFormat): void {
  const file = `fuzz/data.${format}`;
  const text = decodeUtf8(input, file);
  let first: DataError | null = null;
  let failed = 0;
  for (const options of VARIANTS) {
    const notices: string[] = [];
    let examples: Example[];
    try {
      examples = parseDataset(text, file, { ...options, format, onNotice: (m) => notices.push(m) });
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      first ??= e;
      failed++;
      continue;
    }
    if (options.label === null) continue;
    const labels = labelSet(examples);
    // a RangeError here means two spellings of one label slipped through ('exact' keeps them apart on purpose)
    if (options.labelSpelling !== 'exact') checkLabels(labels);
    const multi = examples.some((ex) => ex.labels !== undefined);
    try {
      encodeDataset(examples.slice(0, 64), tokenizer, labels, 16, multi ? 'multi_label_classification' : 'single_label_classification');
    } catch (e) {
      // every label of accepted data is in its own label set: a DataError here (an allowed type) would hide a bug
      throw new Error(`accepted data failed to encode against its own labels: ${(e as Error).message}`);
    }
  }
  // the outcome the runner counts: an error only when no variant could read the input
  if (first !== null && failed === VARIANTS.length) throw first;
}
