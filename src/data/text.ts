// Reading input text files: strict UTF-8 (with or without BOM), LF or CRLF line ends.
import { readFileSync } from 'node:fs';
import { DataError } from './errors.js';

/**
 * Reads a whole file as UTF-8 text without its BOM.
 *
 * Throws DataError naming the file (and the line, for invalid UTF-8) when the file cannot be read
 * or is not valid UTF-8: silently replacing bad bytes with U+FFFD would change the tokens.
 */
export function readTextFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new DataError({ file }, `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeUtf8(bytes, file);
}

/** Decodes UTF-8 bytes strictly, dropping a leading BOM; `file` names the source in errors. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError({ file, line: lineOfInvalidUtf8(bytes) }, 'invalid UTF-8 (the file must be UTF-8 encoded)');
  }
}

// TextDecoder does not say where decoding failed. A 0x0A byte never occurs inside a multi-byte UTF-8
// sequence, so decoding line by line finds the first bad line. Runs only on the error path.
function lineOfInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      decoder.decode(bytes.subarray(start, end));
    } catch {
      return line;
    }
    start = end + 1;
    line++;
  }
  return line - 1;
}

/**
 * Splits text into lines on LF, dropping one CR before each LF and the empty piece after a final
 * newline. Line i of the result is line i + 1 of the file.
 */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  forEachLine(text, (l) => { lines.push(l); });
  return lines;
}

/**
 * Calls fn for each line of text as splitLines cuts them, with its 1-based line number, without building the array
 * of lines: a file of a hundred million empty lines needs no more memory than the text itself.
 */
export function forEachLine(text: string, fn: (line: string, lineNo: number) => void): void {
  const n = text.length;
  let lineNo = 1;
  for (let start = 0; start < n; lineNo++) {
    const lf = text.indexOf('\n', start);
    const end = lf < 0 ? n : lf;
    fn(text.substring(start, end > start && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end), lineNo);
    start = end + 1;
  }
}

/**
 * Reads a byte stream (e.g. stdin) line by line, decoding each line as strict UTF-8: a BOM at the very
 * start and a CR before each LF are dropped. Invalid UTF-8 throws DataError naming `name` and the line.
 *
 * Yields: { text, line } with the 1-based line number, for every line including blank ones.
 */
export async function* readLines(stream: AsyncIterable<Uint8Array | string>, name: string): AsyncGenerator<{ text: string; line: number }> {
  // ignoreBOM keeps a U+FEFF at the start of later lines; only the stream's first BOM is dropped, below.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let line = 0;
  const decode = (bytes: Uint8Array): { text: string; line: number } => {
    line++;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new DataError({ file: name, line }, 'invalid UTF-8 (input must be UTF-8 encoded)');
    }
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text: text.endsWith('\r') ? text.slice(0, -1) : text, line };
  };
  let pending: Uint8Array[] = []; // pieces of a line that started in earlier chunks
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl >= 0; nl = bytes.indexOf(0x0a, start)) {
      const piece = bytes.subarray(start, nl);
      yield decode(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
      pending = [];
      start = nl + 1;
    }
    if (start < bytes.length) pending.push(bytes.subarray(start));
  }
  if (pending.length > 0) yield decode(Buffer.concat(pending));
}
