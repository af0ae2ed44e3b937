// Reading a dataset file (TSV, CSV or JSON lines) into Examples, with errors that name file, line and field.
import { DataError, type DataLocation, preview } from './errors.js';
import { LabelSpellings } from './label-spelling.js';
import { type RowSink, forEachCsvRow, forEachTsvRow } from './delimited.js';
import { type FieldLocation, hasValue, jsonString, parseJsonObject } from './json.js';
import { forEachLine, readTextFile } from './text.js';
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
  /**
   * 'canonical' (default): labels are trimmed and numbers compared as numbers, so "1", "01", "1.0" and " 1" are
   * one class, spelled "1" (see label-spelling.ts), each change reported to onNotice. 'exact': labels as written
   * (the GLUE readers, whose label sets are fixed strings checked as such).
   */
  labelSpelling?: 'canonical' | 'exact';
  /**
   * called once per message about something read differently from how it is written (labels respelled), after the
   * file is read, e.g. `train.tsv:7: labels "1", "01", "1.0" read as the number 1`; such data is not an error
   */
  onNotice?: (message: string) => void;
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
    : parseTable((sink) => (options.format === 'tsv' ? forEachTsvRow(text, sink) : forEachCsvRow(text, file, sink)), file, options);
}

/** The format a file's extension implies. */
export function formatOf(file: string): DataFormat {
  const ext = /\.([^./\\]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === 'tsv' || ext === 'csv' || ext === 'jsonl') return ext;
  if (ext === 'ndjson') return 'jsonl';
  throw new RangeError(`cannot tell the format of ${file} from its extension: use .tsv, .csv or .jsonl, or give the format`);
}

/**
 * Examples from the rows of a TSV/CSV file, taken one at a time from `forEachRow`. The columns are resolved at the
 * first data row, so a header-only file is reported as such whatever its columns.
 */
function parseTable(forEachRow: (sink: RowSink) => void, file: string, options: DatasetOptions): Example[] {
  const header = options.header ?? true;
  let first: { fields: string[]; line: number } | null = null;
  let columns: TableColumns | null = null;
  const spell = labelSpeller(file, options);
  const examples: Example[] = [];
  forEachRow((fields, line) => {
    if (first === null) {
      first = { fields, line };
      if (header) return;
    }
    columns ??= resolveColumns(first, header, file, options);
    const { names, width, a, b, l, k } = columns;
    if (fields.length !== width) {
      if (options.raggedRows === 'skip') { options.onSkip?.({ file, line }, 'ragged row'); return; }
      throw new DataError({ file, line },
        `ragged row: ${fields.length} fields, expected ${width} as in the ${header ? 'header' : 'first row'}`);
    }
    const texts = [{ value: fields[a]!, where: { file, line, field: columnName(names, a) } }];
    if (b >= 0) texts.push({ value: fields[b]!, where: { file, line, field: columnName(names, b) } });
    if (!textsUsable(texts, options)) return;
    const ex: Example = { textA: texts[0]!.value, line, source: file };
    if (b >= 0) ex.textB = texts[1]!.value;
    if (k >= 0) ex.id = requireId(fields[k]!, { file, line, field: columnName(names, k) });
    if (l >= 0) {
      const where = { file, line, field: columnName(names, l) };
      if (options.labelSep !== undefined) ex.labels = splitLabels(fields[l]!, options.labelSep, where, spell);
      else ex.label = spell(requireLabel(fields[l]!, where), line);
    }
    examples.push(ex);
  });
  const head = first as { fields: string[]; line: number } | null;   // (TS does not see the callback's assignment)
  if (head === null) throw new DataError({ file }, 'empty file (no rows)');
  if (columns === null) throw new DataError({ file, line: head.line }, 'no data rows after the header');
  if (examples.length === 0) throw new DataError({ file }, 'no rows left: every row has an empty text');
  spell.report();
  return examples;
}

/** Where a table's columns are: the header's names (or null), the row width, and the index of each (-1: none). */
interface TableColumns {
  names: string[] | null;
  width: number;
  a: number;
  b: number;
  l: number;
  k: number;
}

/** A column as messages name it: its header name, or `column K` (0-based) in a file without a header. */
function columnName(names: readonly string[] | null, k: number): string {
  return names?.[k] ?? `column ${k}`;
}

/** Header names listed in a missing-column error. */
const MAX_NAMES_SHOWN = 20;

function resolveColumns(first: { fields: string[]; line: number }, header: boolean, file: string, options: DatasetOptions): TableColumns {
  const names = header ? first.fields : null;
  const width = first.fields.length;
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
        `missing column (the header has ${names.slice(0, MAX_NAMES_SHOWN).map(preview).join(', ')}${names.length > MAX_NAMES_SHOWN ? `, … (${names.length} columns)` : ''})`);
    }
    if (names.indexOf(col, k + 1) >= 0) throw new DataError({ file, line: first.line, field: col }, 'the header has this column twice');
    return k;
  };
  return {
    names,
    width,
    a: resolve(options.textA ?? DEFAULTS.textA, 'textA'),
    b: options.textB === null ? -1
      : options.textB === undefined ? (names?.includes(DEFAULTS.textB) ? resolve(DEFAULTS.textB, 'textB') : -1)
      : resolve(options.textB, 'textB'),
    l: options.label === null ? -1 : resolve(options.label ?? DEFAULTS.label, 'label'),
    k: options.id === undefined || options.id === null ? -1 : resolve(options.id, 'id'),
  };
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
  const spell = labelSpeller(file, options);
  forEachLine(text, (raw, line) => {
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
      if (Array.isArray(v)) ex.labels = jsonLabelList(v, at(keyLabel), spell);
      else if (options.labelSep !== undefined && typeof v === 'string') ex.labels = splitLabels(v, options.labelSep, at(keyLabel), spell);
      else ex.label = spell(jsonLabel(obj, at(keyLabel)), line);
    }
    examples.push(ex);
  });
  if (examples.length === 0) throw new DataError({ file }, skipped ? 'no lines left: every line has an empty text' : 'empty file (no JSON lines)');
  spell.report();
  return examples;
}

// JSON labels may be written as numbers or booleans; they become the same strings a TSV would hold.
function jsonLabel(obj: Record<string, unknown>, where: FieldLocation): string {
  const v = obj[where.field];
  if (v === undefined) throw new DataError(where, 'missing field');
  if (typeof v === 'string') return requireLabel(v, where);
  // numbers: classes written as 0/1, or regression targets (3.8)
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return String(v);
  throw new DataError(where, `expected a string, number or boolean label (or a list of labels), got ${preview(v)}`);
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

/**
 * Gives each label its spelling (canonical or as written) and, at the end of the file, reports what changed.
 * A function with a method, so the per-row calls stay short.
 */
type LabelSpeller = ((label: string, line: number) => string) & { report(): void };

function labelSpeller(file: string, options: DatasetOptions): LabelSpeller {
  if (options.labelSpelling === 'exact') return Object.assign((label: string) => label, { report() {} });
  if (options.labelSpelling !== undefined && options.labelSpelling !== 'canonical') {
    throw new RangeError(`labelSpelling must be 'canonical' or 'exact', got ${JSON.stringify(options.labelSpelling)}`);
  }
  const spellings = new LabelSpellings(file);
  return Object.assign((label: string, line: number) => spellings.read(label, line), {
    report() { for (const n of spellings.notices()) options.onNotice?.(n); },
  });
}

/** A multi-label field split by `sep`: trimmed, empty pieces dropped, each label once. */
function splitLabels(value: string, sep: string, where: FieldLocation, spell: LabelSpeller): string[] {
  if (sep === '') throw new RangeError('labelSep must not be empty');
  // trimmed before spelling: spaces around a separator ("a | b") are layout, not worth a notice
  return distinctLabels(value.split(sep).map((l) => l.trim()).filter((l) => l !== ''), where, spell);
}

/** A JSON list of labels (multi-label data): strings, integers or booleans, each once. */
function jsonLabelList(v: unknown[], where: FieldLocation, spell: LabelSpeller): string[] {
  const labels = v.map((x, i) => {
    if (typeof x === 'string' && x.trim() !== '') return x;
    if ((typeof x === 'number' && Number.isInteger(x)) || typeof x === 'boolean') return String(x);
    throw new DataError(where, `label list item ${i}: expected a non-empty string, integer or boolean, got ${preview(x)}`);
  });
  return distinctLabels(labels, where, spell);
}

// Labels spelled, then checked to be distinct (a Set: a field may list very many labels).
function distinctLabels(written: readonly string[], where: FieldLocation, spell: LabelSpeller): string[] {
  const labels: string[] = [];
  const firstSpelling = new Map<string, string>();
  for (const w of written) {
    const l = spell(w, where.line);
    const earlier = firstSpelling.get(l);
    if (earlier !== undefined) {
      const same = earlier === w ? '' : ` (${preview(earlier)} and ${preview(w)} read as the same label)`;
      throw new DataError(where, `label ${preview(l)} is listed twice${same}`);
    }
    firstSpelling.set(l, w);
    labels.push(l);
  }
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
  throw new DataError(where, `expected a string or integer id, got ${preview(v)}`);
}

function requireLabel(value: string, where: FieldLocation): string {
  if (value.trim() === '') throw new DataError(where, 'empty label');
  return value;
}
