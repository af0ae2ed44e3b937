// The GLUE tasks: each one's directory layout as GLUE publishes it (file names, columns, label values), its
// problem type, metrics and submission file names, and reading a task directory into Examples.
//
// Columns are chosen by header name where the file has a header, by 0-based index where it does not (CoLA's
// train/dev). GLUE's TSVs are never quoted: sentences hold unbalanced " characters, and the TSV reader splits on
// every tab. The label list of a classification task is fixed, in the order of GLUE's (transformers') processors,
// so class ids do not depend on which subset is loaded; a train/dev label outside it is a DataError at file:line.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { ProblemType } from '../model/config.js';
import { type Column, type DatasetOptions, type SkipReason, readDataset } from './dataset.js';
import { DataError, type DataLocation } from './errors.js';
import type { Example } from './types.js';

export type { ProblemType } from '../model/config.js';

/** Where the columns of one kind of file are (labelled = train/dev files, test = the unlabelled test files). */
export interface FileLayout {
  /** the first row names the columns */
  header: boolean;
  textA: Column;
  /** null for single-sentence tasks */
  textB: Column | null;
  /** null in test files */
  label: Column | null;
  /** the column that identifies a row in submission files (test files); null where it is not read */
  id: Column | null;
}

export interface TaskSpec {
  /** bertfit's name: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli */
  name: string;
  /** GLUE's spelling: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI */
  glueName: string;
  problemType: ProblemType;
  /** the classes, index = class id (GLUE's processor order); null for regression (STS-B) */
  labels: string[] | null;
  /** GLUE's metrics for the task (names as src/train/metrics.ts reports them) */
  metrics: string[];
  /** the metric that selects the best checkpoint (on the first dev split) */
  mainMetric: string;
  /** dev split names, the file is `${split}.tsv`; the first one is the task's dev set */
  devSplits: string[];
  /** test split names (unlabelled), the file is `${split}.tsv` */
  testSplits: string[];
  /** GLUE submission file name per test split */
  submissionFiles: Record<string, string>;
  /** the task's folder under ../shared/data (glue-cola, ..., mrpc) */
  dataDirName: string;
  /** columns of train.tsv and the dev files */
  labelled: FileLayout;
  /** columns of the test files */
  test: FileLayout;
  /**
   * rows with the wrong number of fields in train/dev: 'skip' only for QQP, whose published train.tsv has a few
   * questions broken by a line break (both fragments are dropped, as transformers' and datasets' loaders do)
   */
  raggedRows: 'error' | 'skip';
}

const pair = (a: string, b: string, label: string, id = 'index'): Pick<TaskSpec, 'labelled' | 'test'> => ({
  labelled: { header: true, textA: a, textB: b, label, id: null },
  test: { header: true, textA: a, textB: b, label: null, id },
});
const one = (split: string, file: string) => ({ devSplits: ['dev'], testSplits: [split], submissionFiles: { [split]: file } });
const BINARY = ['0', '1'];
const NLI2 = ['entailment', 'not_entailment'];

/** Every GLUE task (the diagnostic AX set is not one: it is predicted with an MNLI model). */
export const TASKS: Readonly<Record<string, Readonly<TaskSpec>>> = {
  cola: {
    name: 'cola', glueName: 'CoLA', problemType: 'single_label_classification', labels: BINARY,
    metrics: ['mcc'], mainMetric: 'mcc', ...one('test', 'CoLA.tsv'), dataDirName: 'glue-cola',
    // train/dev: no header; source, label, original mark, sentence. test: "index\tsentence".
    labelled: { header: false, textA: 3, textB: null, label: 1, id: null },
    test: { header: true, textA: 'sentence', textB: null, label: null, id: 'index' },
    raggedRows: 'error',
  },
  sst2: {
    name: 'sst2', glueName: 'SST-2', problemType: 'single_label_classification', labels: BINARY,
    metrics: ['accuracy'], mainMetric: 'accuracy', ...one('test', 'SST-2.tsv'), dataDirName: 'glue-sst2',
    // train/dev: "sentence\tlabel"; test: "index\tsentence"
    labelled: { header: true, textA: 'sentence', textB: null, label: 'label', id: null },
    test: { header: true, textA: 'sentence', textB: null, label: null, id: 'index' },
    raggedRows: 'error',
  },
  mrpc: {
    name: 'mrpc', glueName: 'MRPC', problemType: 'single_label_classification', labels: BINARY,
    metrics: ['accuracy', 'f1'], mainMetric: 'accuracy', ...one('test', 'MRPC.tsv'), dataDirName: 'mrpc',
    // "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String" (train/dev start with a BOM, removed on reading); test: "index\t#1 ID\t..."
    ...pair('#1 String', '#2 String', 'Quality'),
    raggedRows: 'error',
  },
  stsb: {
    name: 'stsb', glueName: 'STS-B', problemType: 'regression', labels: null,
    metrics: ['pearson', 'spearman'], mainMetric: 'pearson', ...one('test', 'STS-B.tsv'), dataDirName: 'glue-stsb',
    // "index genre filename year old_index source1 source2 sentence1 sentence2 score"; test lacks score
    ...pair('sentence1', 'sentence2', 'score'),
    raggedRows: 'error',
  },
  qqp: {
    name: 'qqp', glueName: 'QQP', problemType: 'single_label_classification', labels: BINARY,
    metrics: ['accuracy', 'f1'], mainMetric: 'accuracy', ...one('test', 'QQP.tsv'), dataDirName: 'glue-qqp',
    // "id qid1 qid2 question1 question2 is_duplicate"; test: "id\tquestion1\tquestion2"
    ...pair('question1', 'question2', 'is_duplicate', 'id'),
    raggedRows: 'skip',
  },
  mnli: {
    name: 'mnli', glueName: 'MNLI', problemType: 'single_label_classification', labels: ['contradiction', 'entailment', 'neutral'],
    metrics: ['accuracy'], mainMetric: 'accuracy', dataDirName: 'glue-mnli',
    devSplits: ['dev_matched', 'dev_mismatched'], testSplits: ['test_matched', 'test_mismatched'],
    submissionFiles: { test_matched: 'MNLI-m.tsv', test_mismatched: 'MNLI-mm.tsv' },
    // "index promptID pairID genre sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse
    //  sentence1 sentence2" then train: label1 gold_label; dev: label1..label5 gold_label; test: nothing more
    ...pair('sentence1', 'sentence2', 'gold_label'),
    raggedRows: 'error',
  },
  qnli: {
    name: 'qnli', glueName: 'QNLI', problemType: 'single_label_classification', labels: NLI2,
    metrics: ['accuracy'], mainMetric: 'accuracy', ...one('test', 'QNLI.tsv'), dataDirName: 'glue-qnli',
    ...pair('question', 'sentence', 'label'),   // "index\tquestion\tsentence\tlabel"
    raggedRows: 'error',
  },
  rte: {
    name: 'rte', glueName: 'RTE', problemType: 'single_label_classification', labels: NLI2,
    metrics: ['accuracy'], mainMetric: 'accuracy', ...one('test', 'RTE.tsv'), dataDirName: 'glue-rte',
    ...pair('sentence1', 'sentence2', 'label'),   // "index\tsentence1\tsentence2\tlabel"
    raggedRows: 'error',
  },
  wnli: {
    name: 'wnli', glueName: 'WNLI', problemType: 'single_label_classification', labels: BINARY,
    metrics: ['accuracy'], mainMetric: 'accuracy', ...one('test', 'WNLI.tsv'), dataDirName: 'glue-wnli',
    ...pair('sentence1', 'sentence2', 'label'),   // "index\tsentence1\tsentence2\tlabel"
    raggedRows: 'error',
  },
};

export const TASK_NAMES: readonly string[] = Object.keys(TASKS);

/** A task's spec. Throws RangeError for an unknown task. */
export function taskSpec(task: string): Readonly<TaskSpec> {
  const spec = Object.hasOwn(TASKS, task) ? TASKS[task] : undefined;
  if (spec === undefined) throw new RangeError(`unknown task ${JSON.stringify(task)} (known: ${TASK_NAMES.join(', ')})`);
  return spec;
}

/** The files a task directory must hold (train and dev splits) and may hold (test splits). */
export function taskFiles(task: string): { required: string[]; optional: string[] } {
  const spec = taskSpec(task);
  return { required: ['train.tsv', ...spec.devSplits.map((s) => `${s}.tsv`)], optional: spec.testSplits.map((s) => `${s}.tsv`) };
}

function layoutOptions(layout: FileLayout, labelled: boolean, withId: boolean): DatasetOptions & { format: 'tsv' } {
  const o: DatasetOptions & { format: 'tsv' } = { format: 'tsv' };
  if (!layout.header) o.header = false;
  o.textA = layout.textA;
  o.textB = layout.textB;
  o.label = labelled ? layout.label : null;
  if (withId && layout.id !== null) o.id = layout.id;
  return o;
}

/** The first line of a file split on tabs (BOM and CR removed); null when it cannot be read. */
function firstRow(file: string): string[] | null {
  let fd: number;
  try { fd = openSync(file, 'r'); } catch { return null; }
  try {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    let text = buf.subarray(0, n).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const end = text.indexOf('\n');
    return (end < 0 ? text : text.slice(0, end)).replace(/\r$/, '').split('\t');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reading options for one of a task's GLUE files (as for the CLI's --task with eval/predict files).
 *
 * Args:
 *   task: a name in TASK_NAMES.
 *   labelled: read the label (false for prediction).
 *   file: the file, when known: its first line tells a test-layout file from a train/dev one (CoLA's differ:
 *     header and columns), and an id column (test files' index/id) is read into Example.id where the file has it.
 *     Without it: the train/dev layout when labelled, the test layout otherwise, and no id.
 * Returns: DatasetOptions with format 'tsv', the text columns, the label column or null, and `id` where found.
 */
export function taskFileOptions(task: string, labelled: boolean, file?: string): DatasetOptions & { format: 'tsv' } {
  const spec = taskSpec(task);
  if (file === undefined) return layoutOptions(labelled ? spec.labelled : spec.test, labelled, false);
  const first = firstRow(file);
  if (first === null) return layoutOptions(labelled ? spec.labelled : spec.test, labelled, false);
  if (!spec.labelled.header) {
    // CoLA: train/dev have no header; the test file starts with "index\tsentence".
    const isTest = first[0] === spec.test.id && first.includes(spec.test.textA as string);
    if (isTest && labelled) throw new DataError({ file, line: 1 }, `this is ${spec.glueName}'s test layout (${first.join(', ')}): it has no labels`);
    return isTest ? layoutOptions(spec.test, false, true) : layoutOptions(spec.labelled, labelled, false);
  }
  const o = layoutOptions(spec.labelled, labelled, false);
  if (spec.raggedRows === 'skip' && first.includes(spec.labelled.label as string)) o.raggedRows = 'skip';
  const id = spec.test.id;
  if (typeof id === 'string' && first.includes(id)) o.id = id;
  return o;
}

export interface TaskReadOptions {
  /**
   * empty texts in train.tsv: 'allow' (default: keep the rows as published; the tokenizer encodes an empty text as
   * nothing, as transformers does), 'skip' or 'error'. Dev and test files are always read whole ('allow'), so their
   * row counts, metrics and submission ids stay GLUE's.
   */
  emptyText?: 'error' | 'allow' | 'skip';
  /** every skipped row (train empty texts under 'skip'; QQP's broken rows in train/dev), with where and why */
  onSkip?: (where: DataLocation, reason: SkipReason) => void;
}

export interface TaskData {
  task: string;
  spec: Readonly<TaskSpec>;
  /**
   * the model's output names, index = output: the class list for classification (spec.labels); for regression
   * (STS-B, spec.labels null) the one output, named as transformers does, ['LABEL_0']
   */
  labels: string[];
  train: Example[];
  /** the first dev split (MNLI: dev_matched) */
  dev: Example[];
  /** every dev split by name (dev; MNLI: dev_matched, dev_mismatched) */
  devSplits: Record<string, Example[]>;
  /** the first test split (unlabelled, each example with its `id`); null when the directory has no test file */
  test: Example[] | null;
  /** the test splits present, by name (test; MNLI: test_matched, test_mismatched) */
  testSplits: Record<string, Example[]>;
}

/** The output names of a task's model: its classes, or ['LABEL_0'] for STS-B (one regression output). */
export function taskOutputNames(task: string): string[] {
  const spec = taskSpec(task);
  return spec.labels ? [...spec.labels] : ['LABEL_0'];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Checks the labels of a task's labelled examples: a class of the task, or for STS-B a number from 0 to 5.
 * Throws DataError at the first bad one (file:line, field = the label column).
 */
export function checkTaskLabels(task: string, examples: readonly Example[]): void {
  const spec = taskSpec(task);
  const col = spec.labelled.label!;
  const field = typeof col === 'number' ? `column ${col}` : col;
  const allowed = spec.labels ? new Set(spec.labels) : null;
  for (const ex of examples) {
    if (ex.label === undefined) continue;
    const where = { file: ex.source ?? '<examples>', line: ex.line, field };
    if (allowed !== null) {
      if (!allowed.has(ex.label)) {
        throw new DataError(where, `label ${JSON.stringify(ex.label)} is not one of ${spec.glueName}'s labels (${spec.labels!.map((l) => JSON.stringify(l)).join(', ')})`);
      }
    } else {
      const v = Number(ex.label);
      if (!NUMBER.test(ex.label.trim()) || !(v >= 0 && v <= 5)) {
        throw new DataError(where, `score ${JSON.stringify(ex.label)} is not a number from 0 to 5 (${spec.glueName} is regression)`);
      }
    }
  }
}

/**
 * Loads a task's splits from its GLUE-format directory (as published; see TASKS for each layout).
 *
 * Args:
 *   task: a name in TASK_NAMES.
 *   dataDir: the directory holding train.tsv, the dev file(s) (dev.tsv; MNLI dev_matched.tsv and
 *     dev_mismatched.tsv) and optionally the test file(s) (test.tsv; MNLI test_matched.tsv, test_mismatched.tsv).
 *   opts: what to do with empty texts in train.tsv, and a callback for skipped rows.
 * Returns: TaskData; test examples carry `id` (the file's index/id column) for submission files.
 * Throws: RangeError for an unknown task; DataError for a missing or malformed file, or a label outside the task's.
 */
export function taskDatasets(task: string, dataDir: string, opts: TaskReadOptions = {}): TaskData {
  const spec = taskSpec(task);
  const ragged = spec.raggedRows;
  // GLUE's label sets are fixed strings, checked as written (checkTaskLabels): no respelling, no notices
  const read = (split: string, o: DatasetOptions): Example[] => readDataset(path.join(dataDir, `${split}.tsv`), { ...o, labelSpelling: 'exact' });
  const labelledOptions = (emptyText: 'error' | 'allow' | 'skip'): DatasetOptions => {
    const o: DatasetOptions = { ...layoutOptions(spec.labelled, true, false), emptyText };
    if (ragged === 'skip') o.raggedRows = 'skip';
    if (opts.onSkip) o.onSkip = opts.onSkip;
    return o;
  };

  const train = read('train', labelledOptions(opts.emptyText ?? 'allow'));
  checkTaskLabels(task, train);
  const devSplits: Record<string, Example[]> = {};
  for (const split of spec.devSplits) {
    devSplits[split] = read(split, labelledOptions('allow'));
    checkTaskLabels(task, devSplits[split]);
  }
  const testSplits: Record<string, Example[]> = {};
  for (const split of spec.testSplits) {
    if (!existsSync(path.join(dataDir, `${split}.tsv`))) continue;
    testSplits[split] = read(split, { ...layoutOptions(spec.test, false, true), emptyText: 'allow' });
  }
  return {
    task,
    spec,
    labels: taskOutputNames(task),
    train,
    dev: devSplits[spec.devSplits[0]!]!,
    devSplits,
    test: testSplits[spec.testSplits[0]!] ?? null,
    testSplits,
  };
}
