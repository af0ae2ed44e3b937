// GLUE submission files: one TSV per test split (CoLA.tsv, ..., MNLI-m.tsv, MNLI-mm.tsv), a header
// "index\tprediction", then one row per test example: its id (the test file's index/id column) and the predicted
// label as the task writes it (0/1; entailment/not_entailment; contradiction/entailment/neutral) or, for STS-B,
// the score with 3 decimals. This is the format of GLUE's reference tools (jiant's glue_submission_formatter,
// transformers' run_glue predictions). The leaderboard takes a zip of all of them, with AX.tsv (the diagnostic set,
// predicted with an MNLI model), which bertfit does not write.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { taskSpec } from './tasks.js';
import type { Example } from './types.js';

/** A prediction: a class index or label name (classification), or a score (regression). */
export type Prediction = number | string;

/** The submission file name of a task's test split (MNLI: test_matched -> MNLI-m.tsv, test_mismatched -> MNLI-mm.tsv). */
export function submissionFileName(task: string, split?: string): string {
  const spec = taskSpec(task);
  const s = split ?? spec.testSplits[0]!;
  const name = Object.hasOwn(spec.submissionFiles, s) ? spec.submissionFiles[s] : undefined;
  if (name === undefined) throw new RangeError(`${task} has no test split ${JSON.stringify(s)} (its test splits: ${spec.testSplits.join(', ')})`);
  return name;
}

/** One prediction as GLUE wants it written. */
function formatPrediction(task: string, p: Prediction, i: number): string {
  const spec = taskSpec(task);
  if (spec.labels === null) {
    const v = typeof p === 'number' ? p : Number(p);
    if ((typeof p === 'string' && p.trim() === '') || !Number.isFinite(v)) throw new RangeError(`prediction ${i}: ${spec.glueName} needs a finite score, got ${JSON.stringify(p)}`);
    const text = v.toFixed(3);
    return text === '-0.000' ? '0.000' : text;
  }
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p >= spec.labels.length) {
      throw new RangeError(`prediction ${i}: class index ${p} out of range for ${spec.glueName} (0-${spec.labels.length - 1})`);
    }
    return spec.labels[p]!;
  }
  if (!spec.labels.includes(p)) {
    throw new RangeError(`prediction ${i}: ${JSON.stringify(p)} is not one of ${spec.glueName}'s labels (${spec.labels.join(', ')})`);
  }
  return p;
}

/**
 * The text of a GLUE submission file.
 *
 * Args:
 *   task: a name in TASK_NAMES.
 *   ids: the test examples' ids (Example.id), in any order, each once.
 *   predictions: one per id: a class index or label name, or for STS-B a score (written with 3 decimals, not clamped).
 * Returns: "index\tprediction\n" then one "id\tprediction\n" row per id, in the given order.
 * Throws: RangeError for mismatched lengths, an empty or repeated id, or a prediction the task cannot take.
 */
export function submissionTsv(task: string, ids: readonly string[], predictions: readonly Prediction[]): string {
  const spec = taskSpec(task);
  if (ids.length !== predictions.length) throw new RangeError(`${ids.length} ids but ${predictions.length} predictions`);
  if (ids.length === 0) throw new RangeError(`no predictions to write for ${spec.glueName}`);
  const seen = new Set<string>();
  const rows = ['index\tprediction'];
  ids.forEach((id, i) => {
    if (id.trim() === '' || /[\t\r\n]/.test(id)) throw new RangeError(`id ${i}: ${JSON.stringify(id)} is not a usable id`);
    if (seen.has(id)) throw new RangeError(`id ${JSON.stringify(id)} appears twice`);
    seen.add(id);
    rows.push(`${id}\t${formatPrediction(task, predictions[i]!, i)}`);
  });
  return rows.join('\n') + '\n';
}

/** The ids of test examples (Example.id); throws RangeError naming the first example without one. */
export function exampleIds(examples: readonly Example[]): string[] {
  return examples.map((ex) => {
    if (ex.id === undefined) throw new RangeError(`${ex.source ?? '<examples>'}:${ex.line}: example has no id (read the test file with its index/id column)`);
    return ex.id;
  });
}

/**
 * Writes a task's submission file for one test split into dir (created if needed; the file is replaced atomically).
 *
 * Args:
 *   dir: output directory; task: a name in TASK_NAMES; split: a test split of the task ("test"; MNLI
 *   "test_matched" / "test_mismatched"); ids and predictions as for submissionTsv.
 * Returns: the path written, e.g. dir/MNLI-m.tsv.
 */
export function writeSubmission(dir: string, task: string, split: string, ids: readonly string[], predictions: readonly Prediction[]): string {
  const file = path.join(dir, submissionFileName(task, split));
  const text = submissionTsv(task, ids, predictions);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return file;
}
