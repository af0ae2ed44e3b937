// `npm run bench:glue`: MiniLM-L6 fine-tuned on GLUE tasks (default: CoLA, STS-B, WNLI) for several seeds, with the
// full-BERT default (base: lr 2e-5 x 3 epochs, given explicitly) and optionally a second setting (--best "lr=1e-4,epochs=5",
// e.g. what `bertfit sweep` found; that one is now the default recipe for small models),
// side by side with transformers (scripts/hf_finetune_glue.py in .venv-torch: current PyPI torch + transformers,
// same files, tokenizer and recipe). Reports each task's GLUE metric (mean over seeds, per seed), the trivial
// baseline, and the difference between the engines; writes the table to bench/RESULTS.md.
//
// Every run's result stays under --out (bertfit: <out>/bertfit/<task>-<setting>-s<seed>/metrics.json; transformers:
// <out>/hf/<task>-<setting>-s<seed>.json) and is reused when present, so the table can be built from runs made at
// different times (or interrupted and continued).
// Usage: node dist/bench/glue.js [--tasks cola,stsb,wnli] [--seeds 1,2,3] [--best "lr=5e-5,epochs=5"] [--with-hf]
//                                [--dtype bf16] [--threads 2] [--out runs/glue] [--section glue-minilm] [--settings base,best]
// --section: the bench/RESULTS.md section the table replaces (another name keeps, e.g., a many-seed table of one task
// beside the main one). --settings: run and tabulate only these of base and best (default: both, best with --best).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { taskDatasets, taskSpec } from '../src/data/tasks.js';
import { locateTask } from '../src/data/glue-locate.js';
import { cli, machineLine, repoRoot, updateResults } from './common.js';

const { values: o } = parseArgs({ options: {
  tasks: { type: 'string', default: 'cola,stsb,wnli' }, seeds: { type: 'string', default: '1,2,3' },
  best: { type: 'string' }, 'with-hf': { type: 'boolean', default: false }, dtype: { type: 'string', default: 'bf16' },
  threads: { type: 'string', default: '2' }, out: { type: 'string', default: 'runs/glue' },
  section: { type: 'string', default: 'glue-minilm' }, settings: { type: 'string' },
} });
const out = path.resolve(o.out!);
const tasks = o.tasks!.split(',');
const seeds = o.seeds!.split(',').map(Number);
const hfPython = path.join(repoRoot, '.venv-torch', 'bin', 'python');

/**
 * Settings by name, each passed explicitly (finetune option names): base = the default recipe's published BERT values,
 * which are no longer what the default recipe gives MiniLM (hidden 384; see SMALL_MODEL_SETTINGS); best = --best.
 */
const settings: Record<string, Record<string, number>> = { base: { lr: 2e-5, epochs: 3 } };
if (o.best) {
  settings.best = Object.fromEntries(o.best.split(',').map((kv) => {
    const [k, v] = kv.split('=');
    if (!k || v === undefined || !Number.isFinite(Number(v))) throw new Error(`--best: expected key=number pairs, got "${kv}"`);
    return [k.trim(), Number(v)];
  }));
}
if (o.settings) {
  const keep = o.settings.split(',');
  for (const k of keep) if (!(k in settings)) throw new Error(`--settings: unknown setting "${k}" (have ${Object.keys(settings).join(', ')}; best needs --best)`);
  for (const k of Object.keys(settings)) if (!keep.includes(k)) delete settings[k];
}
const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** Runs one fine-tuning command; its output goes to `log` (progress stays readable with tail -f). */
function run(cmd: string, args: string[], log: string): void {
  console.error(`$ ${path.basename(cmd)} ${args.join(' ')}   (log: ${log})`);
  mkdirSync(path.dirname(log), { recursive: true });
  const fd = openSync(log, 'w');
  const r = spawnSync(cmd, args, { env: { ...process.env, CI: 'true' }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}); see ${log}`);
}

interface Result { main: number; second?: number; wall: number }

function bertfitRun(task: string, setting: string, seed: number, metric: string, second?: string): Result {
  const dir = path.join(out, 'bertfit', `${task}-${setting}-s${seed}`);
  const file = path.join(dir, 'metrics.json');
  if (!existsSync(file)) {
    const extra = Object.entries(settings[setting]!).flatMap(([k, v]) => [flag(k), String(v)]);
    run(process.execPath, [cli, 'finetune', '--model', 'minilm-l6', '--task', task, '--seed', String(seed), '--dtype', o.dtype!,
      '--threads', o.threads!, '--out', dir, ...extra], `${dir}.log`);
  }
  const m = JSON.parse(readFileSync(file, 'utf8'));
  return { main: m.dev[metric], second: second ? m.dev[second] : undefined, wall: m.wall_s };
}

function hfRun(task: string, setting: string, seed: number, metric: string, second?: string): Result | null {
  if (!o['with-hf'] && !existsSync(path.join(out, 'hf', `${task}-${setting}-s${seed}.json`))) return null;
  const file = path.join(out, 'hf', `${task}-${setting}-s${seed}.json`);
  if (!existsSync(file)) {
    if (!existsSync(hfPython)) throw new Error(`${hfPython} is missing: python3 -m venv .venv-torch && .venv-torch/bin/pip install torch transformers scipy scikit-learn`);
    mkdirSync(path.dirname(file), { recursive: true });
    const extra = Object.entries(settings[setting]!).flatMap(([k, v]) => [flag(k), String(v)]);
    run(hfPython, [path.join(repoRoot, 'scripts', 'hf_finetune_glue.py'), '--task', task, '--seed', String(seed), '--dtype', o.dtype!,
      '--threads', o.threads!, '--out', file, ...extra], file + '.log');
  }
  const m = JSON.parse(readFileSync(file, 'utf8'));
  return { main: m.best.metrics[metric], second: second ? m.best.metrics[second] : undefined, wall: m.wall_s };
}

/** The score of always answering the same: majority-class accuracy, MCC 0, Pearson 0. */
async function trivial(task: string, metric: string): Promise<number> {
  if (metric !== 'accuracy') return 0;
  const d = taskDatasets(task, await locateTask(task));
  const counts = new Map<string, number>();
  for (const e of d.dev) counts.set(e.label!, (counts.get(e.label!) ?? 0) + 1);
  return Math.max(...counts.values()) / d.dev.length;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample variance (n - 1); 0 for one value. */
const variance = (xs: number[]) => xs.length < 2 ? 0 : xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1);
/** Standard error of the difference of two means (Welch): how far apart seed noise alone puts them. */
const diffStdErr = (a: number[], b: number[]) => Math.sqrt(variance(a) / a.length + variance(b) / b.length);
const fmt = (x: number, metric: string) => (metric === 'accuracy' ? (100 * x).toFixed(2) : x.toFixed(4));
const rows: string[] = [];
const notes: string[] = [];
for (const task of tasks) {
  const spec = taskSpec(task);
  const metric = spec.mainMetric;
  const second = spec.metrics.find((m) => m !== metric);
  const base = await trivial(task, metric);
  for (const setting of Object.keys(settings)) {
    const b = seeds.map((s) => bertfitRun(task, setting, s, metric, second));
    const h = seeds.map((s) => hfRun(task, setting, s, metric, second));
    // without --with-hf the table takes the transformers seeds that have been run (their count is shown)
    const hfRuns = h.filter((x): x is Result => x !== null);
    const hfDone = hfRuns.length > 0 ? hfRuns : null;
    const bm = mean(b.map((r) => r.main));
    const hm = hfDone ? mean(hfDone.map((r) => r.main)) : NaN;
    const diff = hfDone ? (metric === 'accuracy' ? 100 * (bm - hm) : bm - hm) : NaN;
    const written = Object.entries(settings[setting]!).map(([k, v]) => `${k}=${v}`).join(',');
    const scale = metric === 'accuracy' ? 100 : 1, digits = metric === 'accuracy' ? 2 : 4;
    const sd = (xs: Result[]) => xs.length < 2 ? '-' : (scale * Math.sqrt(variance(xs.map((r) => r.main)))).toFixed(digits);
    const se = hfDone && b.length > 1 && hfDone.length > 1 ? scale * diffStdErr(b.map((r) => r.main), hfDone.map((r) => r.main)) : NaN;
    rows.push(`| ${spec.glueName} | ${setting} (${written}) | ${metric} | ` +
      `**${fmt(bm, metric)}** ± ${sd(b)} (${b.map((r) => fmt(r.main, metric)).join(' / ')})` +
      (second ? `; ${second} ${fmt(mean(b.map((r) => r.second!)), second)}` : '') + ` | ` +
      (hfDone ? `**${fmt(hm, metric)}** ± ${sd(hfDone)} (${hfDone.map((r) => fmt(r.main, metric)).join(' / ')}${hfDone.length < seeds.length ? `; ${hfDone.length} of ${seeds.length} seeds` : ''})` +
        (second ? `; ${second} ${fmt(mean(hfDone.map((r) => r.second!)), second)}` : '') : 'not run') + ` | ` +
      `${hfDone ? `${diff >= 0 ? '+' : ''}${diff.toFixed(digits)}${Number.isFinite(se) ? ` ± ${se.toFixed(digits)}` : ''}` : '-'} | ${fmt(base, metric)} | ` +
      `${mean(b.map((r) => r.wall)).toFixed(0)} s${hfDone ? ` / ${mean(hfDone.map((r) => r.wall)).toFixed(0)} s` : ''} |`);
    if (bm <= base) notes.push(`${spec.glueName} ${setting}: bertfit's mean ${fmt(bm, metric)} does not beat the trivial baseline ${fmt(base, metric)}.`);
  }
}
const table = [
  o.section === 'glue-minilm' ? '### GLUE tasks, MiniLM-L6, bertfit vs transformers (`npm run bench:glue`)'
    : `### ${tasks.map((t) => taskSpec(t).glueName).join(', ')} over ${seeds.length} seeds, MiniLM-L6, bertfit vs transformers (\`npm run bench:glue\`)`,
  '',
  `MiniLM-L6 (\`bertfit pull minilm-l6\`) on GLUE dev sets, ${o.dtype}, ${o.threads} threads, seeds ${seeds.join(', ')}; bertfit ` +
  `\`finetune --task T --seed S --dtype ${o.dtype}\` vs transformers (\`scripts/hf_finetune_glue.py\`, same files, tokenizer and recipe). ` +
  `Command: \`npm run bench:glue -- --tasks ${tasks.join(',')} --seeds ${seeds.join(',')}${o.best ? ` --best "${o.best}"` : ''} --with-hf` +
  `${o.settings ? ` --settings ${o.settings}` : ''}${o.section !== 'glue-minilm' ? ` --section ${o.section}` : ''}\`. ` + machineLine(),
  '',
  'Means ± the standard deviation over seeds; the difference ± its standard error (Welch: sqrt(sd₁²/n₁ + sd₂²/n₂)), ' +
  'the spread that seed noise alone gives it.',
  '',
  '| task | setting | metric | bertfit mean ± sd (per seed) | transformers mean ± sd (per seed) | bertfit − transformers ± SE | trivial baseline | wall per run (bertfit / transformers) |',
  '|---|---|---|---|---|---|---|---|',
  ...rows,
  ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
].join('\n');
console.log(table);
updateResults(o.section!, table);
