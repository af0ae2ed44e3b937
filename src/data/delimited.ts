// Splitting TSV and CSV text into rows of fields, with the line each row starts on.
import { DataError } from './errors.js';
import { forEachLine } from './text.js';

export interface Row {
  fields: string[];
  /** 1-based line of the file where the row starts */
  line: number;
}

/**
 * Receives the rows of a file one at a time, in order: the dataset reader turns each into an example at once, so a
 * large file never has all its rows and all its examples in memory together.
 */
export type RowSink = (fields: string[], line: number) => void;

/**
 * TSV without any quoting: a row is a line, fields are split on every tab. Quote characters are plain
 * text (MRPC/GLUE sentences contain unbalanced "). Blank lines are skipped.
 */
export function parseTsv(text: string): Row[] {
  return collect((sink) => forEachTsvRow(text, sink));
}

/** parseTsv, row by row. */
export function forEachTsvRow(text: string, sink: RowSink): void {
  forEachLine(text, (l, line) => {
    if (l.length > 0) sink(l.split('\t'), line);
  });
}

function collect(read: (sink: RowSink) => void): Row[] {
  const rows: Row[] = [];
  read((fields, line) => { rows.push({ fields, line }); });
  return rows;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * CSV as in RFC 4180: fields separated by `delimiter`; a field may be enclosed in double quotes, and
 * then may contain delimiters, line breaks and doubled quotes ("" for "). Records end with LF or CRLF.
 * Strict where a guess could silently shift columns: a quote inside an unquoted field, text after a
 * closing quote and an unterminated quote are errors. Blank lines are skipped.
 *
 * One forward pass: every character is looked at a bounded number of times, so the time is linear in
 * the file's size whatever its shape (a field of a million "", one huge line, millions of tiny lines).
 *
 * Args:
 *   text: the file's contents; file: its name for error messages.
 * Returns: the rows (ragged rows are returned as they are; the caller checks widths).
 */
export function parseCsv(text: string, file: string, delimiter = ','): Row[] {
  return collect((sink) => forEachCsvRow(text, file, sink, delimiter));
}

/** parseCsv, row by row (rows before a syntax error are passed on before it is thrown). */
export function forEachCsvRow(text: string, file: string, sink: RowSink, delimiter = ','): void {
  const delim = delimiter.charCodeAt(0);
  if (delimiter.length !== 1 || delim === QUOTE || delim === LF || delim === CR) {
    throw new RangeError(`CSV delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`);
  }
  const lineAt = lineCounter(text);
  const n = text.length;
  let i = 0;
  while (i < n) {
    // Blank lines (LF or CRLF) are skipped before anything is allocated for a row.
    const first = text.charCodeAt(i);
    if (first === LF) { i++; continue; }
    if (first === CR && text.charCodeAt(i + 1) === LF) { i += 2; continue; }
    const rowLine = lineAt(i);
    const fields: string[] = [];
    let quotedAny = false;
    for (;;) {
      if (text.charCodeAt(i) === QUOTE) {
        quotedAny = true;
        const start = i + 1;
        // Find the closing quote, stepping over doubled ones; the field is then cut out in one piece (appending
        // piece by piece per "" made this quadratic).
        let doubled = false;
        let q = text.indexOf('"', start);
        for (; q >= 0 && text.charCodeAt(q + 1) === QUOTE; q = text.indexOf('"', q + 2)) doubled = true;
        if (q < 0) {
          throw new DataError({ file, line: lineAt(i), field: columnName(fields) }, 'unterminated quoted field (the " opened here is never closed)');
        }
        const value = doubled ? undoubleQuotes(text, start, q) : text.substring(start, q);
        i = q + 1;
        const c = text.charCodeAt(i);
        if (i < n && c !== delim && c !== LF && !(c === CR && text.charCodeAt(i + 1) === LF)) {
          throw new DataError({ file, line: lineAt(i), field: columnName(fields) }, `unexpected ${JSON.stringify(text[i])} after a closing quote (a quote inside a quoted field must be doubled: "")`);
        }
        fields.push(value);
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === delim || c === LF) break;
          if (c === QUOTE) {
            throw new DataError({ file, line: lineAt(j), field: columnName(fields) }, 'quote (") inside an unquoted field: enclose the field in quotes and double the quote ("")');
          }
        }
        // A CR right before the LF belongs to the CRLF line end, not to the field.
        const end = j > i && text.charCodeAt(j - 1) === CR && (j === n || text.charCodeAt(j) === LF) ? j - 1 : j;
        fields.push(text.substring(i, end));
        i = j;
      }
      if (i < n && text.charCodeAt(i) === delim) {
        i++;
        continue;
      }
      if (text.charCodeAt(i) === CR) i++;
      if (text.charCodeAt(i) === LF) i++;
      break;
    }
    if (quotedAny || fields.length > 1 || fields[0] !== '') sink(fields, rowLine);
  }
}

/**
 * text[start, end) with every "" made one ", in linear time. Long fields are copied into a code-unit buffer and
 * turned into a string in chunks: replaceAll('""', '"') costs ~100 ns per match in V8, 10-20x this, which adds up in
 * a field of a million "". Short fields (most) use replaceAll, which is faster than allocating the buffer.
 * fromCharCode keeps every code unit as it is (TextDecoder('utf-16le') would replace an unpaired surrogate).
 */
function undoubleQuotes(text: string, start: number, end: number): string {
  if (end - start <= SHORT_FIELD) return text.substring(start, end).replaceAll('""', '"');
  const units = new Uint16Array(end - start);
  let k = 0;
  for (let p = start; p < end; p++) {
    const c = text.charCodeAt(p);
    units[k++] = c;
    if (c === QUOTE) p++;   // the second quote of the pair (the scan guarantees quotes come in pairs here)
  }
  const parts: string[] = [];
  for (let a = 0; a < k; a += FROM_CHAR_CODE_CHUNK) {
    parts.push(String.fromCharCode.apply(null, units.subarray(a, Math.min(k, a + FROM_CHAR_CODE_CHUNK)) as unknown as number[]));
  }
  return parts.join('');
}

/** Fields up to this many code units are undoubled with replaceAll. */
const SHORT_FIELD = 4096;

/** Code units per String.fromCharCode call: well under engines' argument-count limits. */
const FROM_CHAR_CODE_CHUNK = 8192;

// The field being read, for error messages (built only when one is thrown: a name per field would be garbage).
const columnName = (fields: readonly string[]): string => `column ${fields.length}`;

/**
 * A function giving the 1-based line of a position in `text`, for positions asked in non-decreasing order (the
 * parser only moves forward). It walks the line feeds once in all: counting them afresh for each field (or each "")
 * from an earlier point re-read the text, and searching for the next LF from every "" of a field without one
 * scanned to the end of the file each time.
 */
function lineCounter(text: string): (pos: number) => number {
  let before = 0;   // line feeds found before nextLf
  let nextLf = text.indexOf('\n');
  return (pos) => {
    while (nextLf >= 0 && nextLf < pos) {
      before++;
      nextLf = text.indexOf('\n', nextLf + 1);
    }
    return before + 1;
  };
}
