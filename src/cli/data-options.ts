// Column/format options shared by every command that reads a dataset file (finetune, eval, predict).
import { Option, type Command } from 'commander';
import type { Column, DataFormat, DatasetOptions } from '../data/dataset.js';
import { DATA_FORMATS } from '../data/dataset.js';
import { taskFileOptions } from '../data/tasks.js';
import { UsageError } from './errors.js';

export interface DataFlags {
  format?: DataFormat;
  header: boolean;
  textA?: string;
  textB?: string;
  labelCol?: string;
  task?: string;
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <fmt>', 'data file format (default: from the extension)').choices([...DATA_FORMATS]))
    .option('--no-header', 'TSV/CSV files have no header row (select columns by 0-based index)')
    .option('--text-a <col>', 'column of the first sentence: header name or 0-based index (default: text_a)')
    .option('--text-b <col>', 'column of the second sentence; "none" for single-sentence data (default: text_b when present)')
    .option('--label-col <col>', 'column of the label (default: label)');
}

const column = (v: string): Column => (/^\d+$/.test(v) ? Number(v) : v);

/** DatasetOptions from the flags; a --task fixes the columns of its GLUE files unless overridden. */
export function datasetOptions(f: DataFlags, labelled: boolean): DatasetOptions {
  const base: DatasetOptions = f.task ? taskFileOptions(f.task, labelled) : {};
  const o: DatasetOptions = { ...base, header: f.header };
  if (f.format) o.format = f.format;
  if (f.textA !== undefined) o.textA = column(f.textA);
  if (f.textB !== undefined) o.textB = f.textB === 'none' ? null : column(f.textB);
  if (f.labelCol !== undefined) o.label = column(f.labelCol);
  if (!labelled) o.label = null;
  return o;
}

/** Parses a number flag, rejecting junk with a usage error that names the flag. */
export function numberFlag(name: string, v: string | undefined, check: (x: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !check(x)) throw new UsageError(`--${name} must be ${what}, got "${v}"`);
  return x;
}
