// Column/format flags shared by every command that reads a dataset file (finetune, eval, predict), and the
// string -> number parsing of numeric flags (the library checks the ranges).
import { Option, type Command } from 'commander';
import type { Column } from '../data/dataset.js';
import { DATA_FORMATS } from '../data/dataset.js';
import type { DataFileOptions } from '../api/data.js';
import { UsageError } from './errors.js';

export interface DataFlags {
  format?: DataFileOptions['format'];
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

/** The API's DataFileOptions from the flags. */
export function dataFileOptions(f: DataFlags): DataFileOptions {
  const o: DataFileOptions = { header: f.header };
  if (f.format) o.format = f.format;
  if (f.task) o.task = f.task;
  if (f.textA !== undefined) o.textA = column(f.textA);
  if (f.textB !== undefined) o.textB = f.textB === 'none' ? null : column(f.textB);
  if (f.labelCol !== undefined) o.labelCol = column(f.labelCol);
  return o;
}

/** A numeric flag as a number (undefined when not given); junk is a usage error naming the flag. */
export function numberFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return x;
}
