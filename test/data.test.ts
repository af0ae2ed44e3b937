import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';
import { fileURLToPath } from 'node:url';
import {
  DataError, type DatasetOptions, type Example, encodeDataset, labelSet, parseCsv, readDataset, taskDatasets, taskFileOptions,
} from '../src/data/index.js';
import { BertTokenizer } from '../src/tokenizer/index.js';
import { tempDir, tempFileWriter } from './train-helpers.js';

const shared = path.resolve(packageRoot, '../shared');
const tokenizer = BertTokenizer.fromVocabFile(path.join(shared, 'tokenizer/vocab/bert-base-uncased.txt'));

const dir = tempDir('bertfit-data-');
after(() => rmSync(dir, { recursive: true, force: true }));
/** Writes `content` to a fresh temp file with the given extension and returns its path. */
const tmp = tempFileWriter(dir);
/** Asserts that reading throws a DataError with exactly this message, where FILE stands for the path. */
function rejects(file: string, options: DatasetOptions, message: string): void {
  assert.throws(() => readDataset(file, options), (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.equal(e.message, message.replace('FILE', file));
    return true;
  });
}

test('MRPC in GLUE layout: 3668/408/1725 rows, labels ["0","1"], BOM and unbalanced quotes handled', () => {
  const mrpc = taskDatasets('mrpc', path.join(shared, 'data/mrpc'));
  assert.equal(mrpc.train.length, 3668);
  assert.equal(mrpc.dev.length, 408);
  assert.equal(mrpc.test?.length, 1725);
  assert.deepEqual(mrpc.labels, ['0', '1']);
  assert.deepEqual(labelSet(mrpc.train), ['0', '1']);
  assert.equal(mrpc.train.filter((e) => e.label === '1').length, 2474);
  assert.equal(mrpc.dev.filter((e) => e.label === '1').length, 279);
  assert.ok(mrpc.test!.every((e) => e.label === undefined && e.textB !== undefined));
  const first = mrpc.train[0]!;
  assert.equal(first.line, 2);
  assert.equal(first.source, path.join(shared, 'data/mrpc/train.tsv'));
  assert.equal(first.textA, 'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .');
  assert.equal(first.textB, 'Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .');
  // The row GitHub's F0restL1n/BERT train.tsv lacks (SOURCE.md): data line 92.
  assert.match(mrpc.train[91]!.textA, /^Officials at Brandeis said/);
  assert.deepEqual(mrpc.test![0]!.textA.slice(0, 13), "PCCW 's chief");
  // Unbalanced quotes stay inside their field: a row with an odd number of " exists and parses whole.
  assert.ok(mrpc.train.some((e) => (e.textA.split('"').length - 1) % 2 === 1));
  assert.throws(() => taskDatasets('nope', dir), /unknown task "nope" \(known: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli\)/);
  assert.deepEqual(taskFileOptions('mrpc', false), { format: 'tsv', textA: '#1 String', textB: '#2 String', label: null });
});

test('encodeDataset on MRPC dev matches the golden encodings (max_len 128), label 1 = paraphrase', () => {
  const golden = new Map<string, number[]>();
  for (const l of readFileSync(path.join(shared, 'tokenizer/goldens/mrpc.uncased.maxlen128.jsonl'), 'utf8').split('\n')) {
    if (!l) continue;
    const g = JSON.parse(l) as { text_a: string; text_b: string; input_ids: number[] };
    golden.set(`${g.text_a}\t${g.text_b}`, g.input_ids);
  }
  const mrpc = taskDatasets('mrpc', path.join(shared, 'data/mrpc'));
  const encoded = encodeDataset(mrpc.dev, tokenizer, mrpc.labels, 128);
  assert.equal(encoded.length, 408);
  encoded.forEach((enc, i) => {
    const ex = mrpc.dev[i]!;
    assert.equal(enc.index, i);
    assert.equal(enc.label, ex.label === '1' ? 1 : 0);
    assert.deepEqual(Array.from(enc.inputIds), golden.get(`${ex.textA}\t${ex.textB}`), `dev line ${ex.line}`);
    assert.equal(enc.tokenTypeIds.length, enc.inputIds.length);
  });
  // Prediction data: no labels -> -1.
  assert.ok(encodeDataset(mrpc.test!.slice(0, 5), tokenizer, mrpc.labels, 128).every((e) => e.label === -1));
  assert.ok(encodeDataset(mrpc.dev.slice(0, 5), tokenizer, null, 128).every((e) => e.label === -1));
});

test('TSV: header names or 0-based indices, no quoting, CRLF and BOM, blank lines skipped', () => {
  const file = tmp('tsv', '\ufefftext_a\ttext_b\tlabel\r\n"Hi\tthere "x\tyes\r\n\r\nb\tc\tno\r\n');
  const expected: Example[] = [
    { textA: '"Hi', textB: 'there "x', label: 'yes', line: 2, source: file },
    { textA: 'b', textB: 'c', label: 'no', line: 4, source: file },
  ];
  assert.deepEqual(readDataset(file), expected);
  const noHeader = tmp('tsv', '5\tone\n7\ttwo\n');
  assert.deepEqual(readDataset(noHeader, { header: false, textA: 1, textB: null, label: 0 }), [
    { textA: 'one', label: '5', line: 1, source: noHeader },
    { textA: 'two', label: '7', line: 2, source: noHeader },
  ]);
  // text_b is optional by default; label null reads a prediction file.
  const single = tmp('tsv', 'id\ttext_a\n1\tonly a\n');
  assert.deepEqual(readDataset(single, { label: null }), [{ textA: 'only a', line: 2, source: single }]);
  assert.throws(() => readDataset(noHeader, { header: false }), /textA: column "text_a" is chosen by name, but the file has no header/);
});

test('CSV (RFC 4180): quoted delimiters, doubled quotes, line breaks in fields, CRLF', () => {
  const text = 'text_a,text_b,label\r\n"a, b","say ""hi""",1\r\nplain,"two\r\nlines",0\r\n"",x,1\r\nlast,"",0';
  const rows = parseCsv(text, 'mem.csv');
  assert.deepEqual(rows.map((r) => r.line), [1, 2, 3, 5, 6]);
  assert.deepEqual(rows[1]!.fields, ['a, b', 'say "hi"', '1']);
  assert.deepEqual(rows[2]!.fields, ['plain', 'two\r\nlines', '0']);
  assert.deepEqual(rows[3]!.fields, ['', 'x', '1']);
  assert.deepEqual(rows[4]!.fields, ['last', '', '0']);
  assert.deepEqual(parseCsv('a,b,\n\n,\n', 'mem.csv'), [{ fields: ['a', 'b', ''], line: 1 }, { fields: ['', ''], line: 3 }]);
  assert.deepEqual(parseCsv('a;"b;c"\n', 'mem.csv', ';'), [{ fields: ['a', 'b;c'], line: 1 }]);
  const file = tmp('csv', 'label,text_a\n1,"x, y"\n0,z\n');
  assert.deepEqual(readDataset(file).map((e) => [e.label, e.textA, e.line]), [['1', 'x, y', 2], ['0', 'z', 3]]);
});

test('JSONL: default fields, optional text_b, numeric and boolean labels', () => {
  const file = tmp('jsonl', '{"text_a": "a", "text_b": "b", "label": 1}\n\n{"text_a": "c", "label": "neg", "extra": 0}\n{"text_a": "d", "text_b": null, "label": true}\n');
  assert.deepEqual(readDataset(file), [
    { textA: 'a', textB: 'b', label: '1', line: 1, source: file },
    { textA: 'c', label: 'neg', line: 3, source: file },
    { textA: 'd', label: 'true', line: 4, source: file },
  ]);
  const custom = tmp('ndjson', '{"q": "x", "p": "y", "y": 0}\n');
  assert.deepEqual(readDataset(custom, { textA: 'q', textB: 'p', label: 'y' }), [{ textA: 'x', textB: 'y', label: '0', line: 1, source: custom }]);
  assert.throws(() => readDataset(custom, { textA: 0 }), /textA: JSON lines fields are chosen by name, got the index 0/);
  assert.throws(() => readDataset(path.join(dir, 'data.txt')), /cannot tell the format of .*data\.txt from its extension/);
});

test('empty texts: allowed for prediction, skipped with a report, an error by default', () => {
  const tsv = tmp('tsv', 'text_a\ttext_b\tlabel\na\tb\t1\n\tb\t0\nc\t \t1\nd\te\t0\n');
  assert.deepEqual(readDataset(tsv, { emptyText: 'allow' }).map((e) => [e.textA, e.textB, e.line]),
    [['a', 'b', 2], ['', 'b', 3], ['c', ' ', 4], ['d', 'e', 5]]);
  const skipped: string[] = [];
  const kept = readDataset(tsv, { emptyText: 'skip', onSkip: (w) => skipped.push(`${w.line}:${w.field}`) });
  assert.deepEqual(kept.map((e) => e.line), [2, 5]);
  assert.deepEqual(skipped, ['3:text_a', '4:text_b']);
  const jsonl = tmp('jsonl', '{"text_a": "", "label": 0}\n{"text_a": "x", "label": 1}\n');
  assert.deepEqual(readDataset(jsonl, { emptyText: 'skip' }).map((e) => e.textA), ['x']);
  assert.deepEqual(readDataset(jsonl, { emptyText: 'allow' }).map((e) => e.textA), ['', 'x']);
});

test('bad input: every error names the file, the line and the field', () => {
  const tsv = 'text_a\ttext_b\tlabel\n';
  // missing column
  rejects(tmp('tsv', tsv + 'a\tb\t1\n'), { textB: 'sentence2' }, 'FILE:1: field "sentence2": missing column (the header has "text_a", "text_b", "label")');
  rejects(tmp('tsv', 'a\tb\n'), { header: false, textA: 0, label: 2 }, 'FILE:1: field "column 2": missing column: rows have 2 columns (0-based indices 0-1)');
  rejects(tmp('jsonl', '{"text_a": "a", "label": 1}\n{"text_a": "b"}\n'), {}, 'FILE:2: field "label": missing field');
  rejects(tmp('jsonl', '{"text_a": "a", "label": 1}\n'), { textB: 'text_b' }, 'FILE:1: field "text_b": missing field');
  rejects(tmp('tsv', 'x\tx\n1\t2\n'), { textA: 'x', label: null }, 'FILE:1: field "x": the header has this column twice');
  // ragged row
  rejects(tmp('tsv', tsv + 'a\tb\t1\nc\td\n'), {}, 'FILE:3: ragged row: 2 fields, expected 3 as in the header');
  rejects(tmp('csv', 'a,b\nc,d,e\n'), { header: false, textA: 0, label: 1 }, 'FILE:2: ragged row: 3 fields, expected 2 as in the first row');
  // quoting (CSV)
  rejects(tmp('csv', 'text_a,label\n"fine",1\n"open,0\nmore,1\n'), {}, 'FILE:3: field "column 0": unterminated quoted field (the " opened here is never closed)');
  rejects(tmp('csv', 'text_a,label\nsay "hi",1\n'), {}, 'FILE:2: field "column 0": quote (") inside an unquoted field: enclose the field in quotes and double the quote ("")');
  rejects(tmp('csv', 'text_a,label\n"a"b,1\n'), {}, 'FILE:2: field "column 0": unexpected "b" after a closing quote (a quote inside a quoted field must be doubled: "")');
  // empty text / label
  const emptyText = 'empty text (skip such rows with --skip-empty / skipEmpty, or fix the file)';
  rejects(tmp('tsv', tsv + 'a\tb\t1\nc\t  \t0\n'), {}, `FILE:3: field "text_b": ${emptyText}`);
  rejects(tmp('csv', 'label,text_a\n1,""\n'), {}, `FILE:2: field "text_a": ${emptyText}`);
  rejects(tmp('jsonl', '{"text_a": "", "label": 0}\n'), {}, `FILE:1: field "text_a": ${emptyText}`);
  // every row empty and skipped: nothing left is an error too
  rejects(tmp('jsonl', '{"text_a": "", "label": 0}\n'), { emptyText: 'skip' }, 'FILE: no lines left: every line has an empty text');
  rejects(tmp('csv', 'label,text_a\n1,""\n'), { emptyText: 'skip' }, 'FILE: no rows left: every row has an empty text');
  rejects(tmp('tsv', tsv + 'a\tb\t\n'), {}, 'FILE:2: field "label": empty label');
  // JSON
  rejects(tmp('jsonl', '{"text_a": "a", "label": 0}\n{"text_a": "b",}\n'), {}, 'FILE:2: invalid JSON: ' + jsonError('{"text_a": "b",}'));
  rejects(tmp('jsonl', '"just a string"\n'), {}, 'FILE:1: expected a JSON object, got "just a string"');
  rejects(tmp('jsonl', '{"text_a": ["a"], "label": 0}\n'), {}, 'FILE:1: field "text_a": expected a string, got ["a"]');
  rejects(tmp('jsonl', '{"text_a": "a", "label": {"x": 1}}\n'), {}, 'FILE:1: field "label": expected a string, number or boolean label (or a list of labels), got {"x":1}');
  // invalid UTF-8: a lone continuation byte, and a truncated 3-byte sequence
  rejects(tmp('tsv', Buffer.concat([Buffer.from(tsv + 'a\tb\t1\nc\t'), Buffer.from([0x80]), Buffer.from('\t0\n')])), {},
    'FILE:3: invalid UTF-8 (the file must be UTF-8 encoded)');
  rejects(tmp('jsonl', Buffer.from([0x7b, 0x0a, 0xe2, 0x82, 0x0a])), {}, 'FILE:2: invalid UTF-8 (the file must be UTF-8 encoded)');
  // empty files
  rejects(tmp('tsv', ''), {}, 'FILE: empty file (no rows)');
  rejects(tmp('csv', '\n\n'), {}, 'FILE: empty file (no rows)');
  rejects(tmp('jsonl', '\n  \n'), {}, 'FILE: empty file (no JSON lines)');
  rejects(tmp('tsv', tsv), {}, 'FILE:1: no data rows after the header');
  rejects(path.join(dir, 'missing.tsv'), {}, 'FILE: cannot read file: ENOENT');
});

function jsonError(raw: string): string {
  try {
    JSON.parse(raw);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected invalid JSON');
}

test('unknown label in an eval file names file, line and label; label sets sort stably', () => {
  const train = readDataset(tmp('tsv', 'text_a\tlabel\na\t1\nb\t0\n'));
  const devFile = tmp('tsv', 'text_a\tlabel\nc\t0\nd\t2\n');
  const labels = labelSet(train);
  assert.deepEqual(labels, ['0', '1']);
  assert.throws(() => encodeDataset(readDataset(devFile), tokenizer, labels, 16),
    { name: 'DataError', message: `${devFile}:3: field "label": unknown label "2" (the labels are "0", "1")` });
  const ex = (label?: string): Example => ({ textA: 'x', line: 1, ...(label === undefined ? {} : { label }) });
  assert.deepEqual(labelSet(['10', '9', '2', '-1', '9'].map(ex)), ['-1', '2', '9', '10']);
  assert.deepEqual(labelSet(['b', 'B', 'a', '10', '9'].map(ex)), ['10', '9', 'B', 'a', 'b']);
  assert.deepEqual(labelSet(['1', '01'].map(ex)), ['01', '1']);
  assert.throws(() => labelSet([ex('a'), { textA: 'y', line: 7, source: 'p.tsv' }]),
    { name: 'DataError', message: 'p.tsv:7: example has no label, so the label set cannot be taken from this data' });
  assert.throws(() => encodeDataset(train, tokenizer, ['0', '0'], 16), /the label list has "0" twice/);
  assert.throws(() => encodeDataset(train, tokenizer, [], 16), /the label list is empty/);
  assert.throws(() => encodeDataset(train, tokenizer, labels, 2), /maxLen must be an integer >= 3, got 2/);
});

test('encodeDataset truncates to max_len and keeps input order in index', () => {
  const examples = readDataset(tmp('jsonl', '{"text_a": "one two three four five", "text_b": "six seven", "label": "b"}\n{"text_a": "eight", "label": "a"}\n'));
  const enc = encodeDataset(examples, tokenizer, ['a', 'b'], 7);
  assert.deepEqual(tokenizer.idsToTokens(enc[0]!.inputIds), ['[CLS]', 'one', 'two', '[SEP]', 'six', 'seven', '[SEP]']);
  assert.deepEqual(Array.from(enc[0]!.tokenTypeIds), [0, 0, 0, 0, 1, 1, 1]);
  assert.deepEqual([enc[0]!.label, enc[0]!.index, enc[1]!.label, enc[1]!.index], [1, 0, 0, 1]);
  assert.deepEqual(tokenizer.idsToTokens(enc[1]!.inputIds), ['[CLS]', 'eight', '[SEP]']);
});
