// `npm run bench:vs-torch`: BERT training and inference steps, bertfit vs PyTorch (../shared/bench/torch_bert.py), same
// machine, same run, fp32 and bf16. Prints a table with ours/PyTorch time ratios and writes it to bench/RESULTS.md.
// Usage: node dist/bench/vs-torch.js [--config base] [--batch 32] [--seq 128] [--steps 3] [--threads 2] [--only train|infer]
import { parseArgs } from 'node:util';
import os from 'node:os';
import { namedConfig } from '../src/model/config.js';
import { cli, haveTorch, lastJson, machineLine, systemPython, torchBench, torchEnv, updateResults } from './common.js';

/** torch_bert.py's shape flags for a named bertfit shape (its defaults are BERT-base, so base passes none). */
function torchShapeArgs(name: string): string[] {
  const c = namedConfig(name);
  return name === 'base' ? [] : ['--layers', String(c.num_hidden_layers), '--hidden', String(c.hidden_size),
    '--heads', String(c.num_attention_heads), '--ff', String(c.intermediate_size)];
}

const { values: o } = parseArgs({ options: {
  config: { type: 'string', default: 'base' }, batch: { type: 'string', default: '32' }, seq: { type: 'string', default: '128' },
  steps: { type: 'string', default: '3' }, threads: { type: 'string', default: String(os.cpus().length) }, only: { type: 'string' },
} });
const torchOk = haveTorch();
if (!torchOk) console.error(`notice: ${systemPython} has no torch (apt-get install python3-torch): the PyTorch column is skipped`);
const rows: string[] = [];
for (const mode of ['train', 'infer']) {
  if (o.only && o.only !== mode) continue;
  for (const dtype of ['fp32', 'bf16']) {
    console.error(`${o.config} B=${o.batch} S=${o.seq} ${dtype} ${mode}: bertfit ...`);
    const ours = lastJson(process.execPath, [cli, 'bench', '--config', o.config!, '--batch', o.batch!, '--seq', o.seq!,
      '--dtype', dtype, '--mode', mode, '--steps', o.steps!, '--warmup', '1', '--threads', o.threads!]);
    let theirs: Record<string, number | string> | null = null;
    if (torchOk) {
      console.error(`${o.config} B=${o.batch} S=${o.seq} ${dtype} ${mode}: PyTorch ...`);
      theirs = lastJson(systemPython, [torchBench, o.batch!, o.seq!, dtype, o.steps!, '--mode', mode, ...torchShapeArgs(o.config!)], torchEnv(Number(o.threads)));
    }
    const ratio = theirs ? (Number(ours.step_s) / Number(theirs.step_s)).toFixed(2) : 'n/a';
    rows.push(`| ${mode} | ${dtype} | ${Number(ours.step_s).toFixed(3)} | ${theirs ? Number(theirs.step_s).toFixed(3) : 'n/a'} | **${ratio}** | ` +
      `${Number(ours.seq_per_s).toFixed(1)} | ${Number(ours.gflops).toFixed(0)} (${Number(ours.peak_pct).toFixed(0)}%) | ${Number(ours.peak_rss_mb).toFixed(0)} |`);
    console.error(rows.at(-1));
  }
}
const table = [
  `BERT-${o.config}, batch ${o.batch} x seq ${o.seq}, ${o.threads} threads, median of ${o.steps} steps after 1 warmup (torch_bert.py: 2 warmup).`,
  `Machine: ${machineLine()}. PyTorch: Debian python3-torch with OPENBLAS_CORETYPE=SkylakeX.`,
  `Command: \`npm run bench:vs-torch -- --config ${o.config} --batch ${o.batch} --seq ${o.seq} --steps ${o.steps}\``,
  '',
  '| mode | dtype | bertfit s/step | PyTorch s/step | ours / PyTorch | bertfit seq/s | bertfit GFLOP/s (% peak) | bertfit peak RSS MB |',
  '|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
updateResults(`vs-torch-${o.config}-${o.batch}x${o.seq}`, table);
