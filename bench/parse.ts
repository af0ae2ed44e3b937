// Dataset reader speed per MB for TSV, CSV and JSON lines, normal and hostile files, at 1, 10 and 100 MB: the time
// per MB should stay flat as the file grows (issue 18: a CSV field full of "" used to take 2.3 s at 1 MB and 9.8 s
// at 2 MB, quadratic).
//
//   npm run bench:parse [-- --sizes 1,10,100] [--only csv-quotes,tsv-tiny]
//
// Each file is written to a temporary directory and read with readDataset (read + UTF-8 decode + parse + rows to
// examples), the path `bertfit finetune --train FILE` takes. Each cell is ms per MB, wall/CPU, the best of several
// reads (about REPEAT_MB per size, at least 2: timer noise, JIT warm-up and scheduler noise); max/min
// compares the CPU figures of a row (1 = flat). A shape already slower than SLOW_MS_PER_MB is not run at the larger
// sizes (a quadratic reader would take hours there). Peak RSS is printed because the readers hold the whole file and
// its rows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDataset } from '../src/data/dataset.js';

const MB = 1 << 20;
const SLOW_MS_PER_MB = 1000;
/** Smaller files are read several times (best time kept) so that about this many MB are read per size. */
const REPEAT_MB = 20;

interface Shape {
  name: string;
  ext: 'tsv' | 'csv' | 'jsonl';
  what: string;
  /** file contents of about `bytes` bytes */
  make(bytes: number): string;
}

/** header + body repeated to fill about `bytes` + footer. */
function fill(header: string, unit: string, bytes: number, footer = ''): string {
  return header + unit.repeat(Math.max(1, Math.round((bytes - header.length - footer.length) / unit.length))) + footer;
}

/** A block of 1000 varied rows (the repeat unit of the normal files), rows made by `row(i)`. */
function block(row: (i: number) => string): string {
  const words = ['the', 'court', 'said', 'on', 'Tuesday', 'that', 'shares', 'of', 'Intel', 'rose', '3.5', 'percent', 'in', 'trading'];
  const sentence = (i: number, n: number): string => Array.from({ length: n }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ');
  return Array.from({ length: 1000 }, (_, i) => row(i).replace('A', sentence(i, 8 + (i % 9))).replace('B', sentence(i + 1, 6 + (i % 7)))).join('');
}

const SHAPES: Shape[] = [
  { name: 'tsv-normal', ext: 'tsv', what: 'sentence pairs, ~90 B rows', make: (b) => fill('text_a\ttext_b\tlabel\n', block((i) => `A "x\tB\t${i % 2}\n`), b) },
  { name: 'csv-normal', ext: 'csv', what: 'sentence pairs, some quoted with "" inside', make: (b) => fill('text_a,text_b,label\n', block((i) => `"A, ""x""",B,${i % 3}\n`), b) },
  { name: 'jsonl-normal', ext: 'jsonl', what: 'sentence pairs', make: (b) => fill('', block((i) => `{"text_a": "A \\"x\\"", "text_b": "B", "label": ${i % 2}}\n`), b) },
  { name: 'csv-quotes', ext: 'csv', what: 'one quoted field of "" only (the issue\'s case)', make: (b) => fill('text_a,label\n"', '""', b, '",1\n') },
  { name: 'csv-quotes-lf', ext: 'csv', what: 'one quoted field, "" and line breaks', make: (b) => fill('text_a,label\n"', '"" a\n""\r\n', b, '",1\n') },
  { name: 'csv-huge-line', ext: 'csv', what: 'one row, one quoted field of words and commas', make: (b) => fill('text_a,label\n"', 'word, ', b, '",1\n') },
  { name: 'tsv-huge-line', ext: 'tsv', what: 'one row, one huge field', make: (b) => fill('text_a\tlabel\n', 'word "x" ', b, '\t1\n') },
  { name: 'jsonl-huge-line', ext: 'jsonl', what: 'one line, one string full of \\" escapes', make: (b) => fill('{"text_a": "', 'say \\"hi\\" ', b, '", "label": 1}\n') },
  { name: 'tsv-tiny', ext: 'tsv', what: '5 B rows, each then 30 blank lines', make: (b) => fill('text_a\tlabel\n', 'ab\t1\n' + '\n'.repeat(30), b) },
  { name: 'csv-tiny', ext: 'csv', what: '5 B rows, each then 15 blank CRLF lines', make: (b) => fill('text_a,label\n', 'ab,1\n' + '\r\n'.repeat(15), b) },
  { name: 'jsonl-tiny', ext: 'jsonl', what: 'short objects, each then 30 blank lines', make: (b) => fill('', '{"text_a":"a","label":1}\n' + '\n'.repeat(30), b) },
];

function parseArgs(argv: string[]): { sizes: number[]; only: string[] | null } {
  let sizes = [1, 10, 100];
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sizes') sizes = (argv[++i] ?? '').split(',').map(Number);
    else if (argv[i] === '--only') only = (argv[++i] ?? '').split(',');
    else throw new Error(`bench/parse: unknown argument ${argv[i]} (use --sizes 1,10,100 and --only NAME,...)`);
  }
  if (!sizes.every((s) => Number.isFinite(s) && s > 0)) throw new Error('bench/parse: --sizes takes positive numbers of MB');
  const unknown = only?.find((n) => !SHAPES.some((s) => s.name === n));
  if (unknown !== undefined) throw new Error(`bench/parse: unknown shape ${unknown} (shapes: ${SHAPES.map((s) => s.name).join(', ')})`);
  return { sizes, only };
}

/**
 * Best-of wall and CPU time in ms to read `file`, and the number of examples (a check that the read did its work).
 * CPU time (this process, GC threads included) is the steadier figure on a shared machine.
 */
function timeRead(file: string, repeats: number): { ms: number; cpuMs: number; rows: number } {
  let best = Infinity;
  let bestCpu = Infinity;
  let rows = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    rows = readDataset(file, { emptyText: 'allow' }).length;
    const c = process.cpuUsage(c0);
    best = Math.min(best, performance.now() - t0);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1000);
  }
  return { ms: best, cpuMs: bestCpu, rows };
}

const { sizes, only } = parseArgs(process.argv.slice(2));
const dir = mkdtempSync(path.join(os.tmpdir(), 'bertfit-bench-parse-'));
const pad = (s: string, n: number): string => s.padStart(n);
try {
  console.log(`dataset readers, ms per MB wall/CPU (read + decode + parse), Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ` +
    `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
  console.log(`${'shape'.padEnd(16)}${sizes.map((s) => pad(`${s} MB`, 14)).join('')}${pad('max/min', 9)}  rows at ${sizes.at(-1)} MB  what`);
  for (const shape of SHAPES.filter((s) => only === null || only.includes(s.name))) {
    const perMb: number[] = [];
    const cells: string[] = [];
    let rows = 0;
    for (const size of sizes) {
      if (perMb.length > 0 && perMb.at(-1)! > SLOW_MS_PER_MB) { cells.push(pad('skipped', 14)); continue; }
      const text = shape.make(size * MB);
      const file = path.join(dir, `${shape.name}.${shape.ext}`);
      writeFileSync(file, text);
      const r = timeRead(file, Math.max(2, Math.round(REPEAT_MB / size)));
      rmSync(file);
      const mb = Buffer.byteLength(text) / MB;
      perMb.push(r.cpuMs / mb);
      rows = r.rows;
      cells.push(pad(`${(r.ms / mb).toFixed(1)}/${(r.cpuMs / mb).toFixed(1)}`, 14));
    }
    const ratio = Math.max(...perMb) / Math.min(...perMb);   // of the CPU times
    console.log(`${shape.name.padEnd(16)}${cells.join('')}${pad(ratio.toFixed(2), 9)}  ${pad(String(rows), 11)}  ${shape.what}`);
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
