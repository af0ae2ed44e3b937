// The error for bad input files (datasets, vocabularies): the CLI reports its message and exits with 1.

/** Where in an input a problem is: the file, the 1-based line, and the column/field when known. */
export interface DataLocation {
  file: string;
  line?: number;
  field?: string;
}

/**
 * A problem with the contents of an input file. The message reads `FILE:LINE: field "F": PROBLEM`
 * (line and field only where known), so the user can go straight to the spot.
 */
export class DataError extends Error {
  override name = 'DataError';
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string | undefined;

  constructor(where: DataLocation, problem: string) {
    super(formatLocation(where) + problem);
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }
}

function formatLocation({ file, line, field }: DataLocation): string {
  return `${file}${line !== undefined ? `:${line}` : ''}: ${field !== undefined ? `field ${JSON.stringify(field)}: ` : ''}`;
}

/** Longest string shown whole in a message; a data file's "label" can be megabytes long. */
const PREVIEW_CHARS = 60;
/** Nesting shown in a message; deeper arrays and objects become […] / {…} (JSON.stringify of a 100,000-deep array overflows the stack). */
const PREVIEW_DEPTH = 3;

/**
 * A value from an input file as JSON for a message, bounded in length and depth: `"pos"`, `["a"]`, `{"x":1}`,
 * `"aaaa…"` for a long string, `[[[[…]]]]` for deep nesting. Equal to JSON.stringify for short, shallow values.
 */
export function preview(value: unknown): string {
  let budget = PREVIEW_CHARS;
  const show = (v: unknown, depth: number): string => {
    if (budget <= 0) return '…';
    if (typeof v === 'string') {
      const s = v.length > budget ? `${JSON.stringify(v.slice(0, budget)).slice(0, -1)}…"` : JSON.stringify(v);
      budget -= s.length;
      return s;
    }
    if (v === null || typeof v !== 'object') {
      const s = String(JSON.stringify(v) ?? v);
      budget -= s.length;
      return s;
    }
    const array = Array.isArray(v);
    const [open, close] = array ? ['[', ']'] : ['{', '}'];
    if (depth >= PREVIEW_DEPTH) return `${open}…${close}`;
    budget -= 2;
    const parts: string[] = [];
    for (const [k, x] of array ? (v as unknown[]).entries() : Object.entries(v)) {
      if (budget <= 0) { parts.push('…'); break; }
      parts.push(array ? show(x, depth + 1) : `${show(String(k), depth + 1)}:${show(x, depth + 1)}`);
    }
    return open + parts.join(',') + close;
  };
  return show(value, 0);
}
