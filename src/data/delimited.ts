// Splitting TSV and CSV text into rows of fields, with the line each row starts on.
import { DataError } from './errors.js';
import { splitLines } from './text.js';

export interface Row {
  fields: string[];
  /** 1-based line of the file where the row starts */
  line: number;
}

/**
 * TSV without any quoting: a row is a line, fields are split on every tab. Quote characters are plain
 * text (MRPC/GLUE sentences contain unbalanced "). Blank lines are skipped.
 */
export function parseTsv(text: string): Row[] {
  const rows: Row[] = [];
  splitLines(text).forEach((l, i) => {
    if (l.length > 0) rows.push({ fields: l.split('\t'), line: i + 1 });
  });
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
 * Args:
 *   text: the file's contents; file: its name for error messages.
 * Returns: the rows (ragged rows are returned as they are; the caller checks widths).
 */
export function parseCsv(text: string, file: string, delimiter = ','): Row[] {
  const delim = delimiter.charCodeAt(0);
  if (delimiter.length !== 1 || delim === QUOTE || delim === LF || delim === CR) {
    throw new RangeError(`CSV delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`);
  }
  const rows: Row[] = [];
  const n = text.length;
  let line = 1;
  let i = 0;
  while (i < n) {
    const rowLine = line;
    const fields: string[] = [];
    let quotedAny = false;
    for (;;) {
      const column = `column ${fields.length}`;
      if (text.charCodeAt(i) === QUOTE) {
        quotedAny = true;
        const startLine = line;
        let value = '';
        let from = i + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q < 0) {
            throw new DataError({ file, line: startLine, field: column }, 'unterminated quoted field (the " opened here is never closed)');
          }
          value += text.substring(from, q);
          line += countLineFeeds(text, from, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            from = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        const c = text.charCodeAt(i);
        if (i < n && c !== delim && c !== LF && !(c === CR && text.charCodeAt(i + 1) === LF)) {
          throw new DataError({ file, line, field: column }, `unexpected ${JSON.stringify(text[i])} after a closing quote (a quote inside a quoted field must be doubled: "")`);
        }
        fields.push(value);
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === delim || c === LF) break;
          if (c === QUOTE) {
            throw new DataError({ file, line, field: column }, 'quote (") inside an unquoted field: enclose the field in quotes and double the quote ("")');
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
      if (text.charCodeAt(i) === LF) {
        i++;
        line++;
      }
      break;
    }
    if (quotedAny || fields.length > 1 || fields[0] !== '') rows.push({ fields, line: rowLine });
  }
  return rows;
}

function countLineFeeds(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = text.indexOf('\n', from); k >= 0 && k < to; k = text.indexOf('\n', k + 1)) count++;
  return count;
}
