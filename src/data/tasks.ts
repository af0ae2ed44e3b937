// Known tasks in the GLUE directory layout (train.tsv, dev.tsv, test.tsv).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readDataset } from './dataset.js';
import type { Example } from './types.js';

export interface TaskData {
  task: string;
  /** index = class id (GLUE's processor order) */
  labels: string[];
  train: Example[];
  dev: Example[];
  /** unlabeled; null when the directory has no test.tsv */
  test: Example[] | null;
}

interface TaskSpec {
  labels: string[];
  textA: string;
  textB: string;
  label: string;
}

// Columns by header name (the UTF-8 BOM before "Quality" is removed on reading). The label list is
// fixed per task, as in GLUE's processors, so class 1 is "paraphrase" whatever subset is loaded; a dev
// row with another label fails in encodeDataset.
const TASKS: Record<string, TaskSpec> = {
  mrpc: { labels: ['0', '1'], textA: '#1 String', textB: '#2 String', label: 'Quality' },
};

export const TASK_NAMES: readonly string[] = Object.keys(TASKS);

function taskSpec(task: string): TaskSpec {
  const spec = Object.hasOwn(TASKS, task) ? TASKS[task] : undefined;
  if (spec === undefined) throw new RangeError(`unknown task ${JSON.stringify(task)} (known: ${TASK_NAMES.join(', ')})`);
  return spec;
}

/** Reading options for one of a task's GLUE files (its columns); labelled=false for a test file. */
export function taskFileOptions(task: string, labelled: boolean): { format: 'tsv'; textA: string; textB: string; label: string | null } {
  const spec = taskSpec(task);
  return { format: 'tsv', textA: spec.textA, textB: spec.textB, label: labelled ? spec.label : null };
}

/**
 * Loads a task's splits from its GLUE-format directory.
 *
 * Args:
 *   task: a name in TASK_NAMES ("mrpc").
 *   dataDir: the directory holding train.tsv, dev.tsv and (optionally) test.tsv.
 * Throws: RangeError for an unknown task; DataError for a missing or malformed file.
 */
export function taskDatasets(task: string, dataDir: string): TaskData {
  const spec = taskSpec(task);
  const read = (name: string, labelled: boolean): Example[] => readDataset(path.join(dataDir, name), taskFileOptions(task, labelled));
  return {
    task,
    labels: [...spec.labels],
    train: read('train.tsv', true),
    dev: read('dev.tsv', true),
    test: existsSync(path.join(dataDir, 'test.tsv')) ? read('test.tsv', false) : null,
  };
}
