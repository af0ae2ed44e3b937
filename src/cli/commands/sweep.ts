// `bertfit sweep`: search fine-tuning settings (grid or seeded random search over lr, epochs, batch size, warmup, ...),
// each point fine-tuned once per seed, ranked by the mean dev metric. Flags -> sweep() (src/api/sweep.ts).
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { type SearchKey, type SweepBase, type SweepOptions, type SweepResult, SEARCH_KEYS, formatDuration, parseDimension,
  planSweep, searchKeyOf, sweep, sweepTable, type Dimension } from '../../api/sweep.js';
import { OptionError, flagOf } from '../../errors.js';
import { numberFlag } from '../data-options.js';
import { type RunFlags, addRunFlags, runOptionsFrom, withStopSignals } from '../run-flags.js';
import { UsageError } from '../errors.js';

type ListKey = Exclude<SearchKey, 'bucketing' | 'shuffle'>;
type SearchFlags = Partial<Record<ListKey, string>>;

interface SweepFlags extends RunFlags, SearchFlags {
  space?: string; search: 'grid' | 'random'; seeds?: string; points?: string; searchSeed?: string; maxRuns?: string;
  timeBudget?: string; verbose?: boolean; dryRun?: boolean;
}

/** The searchable flags: a list (a,b,c) or a range (min:max[:log], random search) is a dimension; one value is fixed. */
const SEARCH_FLAGS: Array<[ListKey, string]> = [
  ['lr', 'peak learning rates, e.g. 1e-5,2e-5,5e-5 or (random search) 1e-5:1e-4 (log-uniform for lr)'],
  ['epochs', 'training epochs, e.g. 2,3,4 (or a range 2:4)'],
  ['batchSize', 'sequences per batch, e.g. 16,32'],
  ['warmupRatio', 'fraction of steps with linear warmup, e.g. 0,0.1 (or 0:0.2)'],
  ['weightDecay', 'weight decay values'],
  ['adamEps', 'Adam epsilon values'],
  ['clipNorm', 'gradient-clipping norms (0 = off)'],
  ['gradAccum', 'batches per optimizer step'],
  ['maxLen', 'max tokens per example incl. [CLS]/[SEP]'],
  ['earlyStop', 'early-stopping patience values (0 = off)'],
  ['threshold', 'multi-label decision thresholds'],
  ['optimizer', 'adam, adamw (or both: adam,adamw)'],
  ['schedule', 'constant, linear'],
  ['padding', 'fixed, dynamic'],
  ['lastBatch', 'keep, discard, rollover'],
  ['dtype', 'fp32, bf16'],
];

export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('search fine-tuning settings: every point of a grid (or a seeded random sample) fine-tuned once per seed into ' +
      '--out/<point>/seed-<s>/, ranked by the mean dev metric; writes sweep.json and sweep.md; rerun to continue an interrupted sweep. ' +
      'A setting flag with one value fixes it; a list (a,b,c) or a range (min:max[:log|:lin], random search) searches it')
    .option('--space <file>', 'search space as JSON or YAML: {"lr": [1e-5, 2e-5], "epochs": [2, 3], "warmupRatio": "0:0.2", ...}; flags override its entries')
    .addOption(new Option('--search <kind>', 'grid: every combination; random: --points/--max-runs points sampled with --search-seed').choices(['grid', 'random']).default('grid'))
    .option('--seeds <list>', 'run every point once per seed, e.g. 1,2,3 (default: the recipe seed)')
    .option('--max-runs <n>', 'at most N fine-tuning runs in all (random search: N / seeds points, unless --points)')
    .option('--points <n>', 'random search: number of distinct points to sample')
    .option('--search-seed <n>', 'random search: seed of the sampler (default: 0)')
    .option('--time-budget <duration>', 'start no new run after this long, e.g. 900s, 30m, 2h, 1h30m (the running one finishes)')
    .option('--verbose', "also print every fine-tuning line (prefixed with the run's point and seed)")
    .option('--dry-run', 'print the planned runs as JSON lines and exit');
  addRunFlags(cmd, {
    out: ['output directory of the sweep', 'runs/sweep'],
    dev: 'labelled dev data (required without --task: runs are ranked by their dev metric)',
    test: 'unlabelled data: every run writes predictions.tsv',
  });
  for (const [key, help] of SEARCH_FLAGS) cmd.option(`${flagOf(key)} <values>`, help);
  cmd.action(async (flags: SweepFlags) => {
    process.exitCode = await run(flags);
  });
}

/** "900s", "30m", "2h", "1h30m", "1.5h", "90" (seconds) -> seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$/.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) {
    throw new UsageError(`--time-budget must be a duration like 900s, 30m, 2h or 1h30m, got "${text}"`);
  }
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** The space file's mapping (JSON, or YAML for .yaml/.yml and anything that is not JSON). */
export function readSpaceFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new OptionError('space', `${file}: no such file`);
  const text = readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new OptionError('space', `${file}: not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new OptionError('space', `${file}: must be a mapping of setting -> values, e.g. {"lr": [1e-5, 2e-5]}`);
  }
  return doc as Record<string, unknown>;
}

/** SweepOptions from the flags: the space from --space and the searchable flags, the rest passed to every run. */
export function sweepOptionsFrom(f: SweepFlags): SweepOptions {
  const { out: _out, ...base } = runOptionsFrom(f) as SweepBase & { out?: string };

  const space: Record<string, Dimension> = {};
  if (f.space) {
    for (const [name, raw] of Object.entries(readSpaceFile(f.space))) {
      const key = searchKeyOf(name);
      if (!key && name !== 'seed') throw new OptionError('space', `${f.space}: unknown setting ${JSON.stringify(name)} (searchable: ${SEARCH_KEYS.join(', ')})`);
      space[key!] = parseDimension(name, raw);
    }
  }
  for (const [key] of SEARCH_FLAGS) {
    const text = f[key];
    if (text === undefined) continue;
    const dim = parseDimension(key, text);
    delete space[key];
    if (Array.isArray(dim) && dim.length === 1 && !text.includes(',')) (base as Record<string, unknown>)[key] = dim[0];
    else space[key] = dim;
  }

  const o: SweepOptions = { base, space, search: f.search, out: f.out };
  if (f.seeds !== undefined) {
    o.seeds = f.seeds.split(',').map((s) => {
      const x = numberFlag('seeds', s);
      if (x === undefined) throw new UsageError(`--seeds must be a comma-separated list of integers, got "${f.seeds}"`);
      return x;
    });
  }
  const maxRuns = numberFlag('max-runs', f.maxRuns), points = numberFlag('points', f.points), searchSeed = numberFlag('search-seed', f.searchSeed);
  if (maxRuns !== undefined) o.maxRuns = maxRuns;
  if (points !== undefined) o.points = points;
  if (searchSeed !== undefined) o.searchSeed = searchSeed;
  if (f.timeBudget !== undefined) o.timeBudgetS = parseDuration(f.timeBudget);
  if (f.verbose) o.verbose = true;
  return o;
}

async function run(f: SweepFlags): Promise<number> {
  const o = sweepOptionsFrom(f);
  if (f.dryRun) {
    const plan = planSweep(o);
    for (const r of plan.runs) console.log(JSON.stringify({ key: r.key, seed: r.seed, ...r.point, dir: r.dir }));
    return 0;
  }
  // Ctrl-C / SIGTERM: the running fine-tune saves checkpoint-last and the sweep ends; rerunning continues it.
  const r: SweepResult = await withStopSignals((signal) => sweep({ ...o, signal, onLine: (t) => process.stderr.write(t + '\n') }));
  console.log(sweepTable(r, { all: true }));
  const w = r.winner;
  console.log(w
    ? `winner: ${w.key}: ${r.metric} ${w.mean!.toFixed(4)} ± ${w.std!.toFixed(4)} over ${w.seedsDone} seed(s); ${r.runs.filter((x) => x.dev).length}/${r.runs.length} runs finished in ${formatDuration(r.elapsedSeconds)}`
    : `no finished run yet (${r.stop}); rerun the same command to continue`);
  console.log(JSON.stringify({
    winner: w ? w.point : null, key: w?.key ?? null, metric: r.metric, mean: w?.mean ?? null, std: w?.std ?? null,
    runs: r.runs.filter((x) => x.status === 'finished' || x.status === 'early-stop').length, planned: r.runs.length, stop: r.stop, out: r.out,
  }));
  return r.stop === 'interrupted' ? 130 : 0;
}
