// Reading a dataset file (TSV, CSV or JSON lines) into Examples, with errors that name file, line and field.
import { DataError, type DataLocation } from './errors.js';
import { type Row, parseCsv, parseTsv } from './delimited.js';
import { type FieldLocation, hasValue, jsonString, parseJsonObject } from './json.js';
import { readTextFile, splitLines } from './text.js';
import type { Example } from './types.js';

export type DataFormat = 'tsv' | 'csv' | 'jsonl';
export const DATA_FORMATS: readonly DataFormat[] = ['tsv', 'csv', 'jsonl'];

/** A column chosen by header name, or by 0-based index (TSV/CSV only). Error messages use the same numbering. */
export type Column = string | number;

export interface DatasetOptions {
  /** default: from the extension (.tsv, .csv, .jsonl/.ndjson) */
  format?: DataFormat;
  /** TSV/CSV: the first row names the columns (default true) */
  header?: boolean;
  /** first sentence (default "text_a") */
  textA?: Column;
  /**
   * second sentence; null for single-sentence data. Default: "text_b" where the file has it (the TSV/CSV
   * header, or each JSON object), else none. A column given explicitly must be present.
   */
  textB?: Column | null;
  /** label (default "label"); null for an unlabeled file (prediction) */
  label?: Column | null;
  /**
   * a row whose text is empty (or only whitespace): 'error' (default: a training file with such rows is usually
   * broken), 'allow' (the original tokenizer encodes it as [CLS] [SEP]; right for prediction), or 'skip' the row
   */
  emptyText?: EmptyTextPolicy;
  /** called for every row skipped (under emptyText 'skip' or raggedRows 'skip'), with where it is and why */
  onSkip?: (where: DataLocation, reason: SkipReason) => void;
  /**
   * multi-label data in TSV/CSV: the label column holds several labels split by this string ("a|b"; an empty
   * field = no label), read into Example.labels. (JSON lines give a list: "label": ["a", "b"].)
   */
  labelSep?: string;
  /**
   * the row's id (Example.id), e.g. GLUE's `index` column of test files, for submission files; must be present and
   * non-empty on every row. Default: none.
   */
  id?: Column | null;
  /**
   * TSV/CSV: a row with more or fewer fields than the header: 'error' (default) or 'skip' it (reported to onSkip).
   * 'skip' is for published files known to have a few broken rows (GLUE QQP: questions with a line break).
   */
  raggedRows?: 'error' | 'skip';
}

/** Why a row was skipped. */
export type SkipReason = 'empty text' | 'ragged row';

export type EmptyTextPolicy = 'error' | 'allow' | 'skip';

const DEFAULTS = { textA: 'text_a', textB: 'text_b', label: 'label' } as const;

/**
 * Reads a dataset file (UTF-8 with or without BOM, LF or CRLF).
 *
 * Args:
 *   file: path of a .tsv (no quoting), .csv (RFC 4180) or .jsonl file (or set options.format).
 *   options: format, header, and which columns hold text_a, text_b and the label.
 * Returns: one Example per data row, in file order, with its 1-based line and `source` = file.
 * Throws: DataError naming file, line and field for unreadable files, invalid UTF-8, missing columns,
 *   ragged rows, unterminated quotes, invalid JSON, empty texts or labels, and files without data.
 */
export function readDataset(file: string, options: DatasetOptions = {}): Example[] {
  const format = options.format ?? formatOf(file);
  return parseDataset(readTextFile(file), file, { ...options, format });
}

/** readDataset on text already in memory; `file` names it in errors. */
export function parseDataset(text: string, file: string, options: DatasetOptions & { format: DataFormat }): Example[] {
  if (!DATA_FORMATS.includes(options.format)) throw new RangeError(`unknown data format ${JSON.stringify(options.format)}`);
  return options.format === 'jsonl'
    ? parseJsonl(text, file, options)
    : parseTable(options.format === 'tsv' ? parseTsv(text) : parseCsv(text, file), file, options);
}

/** The format a file's extension implies. */
export function formatOf(file: string): DataFormat {
  const ext = /\.([^./\\]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === 'tsv' || ext === 'csv' || ext === 'jsonl') return ext;
  if (ext === 'ndjson') return 'jsonl';
  throw new RangeError(`cannot tell the format of ${file} from its extension: use .tsv, .csv or .jsonl, or give the format`);
}

function parseTable(rows: Row[], file: string, options: DatasetOptions): Example[] {
  const first = rows[0];
  if (first === undefined) throw new DataError({ file }, 'empty file (no rows)');
  const header = options.header ?? true;
  const names = header ? first.fields : null;
  const width = first.fields.length;
  const data = header ? rows.slice(1) : rows;
  if (data.length === 0) throw new DataError({ file, line: first.line }, 'no data rows after the header');

  const columnName = (k: number): string => names?.[k] ?? `column ${k}`;
  const resolve = (col: Column, option: string): number => {
    if (typeof col === 'number') {
      if (!Number.isInteger(col) || col < 0) throw new RangeError(`${option}: a column index must be a non-negative integer, got ${col}`);
      if (col >= width) {
        throw new DataError({ file, line: first.line, field: `column ${col}` },
          `missing column: rows have ${width} columns (0-based indices 0-${width - 1})`);
      }
      return col;
    }
    if (names === null) throw new RangeError(`${option}: column ${JSON.stringify(col)} is chosen by name, but the file has no header; choose it by index`);
    const k = names.indexOf(col);
    if (k < 0) {
      throw new DataError({ file, line: first.line, field: col },
        `missing column (the header has ${names.map((s) => JSON.stringify(s)).join(', ')})`);
    }
    if (names.indexOf(col, k + 1) >= 0) throw new DataError({ file, line: first.line, field: col }, 'the header has this column twice');
    return k;
  };
  const a = resolve(options.textA ?? DEFAULTS.textA, 'textA');
  const b = options.textB === null ? -1
    : options.textB === undefined ? (names?.includes(DEFAULTS.textB) ? resolve(DEFAULTS.textB, 'textB') : -1)
    : resolve(options.textB, 'textB');
  const l = options.label === null ? -1 : resolve(options.label ?? DEFAULTS.label, 'label');
  const k = options.id === undefined || options.id === null ? -1 : resolve(options.id, 'id');

  const examples: Example[] = [];
  for (const { fields, line } of data) {
    if (fields.length !== width) {
      if (options.raggedRows === 'skip') { options.onSkip?.({ file, line }, 'ragged row'); continue; }
      throw new DataError({ file, line },
        `ragged row: ${fields.length} fields, expected ${width} as in the ${header ? 'header' : 'first row'}`);
    }
    const texts = [{ value: fields[a]!, where: { file, line, field: columnName(a) } }];
    if (b >= 0) texts.push({ value: fields[b]!, where: { file, line, field: columnName(b) } });
    if (!textsUsable(texts, options)) continue;
    const ex: Example = { textA: texts[0]!.value, line, source: file };
    if (b >= 0) ex.textB = texts[1]!.value;
    if (k >= 0) ex.id = requireId(fields[k]!, { file, line, field: columnName(k) });
    if (l >= 0) {
      const where = { file, line, field: columnName(l) };
      if (options.labelSep !== undefined) ex.labels = splitLabels(fields[l]!, options.labelSep, where);
      else ex.label = requireLabel(fields[l]!, where);
    }
    examples.push(ex);
  }
  if (examples.length === 0) throw new DataError({ file }, 'no rows left: every row has an empty text');
  return examples;
}

function parseJsonl(text: string, file: string, options: DatasetOptions): Example[] {
  for (const [option, col] of Object.entries({ textA: options.textA, textB: options.textB, label: options.label, id: options.id })) {
    if (typeof col === 'number') throw new RangeError(`${option}: JSON lines fields are chosen by name, got the index ${col}`);
  }
  const keyA = (options.textA ?? DEFAULTS.textA) as string;
  const keyB = options.textB === null ? null : (options.textB ?? DEFAULTS.textB) as string;
  const keyLabel = options.label === null ? null : (options.label ?? DEFAULTS.label) as string;
  const examples: Example[] = [];
  let skipped = 0;
  const keyId = options.id === undefined || options.id === null ? null : options.id as string;
  const counting: DatasetOptions = { ...options, onSkip: (w, why) => { skipped++; options.onSkip?.(w, why); } };
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const obj = parseJsonObject(raw, { file, line });
    const at = (field: string): FieldLocation => ({ file, line, field });
    const texts = [{ value: jsonString(obj, at(keyA)), where: at(keyA) }];
    // The default text_b is optional line by line; a key chosen explicitly must be on every line.
    if (keyB !== null && (options.textB !== undefined || hasValue(obj, keyB))) texts.push({ value: jsonString(obj, at(keyB)), where: at(keyB) });
    if (!textsUsable(texts, counting)) return;
    const ex: Example = { textA: texts[0]!.value, line, source: file };
    if (texts[1]) ex.textB = texts[1].value;
    if (keyId !== null) ex.id = jsonId(obj, at(keyId));
    if (keyLabel !== null) {
      const v = obj[keyLabel];
      if (Array.isArray(v)) ex.labels = jsonLabelList(v, at(keyLabel));
      else if (options.labelSep !== undefined && typeof v === 'string') ex.labels = splitLabels(v, options.labelSep, at(keyLabel));
      else ex.label = jsonLabel(obj, at(keyLabel));
    }
    examples.push(ex);
  });
  if (examples.length === 0) throw new DataError({ file }, skipped ? 'no lines left: every line has an empty text' : 'empty file (no JSON lines)');
  return examples;
}

// JSON labels may be written as numbers or booleans; they become the same strings a TSV would hold.
function jsonLabel(obj: Record<string, unknown>, where: FieldLocation): string {
  const v = obj[where.field];
  if (v === undefined) throw new DataError(where, 'missing field');
  if (typeof v === 'string') return requireLabel(v, where);
  // numbers: classes written as 0/1, or regression targets (3.8)
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return String(v);
  throw new DataError(where, `expected a string, number or boolean label (or a list of labels), got ${JSON.stringify(v)}`);
}

/** Whether a row's texts can be used: empty ones are an error, allowed, or make the row skipped (reported). */
function textsUsable(texts: ReadonlyArray<{ value: string; where: FieldLocation }>, options: DatasetOptions): boolean {
  const policy = options.emptyText ?? 'error';
  if (policy === 'allow') return true;
  const empty = texts.find((t) => t.value.trim() === '');
  if (empty === undefined) return true;
  if (policy === 'skip') { options.onSkip?.(empty.where, 'empty text'); return false; }
  throw new DataError(empty.where, 'empty text (skip such rows with --skip-empty / skipEmpty, or fix the file)');
}

/** A multi-label field split by `sep`: trimmed, empty pieces dropped, each label once. */
function splitLabels(value: string, sep: string, where: FieldLocation): string[] {
  if (sep === '') throw new RangeError('labelSep must not be empty');
  const labels = value.split(sep).map((l) => l.trim()).filter((l) => l !== '');
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw new DataError(where, `label ${JSON.stringify(dup)} is listed twice`);
  return labels;
}

/** A JSON list of labels (multi-label data): strings, integers or booleans, each once. */
function jsonLabelList(v: unknown[], where: FieldLocation): string[] {
  const labels = v.map((x, i) => {
    if (typeof x === 'string' && x.trim() !== '') return x;
    if ((typeof x === 'number' && Number.isInteger(x)) || typeof x === 'boolean') return String(x);
    throw new DataError(where, `label list item ${i}: expected a non-empty string, integer or boolean, got ${JSON.stringify(x)}`);
  });
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw new DataError(where, `label ${JSON.stringify(dup)} is listed twice`);
  return labels;
}

function requireId(value: string, where: FieldLocation): string {
  if (value.trim() === '') throw new DataError(where, 'empty id');
  return value;
}

// A JSON id may be a string or an integer.
function jsonId(obj: Record<string, unknown>, where: FieldLocation): string {
  const v = obj[where.field];
  if (v === undefined) throw new DataError(where, 'missing field');
  if (typeof v === 'string') return requireId(v, where);
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  throw new DataError(where, `expected a string or integer id, got ${JSON.stringify(v)}`);
}

function requireLabel(value: string, where: FieldLocation): string {
  if (value.trim() === '') throw new DataError(where, 'empty label');
  return value;
}
