// Fuzz target: CSV dataset files (src/data/delimited.ts parseCsv, then src/data/dataset.ts), read under several
// option sets and checked for consistent labels; see ../data-files.ts. Seeds cover quoting ("" and line breaks in
// fields), CRLF, a BOM, ragged and blank rows, label spellings and multi-label fields.
import { mutateDataFile, readDataFile } from '../data-files.js';
import type { FuzzTarget } from '../runner.js';

export const target: FuzzTarget = {
  name: 'csv',
  seeds: () => [
    'text_a,text_b,label\n"The cat, ""Tom"", sat.",A dog.,1\nplain,"multi\nline",0\r\n"",x,1.0\n"""",y,01\n',
    '\ufeffid,text_a,label\r\n1,"a ""b""",pos\r\n2,c, neg\r\n3,"d,e",pos\r\n',
    'text_a,label\nx,a|b\ny,"01|1.5"\nz,|\n',
    'text_a,label\nx,1\n\n\ny,0,extra\nz',
    `text_a,label\n"${'""'.repeat(200)}",1\n${'w,0\n'.repeat(50)}`,
  ].map((s) => Buffer.from(s)),
  mutate: mutateDataFile,
  run: (input) => readDataFile(input, 'csv'),
};
