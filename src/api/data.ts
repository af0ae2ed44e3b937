// How the API's data options (the CLI's column/format flags) become the dataset reader's options.
import type { Column, DataFormat, DatasetOptions, EmptyTextPolicy } from '../data/dataset.js';
import { DATA_FORMATS } from '../data/dataset.js';
import { taskFileOptions } from '../data/tasks.js';
import { checkChoice } from './options.js';

/** Which columns of a data file hold what (names as the CLI's flags: --format, --no-header, --text-a, ...). */
export interface DataFileOptions {
  /** tsv, csv or jsonl (default: from the extension) */
  format?: DataFormat;
  /** TSV/CSV files start with a header row (default true) */
  header?: boolean;
  /** column of the first text: header name or 0-based index (default text_a) */
  textA?: Column;
  /** column of the second text; null for single-sentence data (default text_b when the file has it) */
  textB?: Column | null;
  /** column of the label (default label) */
  labelCol?: Column;
  /** a GLUE task whose files these are: fixes the columns unless given above */
  task?: string;
}

/**
 * DatasetOptions for reading a file; a task's GLUE columns unless overridden.
 *
 * Args:
 *   o: the data options; labelled: read the label column (false for prediction files);
 *   emptyText: what to do with empty texts; file: the file to read (a task's layout can depend on its header).
 */
export function datasetOptions(o: DataFileOptions, labelled: boolean, emptyText: EmptyTextPolicy, file?: string): DatasetOptions {
  const base: DatasetOptions = o.task ? taskFileOptions(o.task, labelled, file) : {};
  const d: DatasetOptions = { ...base, emptyText };
  if (o.header !== undefined) d.header = o.header;
  const format = checkChoice('format', o.format, DATA_FORMATS);
  if (format) d.format = format;
  if (o.textA !== undefined) d.textA = o.textA;
  if (o.textB !== undefined) d.textB = o.textB;
  if (o.labelCol !== undefined) d.label = o.labelCol;
  if (!labelled) d.label = null;
  return d;
}
