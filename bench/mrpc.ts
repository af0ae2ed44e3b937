// `npm run bench:mrpc`: fine-tune the pretrained MiniLM-L6 on MRPC with the default recipe as published for BERT
// (3 epochs, lr 2e-5, batch 32, 10% warmup, dynamic padding; lr and epochs given explicitly, since the default recipe
// now trains small models with lr 1e-4 x 5 epochs, which the companion script does not) for seeds 1, 2, 3; report dev accuracy/F1 per seed, mean and spread, wall time and
// seq/s. With --with-hf also runs scripts/hf_finetune_mrpc.py (transformers + PyTorch, same data, tokenizer and
// hyper-parameters; needs `bash scripts/hf_venv.sh`) for the same seeds. With --tutorial also runs `--recipe tutorial`
// once and keeps its log lines. Writes the table to bench/RESULTS.md.
//
// Every run leaves its result under --out (bertfit: <out>/bertfit-<dtype>-seed-N/metrics.json; transformers:
// <out>/hf-<dtype>-seed-N.json). A transformers seed takes most of an hour here, so --reuse takes a finished run's
// result from there instead of running it again: the table can be assembled from runs made at different times.
// Usage: node dist/bench/mrpc.js [--seeds 1,2,3] [--with-hf] [--hf-seeds 1,2,3] [--tutorial] [--dtype fp32|bf16]
//                                [--threads 2] [--out DIR] [--reuse]
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, lastJson, machineLine, repoRoot, runJson, torchEnv, updateResults } from './common.js';

const { values: o } = parseArgs({ options: {
  seeds: { type: 'string', default: '1,2,3' }, 'with-hf': { type: 'boolean', default: false }, 'hf-seeds': { type: 'string' },
  dtype: { type: 'string', default: 'fp32' }, 'hf-dtype': { type: 'string' }, threads: { type: 'string', default: String(os.cpus().length) },
  tutorial: { type: 'boolean', default: false }, reuse: { type: 'boolean', default: false },
  out: { type: 'string', default: path.join(os.tmpdir(), 'bertfit-bench-mrpc') },
} });
const EPOCHS = 3;
const out = path.resolve(o.out!);
mkdirSync(out, { recursive: true });

interface Run {
  engine: string; seed: number; acc: number; f1: number; bestAcc?: number; trainLoss: number; wall: number; seqPerS: number; epochS: number; reused: boolean;
}
const runs: Run[] = [];

/** Runs `bertfit finetune` on MiniLM-L6 / MRPC; returns its output lines (progress lines go to stderr). */
function finetune(args: string[]): string[] {
  const r = runJson(process.execPath, [cli, 'finetune', '--model', 'minilm-l6', '--task', 'mrpc', '--threads', o.threads!, ...args],
    { ...process.env, CI: 'true' });
  return [...r.lines, ...r.errLines];
}

/**
 * The last epoch's mean training loss of a run made before metrics.json recorded it: log.jsonl has the mean batch loss
 * of each logged window of steps, so weight each by its number of steps (one batch per step at grad-accum 1).
 */
function lastEpochLossFromLog(file: string): number {
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; epoch: number; step: number; loss: number });
  const train = rows.filter((r) => r.type === 'train');
  const lastEpoch = Math.max(...train.map((r) => r.epoch));
  let prev = Math.max(0, ...train.filter((r) => r.epoch < lastEpoch).map((r) => r.step)), sum = 0, n = 0;
  for (const r of train.filter((t) => t.epoch === lastEpoch)) { sum += r.loss * (r.step - prev); n += r.step - prev; prev = r.step; }
  return sum / n;
}

for (const seed of o.seeds!.split(',').map(Number)) {
  const dir = path.join(out, `bertfit-${o.dtype}-seed-${seed}`);
  const metricsFile = path.join(dir, 'metrics.json');
  const done = (): boolean => existsSync(metricsFile) && JSON.parse(readFileSync(metricsFile, 'utf8')).history?.length === EPOCHS;
  const reused = o.reuse! && done();
  if (reused) console.error(`bertfit seed ${seed}: reusing ${metricsFile}`);
  else {
    console.error(`bertfit seed ${seed} -> ${dir}`);
    finetune(['--seed', String(seed), '--out', dir, '--dtype', o.dtype!, '--lr', '2e-5', '--epochs', String(EPOCHS)]);
  }
  const m = JSON.parse(readFileSync(metricsFile, 'utf8'));
  const last = m.history.at(-1);
  runs.push({ engine: `bertfit ${o.dtype}`, seed, acc: last.accuracy, f1: last.f1, bestAcc: m.dev.accuracy,
    trainLoss: last.train_loss ?? lastEpochLossFromLog(path.join(dir, 'log.jsonl')), wall: m.wall_s,
    seqPerS: m.train_seq_per_s, epochS: m.wall_s / m.history.length, reused });
}

if (o['with-hf']) {
  const py = path.join(repoRoot, '.venv-hf', 'bin', 'python');
  const hfDtype = o['hf-dtype'] ?? o.dtype!;
  for (const seed of (o['hf-seeds'] ?? o.seeds!).split(',').map(Number)) {
    const file = path.join(out, `hf-${hfDtype}-seed-${seed}.json`);
    const reused = o.reuse! && existsSync(file);
    let r: Record<string, unknown>;
    if (reused) {
      console.error(`transformers seed ${seed}: reusing ${file}`);
      r = JSON.parse(readFileSync(file, 'utf8'));
    } else {
      if (!existsSync(py)) throw new Error('--with-hf needs the transformers venv: bash scripts/hf_venv.sh');
      console.error(`transformers seed ${seed} -> ${file}`);
      r = lastJson(py, [path.join(repoRoot, 'scripts', 'hf_finetune_mrpc.py'), '--seed', String(seed), '--dtype', hfDtype,
        '--threads', o.threads!], torchEnv(Number(o.threads)));
      writeFileSync(file, `${JSON.stringify(r)}\n`);
    }
    const per = r.per_epoch as Array<{ train_s: number; eval_s: number; train_loss: number }>;
    runs.push({ engine: `${String(r.engine)} ${hfDtype}`, seed, acc: Number(r.dev_acc), f1: Number(r.dev_f1),
      trainLoss: per.at(-1)!.train_loss, wall: Number(r.wall_s),
      seqPerS: Number(r.train_seq_per_s), epochS: per.reduce((a, e) => a + e.train_s + e.eval_s, 0) / per.length, reused });
  }
}

const pct = (x: number) => (100 * x).toFixed(2);
const command = `npm run bench:mrpc -- --seeds ${o.seeds}${o.dtype !== 'fp32' ? ` --dtype ${o.dtype}` : ''}` +
  `${o['with-hf'] ? ' --with-hf' : ''}${o['hf-seeds'] ? ` --hf-seeds ${o['hf-seeds']}` : ''}${o.tutorial ? ' --tutorial' : ''}`;
const lines = [
  `MiniLM-L6 (all-MiniLM-L6-v2, \`bertfit pull minilm-l6\`) fine-tuned on MRPC train (3668 pairs), dev accuracy / F1 after epoch 3 ` +
  `(default recipe: AdamW lr 2e-5, wd 0.01, eps 1e-6, batch 32, 10% warmup + linear decay, clip 1.0, dynamic padding, max len 128), ` +
  `${o.threads} threads. Machine: ${machineLine()}.`,
  `Command: \`${command}\`${runs.some((r) => r.reused) ? ' (rows marked * were taken from an earlier run with --reuse)' : ''}`,
  '',
  '| engine | seed | dev acc % | dev F1 % | best-epoch acc % | epoch-3 train loss | wall s | s / epoch (train+eval) | train seq/s |',
  '|---|---|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.engine}${r.reused ? ' *' : ''} | ${r.seed} | ${pct(r.acc)} | ${pct(r.f1)} | ` +
    `${r.bestAcc !== undefined ? pct(r.bestAcc) : '-'} | ${r.trainLoss.toFixed(4)} | ${r.wall.toFixed(0)} | ${r.epochS.toFixed(0)} | ${r.seqPerS.toFixed(1)} |`),
  '',
];
const engines = [...new Set(runs.map((r) => r.engine))];
const means = new Map<string, number>();
for (const engine of engines) {
  const rs = runs.filter((r) => r.engine === engine);
  const mean = (f: (r: Run) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  const spread = (f: (r: Run) => number) => Math.max(...rs.map(f)) - Math.min(...rs.map(f));
  means.set(engine, mean((r) => r.acc));
  lines.push(`- ${engine}: mean dev accuracy ${pct(mean((r) => r.acc))}% (spread ${pct(spread((r) => r.acc))}), ` +
    `mean F1 ${pct(mean((r) => r.f1))}% (spread ${pct(spread((r) => r.f1))}), mean epoch-3 train loss ${mean((r) => r.trainLoss).toFixed(4)}, ` +
    `${mean((r) => r.epochS).toFixed(0)} s per epoch, ` +
    `${mean((r) => r.seqPerS).toFixed(1)} train seq/s over ${rs.length} seed(s)` +
    (rs.length > 3 ? `; over seeds ${rs.slice(0, 3).map((r) => r.seed).join(', ')} only: mean dev accuracy ` +
      `${pct(rs.slice(0, 3).reduce((a, r) => a + r.acc, 0) / 3)}%` : ''));
}
if (engines.length === 2) {
  const [a, b] = engines as [string, string];
  const d = means.get(a)! - means.get(b)!;
  lines.push(`- mean dev accuracy, ${a} minus ${b}: ${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)} points`);
}

if (o.tutorial) {
  const dir = path.join(out, `tutorial-${o.dtype}`);
  console.error(`bertfit --recipe tutorial -> ${dir}`);
  const steps = finetune(['--recipe', 'tutorial', '--out', dir, '--dtype', o.dtype!]).filter((l) => l.startsWith('[Epoch'));
  const m = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
  lines.push('', `\`--recipe tutorial\` (GluonNLP tutorial settings: trains on MRPC dev, Adam lr 5e-6 eps 1e-9, constant lr, ` +
    `clip 1, batch 32, fixed padding to 128, rollover last batch, a line every 4 batches), ${o.dtype}: ` +
    `\`node dist/src/cli/main.js finetune --model minilm-l6 --task mrpc --recipe tutorial\` → dev accuracy ${pct(m.dev.accuracy)}% ` +
    `/ F1 ${pct(m.dev.f1)}% (dev is also its training set), ${Number(m.wall_s).toFixed(0)} s.`, '', '```', ...steps, '```');
}

const table = lines.join('\n');
console.log(table);
updateResults('mrpc-minilm', table);
