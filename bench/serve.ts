// `npm run bench:serve -- --model DIR`: `bertfit serve` under load on loopback, against the same model's offline
// throughput. One MRPC dev pair per request (POST /predict {"inputs": [a, b]}), cycling through the 408 pairs, with
// autocannon as the load generator in this process and the server as a child process (`bertfit serve`), so they do
// not share an event loop. For each dtype: offline throughput (Classifier.predict on all pairs, in batches, in this
// process), the latency of one bare forward of one pair (Classifier.run, median over pairs), both before and after
// the server's points (the better of each is kept), and the server's throughput (sequences/s) and p50/p99 latency
// at each concurrency.
//
// Usage: node dist/bench/serve.js --model DIR [--data FILE] [--duration 10] [--warmup 2] [--concurrency 1,8,64]
//          [--dtypes fp32,bf16] [--threads N] [--max-wait-ms 2] [--results]
// --model: a fine-tuned checkpoint; make one with
//   node dist/src/cli/main.js finetune --model minilm-l6 --task mrpc --dtype bf16 --epochs 1 --out /tmp/mrpc-minilm
// and pass /tmp/mrpc-minilm/checkpoint-best. --results writes the table to bench/RESULTS.md (section serve).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Classifier } from '../src/api/classifier.js';
import { readDataset } from '../src/data/dataset.js';
import { taskFileOptions } from '../src/data/tasks.js';
import { sharedDir } from '../src/util/paths.js';
import { cli, machineLine, updateResults } from './common.js';

// autocannon has no bundled types: the part used here.
interface AutocannonResult {
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: {
  url: string; connections: number; duration: number; pipelining?: number;
  requests: Array<{ method: string; path: string; headers: Record<string, string>; setupRequest: (req: { body?: string }) => { body?: string } }>;
}, cb: (err: Error | null, result: AutocannonResult) => void) => EventEmitter;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const { values: o } = parseArgs({ options: {
  model: { type: 'string' }, data: { type: 'string' },
  duration: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' },
  concurrency: { type: 'string', default: '1,8,64' }, dtypes: { type: 'string', default: 'fp32,bf16' },
  threads: { type: 'string' }, 'max-wait-ms': { type: 'string', default: '2' }, results: { type: 'boolean', default: false },
} });

function fail(message: string): never {
  process.stderr.write(`bench/serve: ${message}\n`);
  process.exit(2);
}

if (!o.model) {
  fail('--model DIR is required: a fine-tuned checkpoint. Make one (about 1.5 min on 2 cores) with\n' +
    '  node dist/src/cli/main.js finetune --model minilm-l6 --task mrpc --dtype bf16 --epochs 1 --out /tmp/mrpc-minilm\n' +
    'and run  npm run bench:serve -- --model /tmp/mrpc-minilm/checkpoint-best');
}
const model = o.model;
if (!existsSync(model)) fail(`--model ${model}: no such directory`);
const dataFile = o.data ?? path.join(sharedDir, 'data', 'mrpc', 'dev.tsv');
if (!existsSync(dataFile)) fail(`--data ${dataFile}: no such file (MRPC dev.tsv, columns "#1 String" and "#2 String")`);
const num = (flag: string, v: string, ok: (x: number) => boolean): number => {
  const x = Number(v);
  if (!Number.isFinite(x) || !ok(x)) fail(`--${flag} must be a positive number, got "${v}"`);
  return x;
};
const duration = num('duration', o.duration!, (x) => x > 0);
const warmup = num('warmup', o.warmup!, (x) => x >= 0);
const concurrencies = o.concurrency!.split(',').map((c) => num('concurrency', c, (x) => Number.isInteger(x) && x > 0));
const dtypes = o.dtypes!.split(',') as Array<'fp32' | 'bf16'>;
for (const d of dtypes) if (d !== 'fp32' && d !== 'bf16') fail(`--dtypes takes fp32 and/or bf16, got "${d}"`);
const threads = o.threads ? num('threads', o.threads, (x) => Number.isInteger(x) && x > 0) : os.cpus().length;

const pairs = readDataset(dataFile, taskFileOptions('mrpc', false)).map((e): [string, string] => [e.textA, e.textB ?? '']);
const bodies = pairs.map((p) => JSON.stringify({ inputs: p }));
const median = (xs: number[]): number => percentile(xs, 50);
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

interface Offline { seqPerS: number; bareMs: number }

/** Offline throughput and one bare forward, in this process. */
async function offline(dtype: 'fp32' | 'bf16'): Promise<Offline> {
  const clf = await Classifier.load(model, { dtype, threads });
  await clf.predict(pairs.slice(0, 64));
  const times: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    await clf.predict(pairs);
    times.push(performance.now() - t0);
  }
  const seqPerS = pairs.length / (Math.min(...times) / 1000);
  const encodings = clf.encode(pairs);
  const bare: number[] = [];
  for (let i = 0; i < Math.min(200, pairs.length) + 10; i++) {
    const t0 = performance.now();
    clf.run([encodings[i % encodings.length]!]);
    if (i >= 10) bare.push(performance.now() - t0);
  }
  clf.dispose();
  return { seqPerS, bareMs: median(bare) };
}

async function offlineLogged(dtype: 'fp32' | 'bf16'): Promise<Offline> {
  const off = await offline(dtype);
  console.error(`  ${dtype} offline ${off.seqPerS.toFixed(1)} seq/s, bare single forward ${off.bareMs.toFixed(2)} ms`);
  return off;
}

function startServe(dtype: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', '0', '--dtype', dtype, '--threads', String(threads),
    '--max-wait-ms', o['max-wait-ms']!], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`bertfit serve exited (${code}) before listening`)));
  });
}

async function scrape(url: string): Promise<{ batches: number; sequences: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(name + ' ')) ?? '')?.[2] ?? 0);
  return { batches: value('bertfit_batch_size_count'), sequences: value('bertfit_batch_size_sum') };
}

interface Point { c: number; seqPerS: number; p50: number; p99: number; meanBatch: number; failed: number }

let next = 0;
function load(url: string, connections: number, seconds: number): Promise<{ result: AutocannonResult; latencies: number[]; ok: number }> {
  const latencies: number[] = [];
  let ok = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url, connections, duration: seconds, pipelining: 1,
      requests: [{
        method: 'POST', path: '/predict', headers: { 'content-type': 'application/json' },
        setupRequest: (req) => { req.body = bodies[next++ % bodies.length]; return req; },
      }],
    }, (err, result) => (err ? reject(err) : resolve({ result, latencies, ok })));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) {
        ok++;
        latencies.push(ms);
      }
    });
  });
}

async function serverPoints(dtype: 'fp32' | 'bf16'): Promise<Point[]> {
  const { child, url } = await startServe(dtype);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    if (warmup > 0) await load(url, 8, warmup);
    const points: Point[] = [];
    for (const c of concurrencies) {
      const before = await scrape(url);
      const { result, latencies, ok } = await load(url, c, duration);
      const afterM = await scrape(url);
      const p: Point = {
        c, seqPerS: ok / result.duration, p50: median(latencies), p99: percentile(latencies, 99),
        meanBatch: (afterM.sequences - before.sequences) / Math.max(1, afterM.batches - before.batches),
        failed: result.non2xx + result.errors + result.timeouts,
      };
      console.error(`  ${dtype} c=${c}: ${p.seqPerS.toFixed(1)} seq/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, ` +
        `mean batch ${p.meanBatch.toFixed(1)}${p.failed ? `, ${p.failed} failed` : ''}`);
      points.push(p);
    }
    return points;
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) console.error(`bertfit serve exited with ${code}`);
  }
}

console.error(`bench/serve: ${model}, ${pairs.length} pairs from ${dataFile}, ${threads} thread(s), ${duration} s per point; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const rows: string[] = [];
const summary: string[] = [];
for (const dtype of dtypes) {
  // Offline before and after the server points, keeping the better of each: on a shared machine the ratios then
  // err against the server.
  const offBefore = await offlineLogged(dtype);
  const points = await serverPoints(dtype);
  const offAfter = await offlineLogged(dtype);
  const off: Offline = { seqPerS: Math.max(offBefore.seqPerS, offAfter.seqPerS), bareMs: Math.min(offBefore.bareMs, offAfter.bareMs) };
  for (const p of points) {
    rows.push(`| ${dtype} | ${p.c} | ${p.seqPerS.toFixed(1)} | ${p.p50.toFixed(2)} | ${p.p99.toFixed(2)} | ${p.meanBatch.toFixed(1)} |` +
      ` ${p.failed} |`);
  }
  const top = points.reduce((a, b) => (b.c > a.c ? b : a));
  const one = points.find((p) => p.c === 1);
  summary.push(`| ${dtype} | ${off.seqPerS.toFixed(1)} | ${off.bareMs.toFixed(2)} | ${(top.seqPerS / off.seqPerS).toFixed(2)} (c=${top.c}) | ` +
    `${one ? (one.p50 / off.bareMs).toFixed(2) : '-'} |`);
}

const table = [
  `bertfit serve, ${path.basename(path.resolve(model, '..'))}/${path.basename(model)}; one MRPC dev pair per request; ${machineLine()}; ` +
    `${threads} compute thread(s), ${duration} s per point, load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  '',
  '| dtype | concurrency | sequences/s | p50 ms | p99 ms | mean batch | failed |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
  '| dtype | offline sequences/s | bare single forward ms | server / offline throughput (goal >= 0.8) | p50 at c=1 / bare forward (goal <= 1.3) |',
  '|---|---|---|---|---|',
  ...summary,
].join('\n');
console.log(table);
if (o.results) updateResults('serve', `### Serving (\`npm run bench:serve\`)\n\n${table}`);
