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
