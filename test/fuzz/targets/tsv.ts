// Fuzz target: TSV dataset files (src/data/delimited.ts parseTsv, then src/data/dataset.ts; no quoting, as GLUE),
// read under several option sets and checked for consistent labels; see ../data-files.ts.
import { mutateDataFile, readDataFile } from '../data-files.js';
import type { FuzzTarget } from '../runner.js';

export const target: FuzzTarget = {
  name: 'tsv',
  seeds: () => [
    'text_a\ttext_b\tlabel\nHe said "hi.\tShe left.\t1\nx\ty\t0\r\n\t\t1.0\n',
    '\ufeffid\ttext_a\tlabel\r\n1\ta b\tpos\r\n2\tc\t neg \r\n',
    'text_a\tlabel\nx\ta|b\ny\t01|1.5| 2\nz\t|\n',
    'text_a\tlabel\nx\t1\n\n\ny\t0\textra\nz',
    `text_a\tlabel\n${'x'.repeat(3000)}\t12345678901234567891\n${'w\t0\n'.repeat(50)}`,
  ].map((s) => Buffer.from(s)),
  mutate: mutateDataFile,
  run: (input) => readDataFile(input, 'tsv'),
};
