// `npm run bench:mrpc`: fine-tune the pretrained MiniLM-L6 on MRPC with the default recipe (3 epochs, lr 2e-5, batch
// 32, 10% warmup, dynamic padding) for seeds 1, 2, 3; report dev accuracy/F1 per seed, mean and spread, wall time and
// seq/s. With --with-hf also runs scripts/hf_finetune_mrpc.py (transformers + PyTorch, same data, tokenizer and
// hyper-parameters; needs `bash scripts/hf_venv.sh`) for the same seeds. Writes the table to bench/RESULTS.md.
// Usage: node dist/bench/mrpc.js [--seeds 1,2,3] [--with-hf] [--hf-seeds 1,2,3] [--dtype fp32|bf16] [--threads 2]
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, lastJson, machineLine, repoRoot, torchEnv, updateResults } from './common.js';

const { values: o } = parseArgs({ options: {
  seeds: { type: 'string', default: '1,2,3' }, 'with-hf': { type: 'boolean', default: false }, 'hf-seeds': { type: 'string' },
  dtype: { type: 'string', default: 'fp32' }, 'hf-dtype': { type: 'string' }, threads: { type: 'string', default: String(os.cpus().length) },
  out: { type: 'string', default: path.join(os.tmpdir(), 'bertfit-bench-mrpc') },
} });

interface Run { engine: string; seed: number; acc: number; f1: number; bestAcc?: number; wall: number; seqPerS: number; epochS: number }
const runs: Run[] = [];
const seeds = o.seeds!.split(',').map(Number);
for (const seed of seeds) {
  const out = path.join(o.out!, `seed-${seed}`);
  console.error(`bertfit seed ${seed} -> ${out}`);
  lastJson(process.execPath, [cli, 'finetune', '--model', 'minilm-l6', '--task', 'mrpc', '--seed', String(seed), '--out', out,
    '--dtype', o.dtype!, '--threads', o.threads!], { ...process.env, CI: 'true' });
  const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  const last = m.history.at(-1);
  runs.push({ engine: `bertfit ${o.dtype}`, seed, acc: last.accuracy, f1: last.f1, bestAcc: m.dev.accuracy, wall: m.wall_s,
    seqPerS: m.train_seq_per_s, epochS: m.wall_s / m.history.length });
}
if (o['with-hf']) {
  const py = path.join(repoRoot, '.venv-hf', 'bin', 'python');
  if (!existsSync(py)) throw new Error('--with-hf needs the transformers venv: bash scripts/hf_venv.sh');
  const hfDtype = o['hf-dtype'] ?? o.dtype!;
  for (const seed of (o['hf-seeds'] ?? o.seeds!).split(',').map(Number)) {
    console.error(`transformers seed ${seed}`);
    const r = lastJson(py, [path.join(repoRoot, 'scripts', 'hf_finetune_mrpc.py'), '--seed', String(seed), '--dtype', hfDtype,
      '--threads', o.threads!], torchEnv(Number(o.threads)));
    const per = r.per_epoch as unknown as Array<{ train_s: number; eval_s: number }>;
    runs.push({ engine: `${String(r.engine)} ${hfDtype}`, seed, acc: Number(r.dev_acc), f1: Number(r.dev_f1), wall: Number(r.wall_s),
      seqPerS: Number(r.train_seq_per_s), epochS: per.reduce((a, e) => a + e.train_s + e.eval_s, 0) / per.length });
  }
}
const pct = (x: number) => (100 * x).toFixed(2);
const lines = [
  `MiniLM-L6 (all-MiniLM-L6-v2, \`bertfit pull minilm-l6\`) fine-tuned on MRPC train (3668 pairs), dev accuracy / F1 after epoch 3 ` +
  `(default recipe: AdamW lr 2e-5, wd 0.01, eps 1e-6, batch 32, 10% warmup + linear decay, clip 1.0, dynamic padding, max len 128). ` +
  `Machine: ${machineLine()}.`,
  `Command: \`npm run bench:mrpc -- --seeds ${o.seeds}${o['with-hf'] ? ' --with-hf' : ''}${o['hf-seeds'] ? ` --hf-seeds ${o['hf-seeds']}` : ''}\``,
  '',
  '| engine | seed | dev acc % | dev F1 % | best-epoch acc % | wall s | s / epoch (train+eval) | train seq/s |',
  '|---|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.engine} | ${r.seed} | ${pct(r.acc)} | ${pct(r.f1)} | ${r.bestAcc !== undefined ? pct(r.bestAcc) : '-'} | ` +
    `${r.wall.toFixed(0)} | ${r.epochS.toFixed(0)} | ${r.seqPerS.toFixed(1)} |`),
  '',
];
for (const engine of [...new Set(runs.map((r) => r.engine))]) {
  const rs = runs.filter((r) => r.engine === engine);
  const mean = (f: (r: Run) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  const spread = (f: (r: Run) => number) => Math.max(...rs.map(f)) - Math.min(...rs.map(f));
  lines.push(`- ${engine}: mean dev accuracy ${pct(mean((r) => r.acc))}% (spread ${pct(spread((r) => r.acc))}), ` +
    `mean F1 ${pct(mean((r) => r.f1))}% (spread ${pct(spread((r) => r.f1))}), ${mean((r) => r.epochS).toFixed(0)} s per epoch, ` +
    `${mean((r) => r.seqPerS).toFixed(1)} train seq/s over ${rs.length} seed(s)`);
}
const table = lines.join('\n');
console.log(table);
updateResults('mrpc-minilm', table);
