// GLUE tasks in their published layouts: the real CoLA, STS-B, WNLI and MRPC files in ../shared/data, layout
// fixtures for SST-2, QQP, MNLI, QNLI and RTE (fixtures/glue), label checks, locating a task, submission files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataError, type DataLocation, type Example, encodeDataset, readDataset } from '../src/data/index.js';
import { BertTokenizer } from '../src/tokenizer/tokenizer.js';
import { TASKS, TASK_NAMES, taskDatasets, taskFileOptions, taskSpec } from '../src/data/tasks.js';
import { locateTask } from '../src/data/glue-locate.js';
import { exampleIds, submissionFileName, submissionTsv, writeSubmission } from '../src/data/submission.js';
import { packageRoot } from '../src/util/paths.js';

const shared = path.resolve(packageRoot, '../shared/data');
const fixtures = path.join(packageRoot, 'fixtures', 'glue');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bertfit-glue-'));
const noShared = (d: string) => !existsSync(path.join(shared, d, 'train.tsv')) && `no ../shared/data/${d}`;

const count = (xs: readonly Example[], label: string) => xs.filter((e) => e.label === label).length;
const ids = (xs: readonly Example[]) => xs.map((e) => e.id);
const range = (n: number) => Array.from({ length: n }, (_, i) => String(i));

/** Asserts that fn throws a DataError at this file and line whose message matches re. */
function throwsAt(fn: () => unknown, file: string, line: number, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(`${file}:${line}: `), e.message);
    return true;
  });
}

/** A copy of a task directory in tmp, with `file`'s line `line` (1-based) replaced. */
function withLine(srcDir: string, name: string, file: string, line: number, text: string): string {
  const dir = path.join(tmp, name);
  cpSync(srcDir, dir, { recursive: true });
  const lines = readFileSync(path.join(dir, file), 'utf8').split('\n');
  lines[line - 1] = text;
  writeFileSync(path.join(dir, file), lines.join('\n'));
  return dir;
}

test('the task table: nine GLUE tasks, label lists in processor order, metrics, splits and submission names', () => {
  assert.deepEqual(TASK_NAMES, ['cola', 'sst2', 'mrpc', 'stsb', 'qqp', 'mnli', 'qnli', 'rte', 'wnli']);
  const summary = Object.fromEntries(TASK_NAMES.map((t) => {
    const s = TASKS[t]!;
    return [t, [s.problemType === 'regression' ? null : s.labels, s.metrics, s.mainMetric, Object.values(s.submissionFiles), s.dataDirName]];
  }));
  assert.deepEqual(summary, {
    cola: [['0', '1'], ['mcc'], 'mcc', ['CoLA.tsv'], 'glue-cola'],
    sst2: [['0', '1'], ['accuracy'], 'accuracy', ['SST-2.tsv'], 'glue-sst2'],
    mrpc: [['0', '1'], ['accuracy', 'f1'], 'accuracy', ['MRPC.tsv'], 'mrpc'],
    stsb: [null, ['pearson', 'spearman'], 'pearson', ['STS-B.tsv'], 'glue-stsb'],
    qqp: [['0', '1'], ['accuracy', 'f1'], 'accuracy', ['QQP.tsv'], 'glue-qqp'],
    mnli: [['contradiction', 'entailment', 'neutral'], ['accuracy'], 'accuracy', ['MNLI-m.tsv', 'MNLI-mm.tsv'], 'glue-mnli'],
    qnli: [['entailment', 'not_entailment'], ['accuracy'], 'accuracy', ['QNLI.tsv'], 'glue-qnli'],
    rte: [['entailment', 'not_entailment'], ['accuracy'], 'accuracy', ['RTE.tsv'], 'glue-rte'],
    wnli: [['0', '1'], ['accuracy'], 'accuracy', ['WNLI.tsv'], 'glue-wnli'],
  });
  assert.equal(TASKS.stsb!.labels, null);
  assert.deepEqual(TASKS.mnli!.devSplits, ['dev_matched', 'dev_mismatched']);
  assert.deepEqual(TASKS.mnli!.testSplits, ['test_matched', 'test_mismatched']);
  assert.throws(() => taskSpec('sst-2'), /unknown task "sst-2" \(known: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli\)/);
});

test('CoLA (real): 8551/1043/1063 rows, label from column 1, sentence from column 3, no header; test ids', { skip: noShared('glue-cola') }, () => {
  const dir = path.join(shared, 'glue-cola');
  const d = taskDatasets('cola', dir);
  assert.equal(d.train.length, 8551);
  assert.equal(d.dev.length, 1043);   // dev.tsv has no final newline: the last row still counts
  assert.equal(d.test?.length, 1063);
  assert.deepEqual([count(d.train, '1'), count(d.train, '0'), count(d.dev, '1'), count(d.dev, '0')], [6023, 2528, 721, 322]);
  assert.deepEqual(d.labels, ['0', '1']);
  assert.deepEqual(Object.keys(d.devSplits), ['dev']);
  assert.deepEqual(Object.keys(d.testSplits), ['test']);
  const first = d.train[0]!, last = d.train.at(-1)!;
  assert.deepEqual([first.line, first.textA, first.label, first.textB], [1, "Our friends won't buy this analysis, let alone the next one we propose.", '1', undefined]);
  assert.deepEqual([last.line, last.textA, last.label], [8551, 'What all did you get for Christmas?', '1']);
  assert.deepEqual([d.dev[0]!.textA, d.dev.at(-1)!.textA, d.dev.at(-1)!.line], ['The sailors rode the breeze clear of the rocks.', 'John talked to Bill about himself.', 1043]);
  // the author's mark (column 2) is not the label: train line 1514 has label 0 and no mark
  assert.deepEqual([d.train[1513]!.textA, d.train[1513]!.label], ['That he ever went there alone is certain.', '0']);
  assert.deepEqual(ids(d.test!), range(1063));
  assert.deepEqual([d.test![0]!.textA, d.test!.at(-1)!.textA, d.test![0]!.label], ['Bill whistled past the house.', 'A picture of himself frightened John.', undefined]);
  assert.ok(d.train.every((e) => e.id === undefined));
});

test('STS-B (real): 5749/1500/1379 rows, sentence1/sentence2 by name, float scores 0-5, test without score', { skip: noShared('glue-stsb') }, () => {
  const d = taskDatasets('stsb', path.join(shared, 'glue-stsb'));
  assert.deepEqual([d.train.length, d.dev.length, d.test?.length], [5749, 1500, 1379]);
  assert.equal(d.spec.problemType, 'regression');
  assert.equal(d.spec.labels, null);
  assert.deepEqual(d.labels, ['LABEL_0']);
  const t0 = d.train[0]!;
  assert.deepEqual([t0.textA, t0.textB, t0.label, t0.line], ['A plane is taking off.', 'An air plane is taking off.', '5.000', 2]);
  const tl = d.train.at(-1)!;
  assert.deepEqual([tl.textA, tl.textB, tl.label], ['Putin spokesman: Doping charges appear unfounded', 'The Latest on Severe Weather: 1 Dead in Texas After Tornado', '0']);
  assert.deepEqual([d.dev[0]!.textA, d.dev[0]!.label, d.dev.at(-1)!.label], ['A man with a hard hat is dancing.', '5.000', '0']);
  // scores in mixed formats, all within 0-5; the mean matches SOURCE.md
  const scores = d.train.map((e) => Number(e.label));
  assert.ok(scores.every((v) => v >= 0 && v <= 5));
  assert.equal((scores.reduce((a, b) => a + b, 0) / scores.length).toFixed(4), '2.7010');
  assert.ok(d.train.some((e) => e.label === '2.11111111111111'));
  // unbalanced quotes and mojibake stay as they are, inside their field
  assert.match(d.train[5010]!.textA, /^‚ÄėGlee‚Äô star Cory Monteith found dead/);
  assert.deepEqual(ids(d.test!), range(1379));
  assert.deepEqual([d.test![0]!.textA, d.test![0]!.textB, d.test![0]!.label], ['A girl is styling her hair.', 'A girl is brushing her hair.', undefined]);
  assert.deepEqual([d.test!.at(-1)!.textA], ['South Korea declares end to MERS outbreak']);
  // TaskData.labels is what the regression head and encodeDataset take: one output, the score as its target
  const tokenizer = BertTokenizer.fromVocabFile(path.resolve(shared, '../tokenizer/vocab/bert-base-uncased.txt'));
  const enc = encodeDataset(d.dev.slice(0, 2), tokenizer, d.labels, 128, d.spec.problemType);
  assert.deepEqual(enc.map((e) => Array.from(e.target!)), [[5], [4.75]]);
});

test('WNLI (real): 635/71/146 rows, labels 1 = entailment, test ids 0..145', { skip: noShared('glue-wnli') }, () => {
  const d = taskDatasets('wnli', path.join(shared, 'glue-wnli'));
  assert.deepEqual([d.train.length, d.dev.length, d.test?.length], [635, 71, 146]);
  assert.deepEqual([count(d.train, '1'), count(d.train, '0'), count(d.dev, '1'), count(d.dev, '0')], [312, 323, 31, 40]);
  assert.deepEqual([d.train[0]!.textA, d.train[0]!.textB, d.train[0]!.label],
    ['I stuck a pin through a carrot. When I pulled the pin out, it had a hole.', 'The carrot had a hole.', '1']);
  assert.deepEqual([d.train.at(-1)!.textB, d.train.at(-1)!.label], ['Sally had such a bad start.', '1']);
  assert.deepEqual([d.dev[0]!.textB, d.dev[0]!.label, d.dev.at(-1)!.textB, d.dev.at(-1)!.label],
    ['The hair has to be cleaned.', '0', 'Eric was not particularly eager to see it.', '0']);
  assert.deepEqual(ids(d.test!), range(146));
  // test lines 25-26: sentence1 starts with a quote, kept (no CSV quoting)
  assert.match(d.test![23]!.textA, /^"Chameleon Street" is an exuberantly comic drama/);
  assert.equal(d.test!.at(-1)!.textB, 'Some of the glue was stuck on the window sill.');
});

test('MRPC (real): 3668/408/1725 rows, test ids from the index column, unchanged taskFileOptions', { skip: noShared('mrpc') }, () => {
  const d = taskDatasets('mrpc', path.join(shared, 'mrpc'));
  assert.deepEqual([d.train.length, d.dev.length, d.test?.length], [3668, 408, 1725]);
  assert.deepEqual([count(d.train, '1'), count(d.dev, '1')], [2474, 279]);
  assert.deepEqual(ids(d.test!), range(1725));
  assert.equal(d.dev, d.devSplits.dev);
  assert.equal(d.test, d.testSplits.test);
  assert.deepEqual(taskFileOptions('mrpc', false), { format: 'tsv', textA: '#1 String', textB: '#2 String', label: null });
  assert.deepEqual(taskFileOptions('mrpc', true), { format: 'tsv', textA: '#1 String', textB: '#2 String', label: 'Quality' });
  // given the file: the test file's index column is read as the id; dev.tsv has none
  assert.equal(taskFileOptions('mrpc', false, path.join(shared, 'mrpc', 'test.tsv')).id, 'index');
  assert.equal(taskFileOptions('mrpc', false, path.join(shared, 'mrpc', 'dev.tsv')).id, undefined);
});

test('taskFileOptions with a file tells CoLA test files (header, index, sentence) from train/dev (no header)', { skip: noShared('glue-cola') }, () => {
  const dir = path.join(shared, 'glue-cola');
  const testOpts = taskFileOptions('cola', false, path.join(dir, 'test.tsv'));
  assert.deepEqual(testOpts, { format: 'tsv', textA: 'sentence', textB: null, label: null, id: 'index' });
  const predicted = readDataset(path.join(dir, 'test.tsv'), testOpts);
  assert.deepEqual([predicted.length, predicted[5]!.id], [1063, '5']);
  assert.deepEqual(taskFileOptions('cola', true, path.join(dir, 'dev.tsv')), { format: 'tsv', header: false, textA: 3, textB: null, label: 1 });
  const devUnlabelled = readDataset(path.join(dir, 'dev.tsv'), taskFileOptions('cola', false, path.join(dir, 'dev.tsv')));
  assert.deepEqual([devUnlabelled.length, devUnlabelled[0]!.label], [1043, undefined]);
  assert.throws(() => taskFileOptions('cola', true, path.join(dir, 'test.tsv')), /CoLA's test layout \(index, sentence\): it has no labels/);
});

test('SST-2 layout (fixture): sentence/label, single sentence, trailing spaces kept; test index/sentence', () => {
  const d = taskDatasets('sst2', path.join(fixtures, 'sst2'));
  assert.deepEqual([d.train.length, d.dev.length, d.test?.length], [6, 3, 3]);
  assert.deepEqual([d.train[0]!.textA, d.train[0]!.textB, d.train[0]!.label], ['a warm , funny and wise little film ', undefined, '1']);
  assert.deepEqual([d.train.at(-1)!.textA, d.train.at(-1)!.label], ["one of the year 's best ", '1']);
  assert.equal(d.train[3]!.textA, 'a " comedy " with no laughs ');
  assert.deepEqual(ids(d.test!), ['0', '1', '2']);
  assert.equal(d.test![2]!.textA, 'it \'s " fun " only in the loosest sense .');
  assert.ok(d.test!.every((e) => e.label === undefined && e.textB === undefined));
});

test('QQP layout (fixture): question1/question2/is_duplicate by name, broken rows skipped and reported, empty question kept', () => {
  const dir = path.join(fixtures, 'qqp');
  const skipped: Array<[DataLocation, string]> = [];
  const d = taskDatasets('qqp', dir, { onSkip: (w, why) => skipped.push([w, why]) });
  const train = path.join(dir, 'train.tsv');
  // lines 5-6 are one row broken by a line break (4 fields, then 3): both fragments dropped
  assert.deepEqual(skipped, [[{ file: train, line: 5 }, 'ragged row'], [{ file: train, line: 6 }, 'ragged row']]);
  assert.deepEqual(d.train.map((e) => e.line), [2, 3, 4, 7, 8]);
  assert.deepEqual([d.train[0]!.textA, d.train[0]!.textB, d.train[0]!.label],
    ['How do I learn to cook rice well?', 'What is the best way to cook rice?', '1']);
  assert.equal(d.train[2]!.textA, 'What is the best book on "time management?');
  // the empty question2 (as in the real train set) is kept by default: the row is published that way
  assert.deepEqual([d.train[3]!.textB, d.train[3]!.line], ['', 7]);
  assert.deepEqual([d.dev.length, count(d.dev, '1')], [3, 2]);
  assert.deepEqual(ids(d.test!), ['0', '1', '2', '3']);
  // the CLI's --task qqp on train/dev files drops the broken rows too; on the test file it reads the id column
  assert.equal(readDataset(train, { ...taskFileOptions('qqp', true, train), emptyText: 'allow' }).length, 5);
  assert.deepEqual(taskFileOptions('qqp', false, path.join(dir, 'test.tsv')),
    { format: 'tsv', textA: 'question1', textB: 'question2', label: null, id: 'id' });
  assert.deepEqual([d.test![3]!.textA, d.test![3]!.textB], ['What does "GDP" mean?', 'How is GDP measured?']);
  // a training run may skip such rows instead, or refuse them
  const why: string[] = [];
  const skipping = taskDatasets('qqp', dir, { emptyText: 'skip', onSkip: (_w, r) => why.push(r) });
  assert.deepEqual([skipping.train.length, why], [4, ['ragged row', 'ragged row', 'empty text']]);
  throwsAt(() => taskDatasets('qqp', dir, { emptyText: 'error' }), train, 7, /field "question2": empty text/);
});

test('MNLI layout (fixture): five files, sentence1/sentence2 at columns 8/9, gold_label last; both dev and test splits', () => {
  const dir = path.join(fixtures, 'mnli');
  const d = taskDatasets('mnli', dir);
  assert.deepEqual(d.labels, ['contradiction', 'entailment', 'neutral']);
  assert.deepEqual(Object.keys(d.devSplits), ['dev_matched', 'dev_mismatched']);
  assert.deepEqual(Object.keys(d.testSplits), ['test_matched', 'test_mismatched']);
  assert.equal(d.dev, d.devSplits.dev_matched);
  assert.equal(d.test, d.testSplits.test_matched);
  assert.deepEqual([d.train.length, d.devSplits.dev_matched!.length, d.devSplits.dev_mismatched!.length], [5, 3, 4]);
  assert.deepEqual([d.testSplits.test_matched!.length, d.testSplits.test_mismatched!.length], [2, 3]);
  assert.deepEqual([d.train[0]!.textA, d.train[0]!.textB, d.train[0]!.label],
    ['The new rules are simple enough.', 'Everyone likes the new rules.', 'neutral']);
  // dev: gold_label, not label1 (the first annotator said entailment on this one)
  const m0 = d.devSplits.dev_matched![0]!;
  assert.deepEqual([m0.textA, m0.textB, m0.label], ['The new rights are nice enough', 'Everyone really likes the newest benefits ', 'neutral']);
  assert.deepEqual(d.devSplits.dev_mismatched!.map((e) => e.label), ['neutral', 'contradiction', 'entailment', 'neutral']);
  // the columns agree with transformers' positions (8, 9, last)
  const row = readFileSync(path.join(dir, 'dev_mismatched.tsv'), 'utf8').split('\n')[2]!.split('\t');
  assert.deepEqual([row[8], row[9], row.at(-1)], [d.devSplits.dev_mismatched![1]!.textA, d.devSplits.dev_mismatched![1]!.textB, 'contradiction']);
  assert.deepEqual(ids(d.testSplits.test_matched!), ['0', '1']);
  assert.deepEqual(ids(d.testSplits.test_mismatched!), ['0', '1', '2']);
  assert.equal(d.testSplits.test_mismatched![2]!.textA, 'The agency had received no warning.');
  assert.ok(Object.values(d.testSplits).flat().every((e) => e.label === undefined));
});

test('QNLI and RTE layouts (fixtures): index/question/sentence/label and index/sentence1/sentence2/label', () => {
  const q = taskDatasets('qnli', path.join(fixtures, 'qnli'));
  assert.deepEqual([q.train.length, q.dev.length, q.test?.length], [4, 2, 2]);
  assert.deepEqual([q.train[2]!.textA, q.train[2]!.textB, q.train[2]!.label],
    ['What is the capital of France?', 'Paris is the capital and largest city of France.', 'entailment']);
  assert.deepEqual(q.dev.map((e) => e.label), ['entailment', 'not_entailment']);
  assert.deepEqual(ids(q.test!), ['0', '1']);
  const r = taskDatasets('rte', path.join(fixtures, 'rte'));
  assert.deepEqual([r.train.length, r.dev.length, r.test?.length], [3, 2, 3]);
  assert.deepEqual([r.train[1]!.textB, r.train[1]!.label], ['Pope John Paul II died.', 'entailment']);
  assert.deepEqual([r.test![2]!.id, r.test![2]!.textA, r.test![2]!.textB], ['2', 'A mother died in a car accident.', 'Nobody died.']);
});

test('a label outside the task\'s set is a DataError at file:line, by task', () => {
  const rte = withLine(path.join(fixtures, 'rte'), 'rte-bad', 'dev.tsv', 3, '1\tA.\tB.\tcontradiction');
  throwsAt(() => taskDatasets('rte', rte), path.join(rte, 'dev.tsv'), 3,
    /field "label": label "contradiction" is not one of RTE's labels \("entailment", "not_entailment"\)/);
  const mnli = withLine(path.join(fixtures, 'mnli'), 'mnli-bad', 'train.tsv', 4,
    readFileSync(path.join(fixtures, 'mnli', 'train.tsv'), 'utf8').split('\n')[3]!.replace(/\tcontradiction\tcontradiction$/, '\tcontradiction\t-'));
  throwsAt(() => taskDatasets('mnli', mnli), path.join(mnli, 'train.tsv'), 4, /field "gold_label": label "-" is not one of MNLI's labels/);
  const sst = withLine(path.join(fixtures, 'sst2'), 'sst2-bad', 'train.tsv', 2, 'great \tpositive');
  throwsAt(() => taskDatasets('sst2', sst), path.join(sst, 'train.tsv'), 2, /field "label": label "positive" is not one of SST-2's labels \("0", "1"\)/);
  // a ragged row is still an error outside QQP
  const rteRagged = withLine(path.join(fixtures, 'rte'), 'rte-ragged', 'train.tsv', 2, '0\tonly one sentence\tentailment');
  throwsAt(() => taskDatasets('rte', rteRagged), path.join(rteRagged, 'train.tsv'), 2, /ragged row: 3 fields, expected 4/);
});

test('CoLA and STS-B label checks on the real files\' layout: column 1 of a header-less file; scores from 0 to 5', { skip: noShared('glue-cola') || noShared('glue-stsb') }, () => {
  const cola = withLine(path.join(shared, 'glue-cola'), 'cola-bad', 'dev.tsv', 10, 'gj04\t2\t\tA sentence.');
  throwsAt(() => taskDatasets('cola', cola), path.join(cola, 'dev.tsv'), 10, /field "column 1": label "2" is not one of CoLA's labels \("0", "1"\)/);
  const stsb = withLine(path.join(shared, 'glue-stsb'), 'stsb-bad', 'train.tsv', 3,
    '1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large flute.\tA man is playing a flute.\t5.5');
  throwsAt(() => taskDatasets('stsb', stsb), path.join(stsb, 'train.tsv'), 3, /field "score": score "5.5" is not a number from 0 to 5/);
  const stsb2 = withLine(path.join(shared, 'glue-stsb'), 'stsb-bad2', 'dev.tsv', 2,
    '0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA.\tB.\tn/a');
  throwsAt(() => taskDatasets('stsb', stsb2), path.join(stsb2, 'dev.tsv'), 2, /score "n\/a" is not a number/);
});

test('a task directory without a test file loads (test null); a missing dev file is a DataError naming it', () => {
  const dir = path.join(tmp, 'rte-no-test');
  mkdirSync(dir, { recursive: true });
  for (const f of ['train.tsv', 'dev.tsv']) cpSync(path.join(fixtures, 'rte', f), path.join(dir, f));
  const d = taskDatasets('rte', dir);
  assert.deepEqual([d.test, d.testSplits], [null, {}]);
  const mm = path.join(tmp, 'mnli-no-mm');
  cpSync(path.join(fixtures, 'mnli'), mm, { recursive: true });
  rmSync(path.join(mm, 'dev_mismatched.tsv'));
  assert.throws(() => taskDatasets('mnli', mm), (e: unknown) => e instanceof DataError && e.file === path.join(mm, 'dev_mismatched.tsv') && /cannot read file/.test(e.message));
});

test('locateTask: explicit dir (checked), ../shared/data/<dataDirName>, $BERTFIT_CACHE/data/<task>, else an error naming the files', async () => {
  const saved = process.env.BERTFIT_CACHE;
  const cache = path.join(tmp, 'cache');
  process.env.BERTFIT_CACHE = cache;
  try {
    assert.equal(await locateTask('rte', path.join(fixtures, 'rte')), path.join(fixtures, 'rte'));
    await assert.rejects(locateTask('mnli', path.join(fixtures, 'rte')),
      /--data-dir .*rte: expected GLUE MNLI files train\.tsv, dev_matched\.tsv, dev_mismatched\.tsv \(and optionally test_matched\.tsv, test_mismatched\.tsv\) there; missing dev_matched\.tsv, dev_mismatched\.tsv/);
    await assert.rejects(locateTask('mrpc', '/nonexistent/mrpc'), /expected GLUE MRPC files train.tsv and dev.tsv/);
    if (!noShared('glue-cola')) assert.equal(await locateTask('cola'), path.join(shared, 'glue-cola'));
    if (!noShared('glue-wnli')) assert.equal(await locateTask('wnli'), path.join(shared, 'glue-wnli'));
    await assert.rejects(locateTask('qnli'), (e: Error) => {
      assert.match(e.message, /^GLUE QNLI not found \(looked in .*glue-qnli and .*cache\/data\/qnli\): pass --data-dir with the task's files in GLUE's layout, as in QNLI\.zip: train\.tsv, dev\.tsv \(and optionally test\.tsv\)$/);
      return true;
    });
    cpSync(path.join(fixtures, 'qnli'), path.join(cache, 'data', 'qnli'), { recursive: true });
    assert.equal(await locateTask('qnli'), path.join(cache, 'data', 'qnli'));
    await assert.rejects(locateTask('glue'), /unknown task "glue"/);
  } finally {
    if (saved === undefined) delete process.env.BERTFIT_CACHE; else process.env.BERTFIT_CACHE = saved;
  }
});

test('submission files: GLUE names, "index\\tprediction", label names for classification, 3-decimal scores for STS-B', () => {
  assert.deepEqual(TASK_NAMES.flatMap((t) => TASKS[t]!.testSplits.map((s) => submissionFileName(t, s))),
    ['CoLA.tsv', 'SST-2.tsv', 'MRPC.tsv', 'STS-B.tsv', 'QQP.tsv', 'MNLI-m.tsv', 'MNLI-mm.tsv', 'QNLI.tsv', 'RTE.tsv', 'WNLI.tsv']);
  assert.equal(submissionFileName('rte'), 'RTE.tsv');
  assert.throws(() => submissionFileName('mnli', 'test'), /mnli has no test split "test" \(its test splits: test_matched, test_mismatched\)/);

  // MNLI mismatched: class indices or names -> names; ids from the test file
  const mnli = taskDatasets('mnli', path.join(fixtures, 'mnli'));
  const mm = mnli.testSplits.test_mismatched!;
  const out = path.join(tmp, 'submission');
  const file = writeSubmission(out, 'mnli', 'test_mismatched', exampleIds(mm), [2, 'contradiction', 1]);
  assert.equal(file, path.join(out, 'MNLI-mm.tsv'));
  assert.equal(readFileSync(file, 'utf8'), 'index\tprediction\n0\tneutral\n1\tcontradiction\n2\tentailment\n');
  // binary tasks write 0/1
  assert.equal(submissionTsv('qqp', ['0', '1', '2', '3'], [1, 0, '1', 0]), 'index\tprediction\n0\t1\n1\t0\n2\t1\n3\t0\n');
  assert.equal(submissionTsv('qnli', ['0', '1'], [1, 0]), 'index\tprediction\n0\tnot_entailment\n1\tentailment\n');
  // STS-B: the score with 3 decimals (not clamped)
  assert.equal(submissionTsv('stsb', ['0', '1', '2', '3'], [4.23456, 0, 5.2, -0.0001]), 'index\tprediction\n0\t4.235\n1\t0.000\n2\t5.200\n3\t0.000\n');
  assert.equal(writeSubmission(out, 'stsb', 'test', ['0'], [3]), path.join(out, 'STS-B.tsv'));
  assert.equal(readFileSync(path.join(out, 'STS-B.tsv'), 'utf8'), 'index\tprediction\n0\t3.000\n');

  assert.throws(() => submissionTsv('rte', ['0', '1'], [0]), /2 ids but 1 predictions/);
  assert.throws(() => submissionTsv('rte', ['0', '0'], [0, 1]), /id "0" appears twice/);
  assert.throws(() => submissionTsv('rte', ['0'], [2]), /prediction 0: class index 2 out of range for RTE \(0-1\)/);
  assert.throws(() => submissionTsv('cola', ['0'], ['acceptable']), /"acceptable" is not one of CoLA's labels \(0, 1\)/);
  assert.throws(() => submissionTsv('stsb', ['0'], [Number.NaN]), /STS-B needs a finite score/);
  assert.throws(() => exampleIds(mnli.dev), /dev_matched\.tsv:2: example has no id/);
});
