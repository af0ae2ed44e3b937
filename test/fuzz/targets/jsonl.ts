// Fuzz target: JSON-lines dataset files (src/data/json.ts and src/data/dataset.ts), read under several option sets
// and checked for consistent labels; see ../data-files.ts. A third of the cases edit one line's JSON values. Seeds cover string, number, boolean and list labels,
// optional text_b, escapes, blank lines, CRLF and a BOM.
import { mutateDataFile, readDataFile } from '../data-files.js';
import { mutateJson } from '../mutate.js';
import type { FuzzTarget } from '../runner.js';

export const target: FuzzTarget = {
  name: 'jsonl',
  seeds: () => [
    '{"text_a": "The cat sat.", "text_b": "A cat.", "label": 1}\n{"text_a": "x \\"q\\"", "text_b": null, "label": "01"}\n\n{"text_a": "y", "label": 1.0}\n',
    '\ufeff{"id": 1, "text_a": "a\\u00e9\\n", "label": "pos"}\r\n{"id": "2", "text_a": "b", "label": " neg"}\r\n',
    '{"text_a": "x", "label": ["a", "b"]}\n{"text_a": "y", "label": [1, "01"]}\n{"text_a": "z", "label": []}\n',
    '{"text_a": "x", "label": true}\n{"text_a": "", "label": false}\n[1]\n{"text_a": "y"}\n',
    `{"text_a": "${'\\"'.repeat(500)}", "label": 2.50}\n${'{"text_a":"w","label":0}\n'.repeat(50)}`,
  ].map((s) => Buffer.from(s)),
  mutate: (seed, rng, corpus) => {
    if (rng.chance(0.65)) return mutateDataFile(seed, rng, corpus);
    // JSON-level: plant odd values (wrong types, huge numbers, deep nesting) in one line's object
    const lines = seed.toString('utf8').split('\n');
    const i = rng.int(lines.length);
    for (let k = 1 + rng.int(2); k > 0; k--) lines[i] = mutateJson(lines[i]!, rng);
    return Buffer.from(lines.join('\n'));
  },
  run: (input) => readDataFile(input, 'jsonl'),
};
