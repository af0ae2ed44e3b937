// Hostile and sloppy data files (issue 18): the TSV/CSV/JSONL readers do work linear in the file's size (a field full
// of "" used to be quadratic), label spellings that mean one number are one class (with notices), and errors still
// name file, line and field. No timed assertions: linearity is checked by counting the characters the parser scans.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  DataError, type DatasetOptions, type Example, checkLabels, encodeDataset, labelSet, parseCsv, parseDataset, parseTsv, readDataset,
} from '../src/data/index.js';
import { canonicalLabel, canonicalNumber } from '../src/data/label-spelling.js';
import { finetune, predictFile } from '../src/index.js';
import { BertTokenizer } from '../src/tokenizer/index.js';
import { tempDir, tempFileWriter } from './train-helpers.js';
import { packageRoot } from '../src/util/paths.js';

const dir = tempDir('bertfit-security-data-');
after(() => rmSync(dir, { recursive: true, force: true }));
/** Writes `content` to a fresh temp file with the given extension and returns its path. */
const tmp = tempFileWriter(dir);

/** Reads `file`, returning the examples and every notice. */
function readWithNotices(file: string, options: DatasetOptions = {}): { examples: Example[]; notices: string[] } {
  const notices: string[] = [];
  const examples = readDataset(file, { ...options, onNotice: (m) => notices.push(m) });
  return { examples, notices };
}

/** Asserts that fn throws a DataError with exactly this message and location. */
function throwsAt(fn: () => unknown, where: { file: string; line?: number; field?: string }, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.equal(e.message, message);
    assert.deepEqual({ file: e.file, line: e.line, field: e.field }, { line: undefined, field: undefined, ...where });
    return true;
  });
}

// ---- linear time ------------------------------------------------------------------------------------------------

/**
 * Characters the parser examines through the string builtins it scans with, while fn runs: one per charCodeAt call,
 * and the distance each indexOf searched. A deterministic stand-in for time: the old CSV reader searched for the next
 * line feed from every "" of a field without one, scanning to the end of the file each time (quadratic). The
 * builtins are wrapped only for the duration of the synchronous call.
 */
function scanWork(fn: () => unknown): number {
  const proto = String.prototype;
  const { charCodeAt, indexOf } = proto;
  let work = 0;
  proto.charCodeAt = function (this: string, pos: number) { work++; return charCodeAt.call(this, pos); };
  proto.indexOf = function (this: string, search: string, from?: number) {
    const r = indexOf.call(this, search, from);
    work += (r < 0 ? this.length : r + search.length) - Math.max(0, Math.min(from ?? 0, this.length));
    return r;
  };
  try {
    fn();
  } finally {
    proto.charCodeAt = charCodeAt;
    proto.indexOf = indexOf;
  }
  return work;
}

const KB = 1024;
const ADVERSARIAL: Array<{ name: string; format: 'csv' | 'tsv' | 'jsonl'; make: (bytes: number) => string }> = [
  { name: 'CSV field of "" only', format: 'csv', make: (b) => `text_a,label\n"${'""'.repeat(b / 2)}",1\n` },
  { name: 'CSV field of "" and line breaks', format: 'csv', make: (b) => `text_a,label\n"${'"" a\n""\r\n'.repeat(b / 10)}",1\n` },
  { name: 'CSV rows of quoted fields with "", no final newline', format: 'csv', make: (b) => `text_a,label\n${'"a""b",1\n'.repeat(b / 9)}"""",0` },
  { name: 'CSV many tiny and blank lines', format: 'csv', make: (b) => `text_a,label\n${'a,1\n\r\n\n'.repeat(b / 7)}` },
  { name: 'TSV one huge line', format: 'tsv', make: (b) => `text_a\tlabel\n${'word "x" '.repeat(b / 9)}\t1\n` },
  { name: 'TSV many tiny and blank lines', format: 'tsv', make: (b) => `text_a\tlabel\n${'a\t1\n\n\n'.repeat(b / 6)}` },
  { name: 'JSONL one huge line', format: 'jsonl', make: (b) => `{"text_a": "${'say \\"hi\\" '.repeat(b / 12)}", "label": 1}\n` },
  { name: 'JSONL many tiny and blank lines', format: 'jsonl', make: (b) => `${'{"text_a":"a","label":1}\n\n\n'.repeat(b / 27)}` },
];

test('readers scan each character a bounded number of times: doubling the file doubles the work', () => {
  for (const shape of ADVERSARIAL) {
    const work = [256 * KB, 512 * KB].map((bytes) => {
      const text = shape.make(bytes);
      return { chars: text.length, work: scanWork(() => parseDataset(text, `x.${shape.format}`, { format: shape.format, emptyText: 'allow' })) };
    });
    const [small, large] = work as [typeof work[0], typeof work[0]];
    const growth = large.work / small.work;
    // linear: ~2 (quadratic would be ~4); per character: a few scans at most
    assert.ok(growth < 2.2, `${shape.name}: work grew ${growth.toFixed(2)}x when the file doubled (${small.work} -> ${large.work})`);
    assert.ok(large.work / large.chars < 6, `${shape.name}: ${(large.work / large.chars).toFixed(1)} scans per character`);
  }
});

test('a 2 MB quoted CSV field full of "" reads to the right value, and rows after it keep their line numbers', () => {
  const n = 700_000;   // 2.1 MB of a"" units
  const file = tmp('csv', `text_a,label\n"${'a""'.repeat(n)}\n""",1\r\nnext,0\n`);
  const [big, next] = readDataset(file);
  assert.equal(big!.textA.length, 2 * n + 2);
  assert.equal(big!.textA, `${'a"'.repeat(n)}\n"`);
  assert.equal(big!.line, 2);
  assert.deepEqual({ ...next!, source: undefined }, { textA: 'next', label: '0', line: 4, source: undefined });
});

test('10 MB adversarial files parse correctly (a field of "", one huge line)', () => {
  const MB = 1 << 20;
  const quotes = parseCsv(`"${'""'.repeat(5 * MB)}"`, 'q.csv');
  assert.equal(quotes.length, 1);
  assert.equal(quotes[0]!.fields[0], '"'.repeat(5 * MB));
  const tiny = parseCsv('a,1\n\r\n\n'.repeat(2 * MB / 7), 't.csv');   // 2 MB: a row object per 7 bytes adds up
  assert.equal(tiny.length, Math.floor(2 * MB / 7));
  assert.equal(tiny.at(-1)!.line, 3 * tiny.length - 2);
  const line = parseTsv(`${'word "x" '.repeat(10 * MB / 9)}\t1`);
  assert.equal(line[0]!.fields[0]!.length, 9 * Math.floor(10 * MB / 9));
  const json = parseDataset(`{"text_a": "${'say \\"hi\\" '.repeat(10 * MB / 12)}", "label": 1}`, 'j.jsonl', { format: 'jsonl' });
  assert.equal(json[0]!.textA, 'say "hi" '.repeat(10 * MB / 12));
});

test('quoted fields: "" anywhere, empty quoted fields, CRLF and lone CR, and a field that is only ""', () => {
  const rows = parseCsv('"",""""\r\n"a""","""b"\n"x\r\ny",z\r\n"\r",1\n', 'q.csv');
  assert.deepEqual(rows.map((r) => [r.fields, r.line]), [
    [['', '"'], 1], [['a"', '"b'], 2], [['x\r\ny', 'z'], 3], [['\r', '1'], 5],
  ]);
});

// ---- label spelling ----------------------------------------------------------------------------------------------

test('numeric labels are compared as numbers: "1", "01", "1.0" are one class, spelled "1", with a notice', () => {
  const file = tmp('tsv', 'text_a\tlabel\na\t 01\nb\t1.0\nc\t0\nd\t 1\ne\t+1\nf\t0.0\ng\t1e0\nh\t1\n');
  const { examples, notices } = readWithNotices(file);
  assert.deepEqual(examples.map((e) => e.label), ['1', '1', '0', '1', '1', '0', '1', '1']);
  assert.deepEqual(labelSet(examples), ['0', '1']);
  // the canonical spelling first, then the others as first seen; the line is the first other spelling's
  assert.deepEqual(notices, [
    `${file}:2: whitespace around labels ignored on 2 rows (" 01" read as "01")`,
    `${file}:2: labels "1", "01", "1.0", "+1" and more spellings read as the number 1`,
    `${file}:7: labels "0", "0.0" read as the number 0`,
  ]);
});

test('whitespace around labels is trimmed with a notice; " 1" is the class "1"', () => {
  const file = tmp('csv', 'text_a,label\na, pos\nb,neg \nc,pos\nd, 1\n');
  const { examples, notices } = readWithNotices(file);
  assert.deepEqual(examples.map((e) => e.label), ['pos', 'neg', 'pos', '1']);
  assert.deepEqual(notices, [`${file}:2: whitespace around labels ignored on 3 rows (" pos" read as "pos")`]);
});

test('non-numeric labels are untouched; "1" and "1.5" stay distinct; no notice when nothing changed', () => {
  const labels = ['pos', 'NEG', '1a', '0x1', '1,000', 'Infinity', 'NaN', '1.5', '1', 'e5', '-', '.'];
  const file = tmp('jsonl', labels.map((l, i) => JSON.stringify({ text_a: `t${i}`, label: l })).join('\n'));
  const { examples, notices } = readWithNotices(file);
  assert.deepEqual(examples.map((e) => e.label), labels);
  assert.deepEqual(notices, []);
  assert.notEqual(canonicalLabel('1.5'), canonicalLabel('1'));
});

test('JSON lines: number and string labels meet in one spelling', () => {
  const file = tmp('jsonl', [1, '1', 1.0, '01', ' 2 ', 2.5, '2.50', true].map((l, i) => JSON.stringify({ text_a: `t${i}`, label: l })).join('\n'));
  const { examples, notices } = readWithNotices(file);
  assert.deepEqual(examples.map((e) => e.label), ['1', '1', '1', '1', '2', '2.5', '2.5', 'true']);
  assert.deepEqual(notices, [
    `${file}:5: whitespace around labels ignored on 1 row (" 2 " read as "2")`,
    `${file}:4: labels "1", "01" read as the number 1`,
    `${file}:7: labels "2.5", "2.50" read as the number 2.5`,
  ]);
});

test('the canonical spelling is the number as JavaScript writes it, with every digit kept', () => {
  const cases: Array<[string, string | null]> = [
    ['01', '1'], ['1.0', '1'], ['+1', '1'], ['-0', '0'], ['00.000', '0'], ['.50', '0.5'], ['1.', '1'], ['1e3', '1000'],
    ['-1.50E+2', '-150'], ['1E21', '1e+21'], ['1e20', '100000000000000000000'], ['0.0000001', '1e-7'], ['123e-2', '1.23'],
    ['12345678901234567891', '12345678901234567891'], ['', null], ['+', null], ['.', null], ['e5', null], ['0x1', null],
    ['1,000', null], ['Infinity', null], ['1e1234567', null],
  ];
  for (const [s, want] of cases) assert.equal(canonicalNumber(s), want, s);
  // agrees with String(Number(x)) wherever a double holds the number exactly
  for (const x of [0, 1, -1, 0.5, 1e21, 1.5e-7, 123456789, 3.8, -0.001]) {
    assert.equal(canonicalNumber(String(x)), String(x));
    assert.equal(canonicalNumber(x.toExponential()), String(x));
  }
  // long ids are never merged by rounding, and sort exactly
  assert.deepEqual(labelSet(['100000000000000000000', '12345678901234567891', '12345678901234567890', '99999999999999999999', '-5'].map(
    (label, i) => ({ textA: 'x', label, line: i + 1 }))), ['-5', '12345678901234567890', '12345678901234567891', '99999999999999999999', '100000000000000000000']);
});

test('notices are capped: a regression file with many respelled numbers gets a few lines, not thousands', () => {
  const file = tmp('tsv', `text_a\tlabel\n${Array.from({ length: 1000 }, (_, i) => `t\t${(i / 100).toFixed(3)}`).join('\n')}\n`);
  const { examples, notices } = readWithNotices(file);
  assert.equal(examples[1]!.label, '0.01');
  assert.equal(notices.length, 6);
  assert.equal(notices[0], `${file}:2: label "0.000" read as the number 0`);
  assert.match(notices[5]!, /: \d+ more numeric labels written in other ways read as numbers$/);
});

test('labelSpelling "exact" keeps labels as written (the GLUE readers), and multi-label fields respell too', () => {
  const file = tmp('tsv', 'text_a\tlabel\na\t01\nb\t 1\n');
  const { examples, notices } = readWithNotices(file, { labelSpelling: 'exact' });
  assert.deepEqual(examples.map((e) => e.label), ['01', ' 1']);
  assert.deepEqual(notices, []);

  const multi = tmp('tsv', 'text_a\tlabel\na\t01|b\nb\t1.0| 2\n');
  assert.deepEqual(readDataset(multi, { labelSep: '|' }).map((e) => e.labels), [['1', 'b'], ['1', '2']]);
  const twice = tmp('tsv', 'text_a\tlabel\na\t1|01\n');
  throwsAt(() => readDataset(twice, { labelSep: '|' }), { file: twice, line: 2, field: 'label' },
    `${twice}:2: field "label": label "1" is listed twice ("1" and "01" read as the same label)`);
  const json = tmp('jsonl', JSON.stringify({ text_a: 'a', label: ['2', 2] }));
  throwsAt(() => readDataset(json), { file: json, line: 1, field: 'label' }, `${json}:1: field "label": label "2" is listed twice`);
});

test('an explicit label list keeps its spelling and matches data labels by number; a list naming one number twice is refused', () => {
  const tokenizer = BertTokenizer.fromVocabFile(path.join(packageRoot, 'assets', 'vocab-bert-base-uncased.txt'));
  const rows: Example[] = ['1', '2', '1.0', '02'].map((label, i) => ({ textA: 'a b', label, line: i + 1, source: 'x.tsv' }));
  assert.deepEqual(encodeDataset(rows, tokenizer, ['01', '02'], 8).map((e) => e.label), [0, 1, 0, 1]);
  assert.deepEqual(encodeDataset(rows, tokenizer, ['1', '2'], 8).map((e) => e.label), [0, 1, 0, 1]);
  // a list (e.g. an old checkpoint's id2label) with two spellings of one number matches exactly only
  assert.deepEqual(encodeDataset(rows.slice(0, 2), tokenizer, ['1', '01', '2'], 8).map((e) => e.label), [0, 2]);
  assert.throws(() => checkLabels(['1', '01']), /the label list has "1" and "01", which read as the same label "1"/);
  assert.throws(() => checkLabels(['pos', ' pos']), /the label list has "pos" and " pos", which read as the same label "pos"/);
  assert.doesNotThrow(() => checkLabels(['1', '1.5', 'pos']));
});

test('finetune: config.json id2label and predictions use the canonical spelling', async () => {
  const spellings = ['1', '01', '1.0', ' 1', '0', '00', '0.0', '0'];
  const rows = Array.from({ length: 32 }, (_, i) => `w${i % 7} x${i % 3}\t${spellings[i % 8]}`);
  const train = tmp('tsv', `text_a\tlabel\n${rows.join('\n')}\n`);
  const out = path.join(dir, 'run');
  const r = await finetune({ model: 'random:tiny', train, dev: train, test: train, out, epochs: 1, batchSize: 16, maxLen: 16, threads: 1, seed: 1 });
  const config = JSON.parse(readFileSync(path.join(r.outputs.checkpointBest, 'config.json'), 'utf8')) as { id2label: Record<string, string> };
  assert.deepEqual(config.id2label, { 0: '0', 1: '1' });
  const preds = await predictFile({ model: r.outputs.checkpointBest, data: train, threads: 1 });
  assert.ok(preds.every((p) => p.label === '0' || p.label === '1'), JSON.stringify(preds.map((p) => p.label)));
});

// ---- errors name file, line and field ----------------------------------------------------------------------------

test('errors after long quoted fields still name file, line and field', () => {
  const head = `text_a,label\n"${'""\n'.repeat(3)}",1\n`;   // the quoted field spans lines 2-5
  const cases: Array<[string, number, string, string]> = [
    [`${head}ok,1\n"never closed,1\n`, 7, 'column 0', 'unterminated quoted field (the " opened here is never closed)'],
    [`${head}"a"b,1\n`, 6, 'column 0', 'unexpected "b" after a closing quote (a quote inside a quoted field must be doubled: "")'],
    [`${head}ok,1\r\nx,a"b\n`, 7, 'column 1', 'quote (") inside an unquoted field: enclose the field in quotes and double the quote ("")'],
    [`${head}"multi\nline"x,1\n`, 7, 'column 0', 'unexpected "x" after a closing quote (a quote inside a quoted field must be doubled: "")'],
    [`${head}ok, \n`, 6, 'label', 'empty label'],
  ];
  for (const [text, line, field, problem] of cases) {
    const file = tmp('csv', text);
    throwsAt(() => readDataset(file), { file, line, field }, `${file}:${line}: field "${field}": ${problem}`);
  }
  const json = tmp('jsonl', `{"text_a": "${'\\"'.repeat(1000)}", "label": 1}\n\n{"text_a": "x", "label": {}}\n`);
  throwsAt(() => readDataset(json), { file: json, line: 3, field: 'label' },
    `${json}:3: field "label": expected a string, number or boolean label (or a list of labels), got {}`);
  // values quoted in messages are bounded: deep nesting (JSON.stringify would overflow the stack) and huge strings
  const deep = tmp('jsonl', `{"text_a": "a", "label": 1}\n{"text_a": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "label": 1}\n`);
  throwsAt(() => readDataset(deep), { file: deep, line: 2, field: 'text_a' }, `${deep}:2: field "text_a": expected a string, got [[[[…]]]]`);
  const long = tmp('jsonl', JSON.stringify({ text_a: 'a', label: ['x'.repeat(1 << 20), 'x'.repeat(1 << 20)] }));
  throwsAt(() => readDataset(long), { file: long, line: 1, field: 'label' }, `${long}:1: field "label": label "${'x'.repeat(60)}…" is listed twice`);
  const bad = tmp('jsonl', '{"text_a": "a", "label": 1}\n{"text_a": "b", "label": 1\n');
  assert.throws(() => readDataset(bad), (e: unknown) => e instanceof DataError && e.line === 2 && e.message.startsWith(`${bad}:2: invalid JSON: `));
});
