// sweep(): a search for the best fine-tuning settings behind `bertfit sweep`. Every point of a search space (grid or
// seeded random sample over learning rate, epochs, batch size, warmup ratio, ...) is fine-tuned once per seed with an
// ordinary finetune() call in its own directory <out>/<point-key>/seed-<s>/; points are ranked by the mean over seeds
// of the dev metric that selects checkpoint-best. Reruns reuse finished runs and resume interrupted ones, so a sweep
// that was stopped (signal, budget) continues where it left off; <out>/sweep.json and sweep.md are rewritten
// atomically after every run.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../data/rng.js';
import { OptionError, UsageError } from '../errors.js';
import type { Metrics } from '../train/metrics.js';
import { RECIPES } from '../train/recipes.js';
import { recoverReplacedDir, writeFileAtomic } from '../util/atomic.js';
import { withFileErrors } from '../util/fs-errors.js';
import { acquireRunLock } from '../util/run-lock.js';
import { finetune, resolveSettings, type FinetuneOptions, type TrainEvent, type TrainingOptions } from './finetune.js';
import { checkChoice, checkNumber, isNonNegativeInt, isPositiveInt } from './options.js';

/** The settings a sweep can search, in the order they appear in a point's key. */
export const SEARCH_KEYS = [
  'lr', 'epochs', 'batchSize', 'warmupRatio', 'weightDecay', 'adamEps', 'clipNorm', 'gradAccum', 'maxLen', 'earlyStop',
  'threshold', 'optimizer', 'schedule', 'padding', 'lastBatch', 'dtype', 'bucketing', 'shuffle',
] as const satisfies ReadonlyArray<keyof TrainingOptions>;
export type SearchKey = (typeof SEARCH_KEYS)[number];

type Kind = 'real' | 'int' | 'enum' | 'bool';
const KIND: Record<SearchKey, Kind> = {
  lr: 'real', warmupRatio: 'real', weightDecay: 'real', adamEps: 'real', clipNorm: 'real', threshold: 'real',
  epochs: 'int', batchSize: 'int', gradAccum: 'int', maxLen: 'int', earlyStop: 'int',
  optimizer: 'enum', schedule: 'enum', padding: 'enum', lastBatch: 'enum', dtype: 'enum', bucketing: 'bool', shuffle: 'bool',
};

export type SpaceValue = number | string | boolean;
/** A numeric range for random search: uniform in [min, max], or log-uniform (the default for lr). Integers stay integers. */
export interface SpaceRange { min: number; max: number; scale?: 'linear' | 'log' }
/** A checked dimension: a list of values (grid: each one; random: one picked uniformly) or a range (random search only). */
export type Dimension = readonly SpaceValue[] | SpaceRange;
/**
 * A dimension as given: a Dimension, a single value (a one-value list), or the CLI's text: a list "1e-5,2e-5,5e-5" or
 * a range "1e-5:1e-4" / "1e-5:1e-4:log" / "0:0.2:lin".
 */
export type SpaceDimension = Dimension | SpaceValue;
/** Setting name (a SearchKey; kebab-case and snake_case spellings are accepted) -> its values. */
export type SearchSpace = Readonly<Record<string, SpaceDimension>>;

/** One point of the space: the searched settings, in SEARCH_KEYS order. */
export type SweepPoint = Partial<Record<SearchKey, SpaceValue>>;

/** The fixed part of every run: finetune()'s options without those a sweep sets per run. */
export type SweepBase = Omit<FinetuneOptions, 'out' | 'resume' | 'onLine' | 'onEvent' | 'progress' | 'signal'>;

export interface SweepOptions {
  /** every finetune() option that is the same for all runs (model, task or train/dev files, dtype, threads, metric, ...) */
  base: SweepBase;
  /** the settings to search; a setting given here overrides the same one in base. Empty: one point (the base). */
  space?: SearchSpace;
  /** grid (default): every combination; random: `points` points sampled with a seeded RNG */
  search?: 'grid' | 'random';
  /** each point is run once per seed (default [base.seed], else the recipe's seed) */
  seeds?: readonly number[];
  /** random search: how many distinct points (default: maxRuns / seeds, rounded down, at least 1) */
  points?: number;
  /** seed of the random search's sampler (default 0): the same seed samples the same points, in the same order */
  searchSeed?: number;
  /** at most this many fine-tuning runs in all (the first ones of the plan: points in order, each with all its seeds) */
  maxRuns?: number;
  /** no new run starts once the sweep has taken this long (seconds); a running one finishes */
  timeBudgetS?: number;
  /** output directory (default runs/sweep) */
  out?: string;
  /** progress lines: run starts and ends, one line per dev evaluation, the table after each run */
  onLine?: (line: string) => void;
  /** with onLine: also every line of each finetune(), prefixed with the run's key */
  verbose?: boolean;
  /** every log.jsonl record of every run, with the run it belongs to */
  onEvent?: (run: { key: string; seed: number }, event: TrainEvent) => void;
  /** stops the running fine-tune (it saves checkpoint-last) and ends the sweep; a rerun resumes it */
  signal?: AbortSignal;
}

/** What a sweep run is: finished/early-stop (has dev metrics), interrupted (resumable), or pending (not started). */
export type RunStatus = 'finished' | 'early-stop' | 'interrupted' | 'pending';

export interface SweepRun {
  key: string;
  seed: number;
  point: SweepPoint;
  /** the run's directory (<out>/<key>/seed-<seed>) */
  dir: string;
  status: RunStatus;
  /** how this sweep got it: read back from an earlier sweep's metrics.json, resumed from checkpoint-last, or run now */
  source: 'reused' | 'resumed' | 'run' | null;
  /** the selection metric on dev (of checkpoint-best) */
  score: number | null;
  /** every dev metric of checkpoint-best */
  dev: Metrics | null;
  steps: number | null;
  /** seconds spent in finetune() on this run (summed over the sessions that worked on it) */
  wallSeconds: number;
  /** the run's settings.json (its full resolved settings), once it has one */
  settings: Record<string, unknown> | null;
}

export interface PointSummary {
  key: string;
  point: SweepPoint;
  /** mean and sample standard deviation (0 for one seed) of the selection metric over the finished seeds */
  mean: number | null;
  std: number | null;
  /** per seed, in the order of `seeds` (null: not finished) */
  values: Array<number | null>;
  seedsDone: number;
  seedsPlanned: number;
  /** mean of every dev metric over the finished seeds */
  metrics: Record<string, number>;
  wallSeconds: number;
}

export type SweepStop = 'done' | 'time-budget' | 'interrupted';

export interface SweepResult {
  version: 1;
  out: string;
  search: 'grid' | 'random';
  searchSeed: number | null;
  /** the space as searched (keys normalised) */
  space: Record<string, Dimension>;
  seeds: number[];
  maxRuns: number | null;
  timeBudgetS: number | null;
  /** the base options (functions left out) */
  base: Record<string, unknown>;
  /** the selection metric (settings.json's `metric`; null until a run has one) */
  metric: string | null;
  /** done: every planned run finished; time-budget / interrupted: some are left (rerun the same sweep to continue) */
  stop: SweepStop;
  /** seconds this call took */
  elapsedSeconds: number;
  /** points ranked by mean (best first; points without a finished run last, in plan order) */
  points: PointSummary[];
  /** every planned run, in plan order */
  runs: SweepRun[];
  /** the best mean among points with all seeds finished (else among points with any), ties to the earlier point */
  winner: PointSummary | null;
  files: { json: string; markdown: string };
}

export interface SweepPlan {
  search: 'grid' | 'random';
  space: Record<string, Dimension>;
  seeds: number[];
  points: Array<{ key: string; point: SweepPoint }>;
  runs: Array<{ key: string; seed: number; point: SweepPoint; dir: string }>;
}

// ---------------------------------------------------------------------------------------------------------------
// the search space

/** The SearchKey of a setting name in any usual spelling (batchSize, batch-size, batch_size), else undefined. */
export function searchKeyOf(name: string): SearchKey | undefined {
  const camel = name.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
  return (SEARCH_KEYS as readonly string[]).includes(camel) ? camel as SearchKey : undefined;
}

const isRange = (d: Dimension): d is SpaceRange => !Array.isArray(d);

/** Checks one value of a setting with finetune's own rules (OptionError names the setting). */
function checkValue(key: SearchKey, v: unknown): SpaceValue {
  const kind = KIND[key];
  if (kind === 'bool') {
    if (typeof v !== 'boolean') throw new OptionError(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  if (kind === 'enum' && typeof v !== 'string') throw new OptionError(key, `must be a string, got ${JSON.stringify(v)}`);
  if ((kind === 'real' || kind === 'int') && (typeof v !== 'number' || !Number.isFinite(v))) {
    throw new OptionError(key, `must be a number, got ${JSON.stringify(v)}`);
  }
  resolveSettings('default', { [key]: v } as TrainingOptions);
  return v as SpaceValue;
}

/** A value as the CLI or a space file writes it ("2e-5", "adamw", "true") -> the setting's type. */
function parseScalar(key: SearchKey, text: string): SpaceValue {
  const t = text.trim();
  const kind = KIND[key];
  if (kind === 'enum') return t;
  if (kind === 'bool') {
    if (t === 'true' || t === 'false') return t === 'true';
    throw new OptionError(key, `must be true or false, got ${JSON.stringify(t)}`);
  }
  const x = Number(t);
  if (t === '' || !Number.isFinite(x)) throw new OptionError(key, `must be a number, got ${JSON.stringify(t)}`);
  return x;
}

/**
 * One dimension from its written forms: a list "1e-5,2e-5", a range "1e-5:1e-4" or "1e-5:1e-4:log" (":lin" for
 * uniform), an array, a single value, or an object {min, max, scale} / {values: [...]}.
 */
export function parseDimension(name: string, raw: unknown): Dimension {
  const key = searchKeyOf(name);
  if (name === 'seed') throw new OptionError('space', 'cannot search seed: every point runs once per seed of `seeds` (--seeds 1,2,3)');
  if (!key) throw new OptionError('space', `has an unknown setting ${JSON.stringify(name)} (searchable: ${SEARCH_KEYS.join(', ')})`);
  const kind = KIND[key];
  if (typeof raw === 'string') {
    if (raw.includes(':') && !raw.includes(',')) {
      const parts = raw.split(':');
      if (parts.length > 3 || (parts.length === 3 && !['log', 'lin', 'linear'].includes(parts[2]!.trim()))) {
        throw new OptionError(key, `range must be MIN:MAX or MIN:MAX:log (or :lin), got ${JSON.stringify(raw)}`);
      }
      const scale = parts[2]?.trim();
      return checkDimension(key, {
        min: parseScalar(key, parts[0]!) as number, max: parseScalar(key, parts[1]!) as number,
        ...(scale ? { scale: scale === 'log' ? 'log' : 'linear' } : {}),
      });
    }
    return checkDimension(key, raw.trim() === '' ? [] : raw.split(',').map((s) => parseScalar(key, s)));
  }
  if (Array.isArray(raw)) return checkDimension(key, raw.map((v) => (typeof v === 'string' && kind !== 'enum' ? parseScalar(key, v) : v) as SpaceValue));
  if (typeof raw === 'number' || typeof raw === 'boolean') return checkDimension(key, [raw]);
  if (raw && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    if ('values' in o) return parseDimension(key, o.values);
    if ('min' in o || 'max' in o) {
      const num = (v: unknown) => (typeof v === 'string' ? parseScalar(key, v) : v) as number;
      return checkDimension(key, { min: num(o.min), max: num(o.max), ...(o.scale !== undefined ? { scale: o.scale as SpaceRange['scale'] } : {}) });
    }
  }
  throw new OptionError(key, `must be a list of values or a range {min, max, scale}, got ${JSON.stringify(raw)}`);
}

function checkDimension(key: SearchKey, d: Dimension): Dimension {
  if (isRange(d)) {
    if (KIND[key] !== 'real' && KIND[key] !== 'int') throw new OptionError(key, 'is not numeric: give a list of values, not a range');
    checkValue(key, d.min);
    checkValue(key, d.max);
    if (!(d.min < d.max)) throw new OptionError(key, `range needs min < max, got ${d.min}:${d.max}`);
    checkChoice(`${key} scale`, d.scale, ['linear', 'log'] as const);
    if (scaleOf(key, d) === 'log' && d.min <= 0) throw new OptionError(key, `log range needs min > 0, got ${d.min}`);
    return d.scale ? { min: d.min, max: d.max, scale: d.scale } : { min: d.min, max: d.max };
  }
  if (d.length === 0) throw new OptionError(key, 'needs at least one value in the search space, got an empty list');
  const values = d.map((v) => checkValue(key, v));
  const keys = values.map((v) => formatValue(v));
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new OptionError(key, `lists the value ${dup} twice`);
  return values;
}

const scaleOf = (key: SearchKey, r: SpaceRange) => r.scale ?? (key === 'lr' ? 'log' : 'linear');

/** Checks a whole space; returns it with its keys normalised, in SEARCH_KEYS order. */
export function normalizeSpace(space: SearchSpace | undefined): Record<string, Dimension> {
  const out: Partial<Record<SearchKey, Dimension>> = {};
  for (const [name, dim] of Object.entries(space ?? {})) {
    const d = parseDimension(name, dim);
    const key = searchKeyOf(name)!;
    if (out[key]) throw new OptionError('space', `names ${key} twice (as ${JSON.stringify(name)})`);
    out[key] = d;
  }
  const ordered: Record<string, Dimension> = {};
  for (const k of SEARCH_KEYS) if (out[k]) ordered[k] = out[k]!;
  return ordered;
}

/** A value as it appears in a point key: 2e-05, 0.1, 32, adamw, true. */
export function formatValue(v: SpaceValue): string {
  if (typeof v !== 'number') return String(v);
  if (v !== 0 && !Number.isInteger(v) && Math.abs(v) < 1e-4) {   // as Python's repr: 2e-05, 0.0001
    const [m, e] = v.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    const digits = e.replace(/^[-+]/, '');
    return `${m}e${sign === '-' ? '-' : ''}${digits.padStart(2, '0')}`;
  }
  return String(v);
}

/** The point's directory name: lr=2e-05_epochs=3_batchSize=32_warmupRatio=0.1 ("base" for an empty space). */
export function pointKey(point: SweepPoint): string {
  const parts = SEARCH_KEYS.filter((k) => point[k] !== undefined).map((k) => `${k}=${formatValue(point[k]!)}`);
  return parts.length ? parts.join('_') : 'base';
}

function gridPoints(space: Record<string, Dimension>): SweepPoint[] {
  let points: SweepPoint[] = [{}];
  for (const [k, d] of Object.entries(space)) {
    if (isRange(d)) throw new OptionError(k, `is a range (${d.min}:${d.max}); ranges need random search: give a list of values for a grid`);
    points = points.flatMap((p) => d.map((v) => ({ ...p, [k]: v })));
  }
  return points;
}

/** `n` distinct points sampled in sequence (a larger n extends the same sequence); fewer when the space is smaller. */
function randomPoints(space: Record<string, Dimension>, n: number, seed: number): SweepPoint[] {
  const rng = new Rng(seed);
  const uniform = () => rng.nextU32() / 2 ** 32;
  const seen = new Set<string>();
  const points: SweepPoint[] = [];
  for (let attempt = 0; points.length < n && attempt < 100 * n + 100; attempt++) {
    const p: SweepPoint = {};
    for (const [k, d] of Object.entries(space) as Array<[SearchKey, Dimension]>) {
      if (!isRange(d)) { p[k] = d[rng.below(d.length)]!; continue; }
      const u = uniform();
      let x = scaleOf(k, d) === 'log' ? Math.exp(Math.log(d.min) + u * (Math.log(d.max) - Math.log(d.min))) : d.min + u * (d.max - d.min);
      // readable, stable values: integers for integer settings, else 3 significant digits
      x = KIND[k] === 'int' ? Math.min(d.max, Math.max(d.min, Math.round(x))) : Math.min(d.max, Math.max(d.min, Number(x.toPrecision(3))));
      p[k] = x;
    }
    const key = pointKey(p);
    if (seen.has(key)) continue;
    seen.add(key);
    points.push(p);
  }
  return points;
}

// ---------------------------------------------------------------------------------------------------------------
// the plan

/**
 * The points and runs a sweep would do, in order, without doing them (the CLI's --dry-run); checks every option and
 * every run's settings first (OptionError / UsageError name what is wrong).
 */
export function planSweep(o: SweepOptions): SweepPlan {
  const base = o.base ?? {};
  for (const k of ['out', 'resume'] as const) {
    if ((base as Record<string, unknown>)[k] !== undefined) throw new UsageError(`sweep: ${k} is set per run; give the sweep's out instead of base.${k}`);
  }
  if (!base.task && !base.dev) {
    throw new UsageError('a sweep ranks runs by their dev metrics: give a task (--task) or a dev file (--dev)');
  }
  const search = checkChoice('search', o.search, ['grid', 'random'] as const) ?? 'grid';
  const recipe = base.recipe ?? 'default';
  resolveSettings(recipe, base);   // the base's own settings (and the recipe name), before any point overrides them
  const space = normalizeSpace(o.space);
  const defaultSeed = base.seed ?? RECIPES[recipe]!.seed;
  const seeds = [...(o.seeds ?? [defaultSeed])];
  if (seeds.length === 0) throw new OptionError('seeds', 'needs at least one seed');
  for (const s of seeds) checkNumber('seeds', s, (x) => isNonNegativeInt(x) && x < 2 ** 32, 'integers in [0, 2^32)');
  if (new Set(seeds).size !== seeds.length) throw new OptionError('seeds', `lists a seed twice: ${seeds.join(',')}`);
  const maxRuns = checkNumber('maxRuns', o.maxRuns, isPositiveInt, 'a positive integer');
  checkNumber('timeBudgetS', o.timeBudgetS, (x) => x > 0, 'a number of seconds > 0');
  const nPoints = checkNumber('points', o.points, isPositiveInt, 'a positive integer');
  const searchSeed = checkNumber('searchSeed', o.searchSeed, (x) => isNonNegativeInt(x) && x < 2 ** 32, 'an integer in [0, 2^32)') ?? 0;
  let points: SweepPoint[];
  if (search === 'grid') {
    if (nPoints !== undefined) throw new OptionError('points', 'is for random search (a grid has every combination)');
    points = gridPoints(space);
  } else {
    if (nPoints === undefined && maxRuns === undefined) throw new UsageError('random search needs a number of runs: give maxRuns (--max-runs N) or points (--points N)');
    points = randomPoints(space, nPoints ?? Math.max(1, Math.floor(maxRuns! / seeds.length)), searchSeed);
  }
  const out = o.out ?? 'runs/sweep';
  const keyed = points.map((point) => ({ key: pointKey(point), point }));
  let runs = keyed.flatMap(({ key, point }) => seeds.map((seed) => ({ key, seed, point, dir: path.join(out, key, `seed-${seed}`) })));
  if (maxRuns !== undefined) runs = runs.slice(0, maxRuns);
  // every run's settings pass finetune's checks before any work starts
  for (const r of runs) resolveSettings(recipe, { ...base, ...r.point, seed: r.seed } as TrainingOptions);
  const planned = new Set(runs.map((r) => r.key));
  return { search, space, seeds, points: keyed.filter((p) => planned.has(p.key)), runs };
}

// ---------------------------------------------------------------------------------------------------------------
// reading runs back

const readJson = (file: string): Record<string, unknown> | null => {
  try { return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch { return null; }
};

/** The state of a run's directory: finished (metrics.json), interrupted (checkpoint-last/trainer_state.json), or pending. */
function scanRun(r: SweepPlan['runs'][number], previous: SweepRun | undefined): SweepRun {
  const run: SweepRun = {
    key: r.key, seed: r.seed, point: r.point, dir: r.dir, status: 'pending', source: null, score: null, dev: null, steps: null,
    wallSeconds: previous?.wallSeconds ?? 0, settings: null,
  };
  recoverReplacedDir(path.join(r.dir, 'checkpoint-last'));
  const settings = readJson(path.join(r.dir, 'settings.json'));
  const metrics = readJson(path.join(r.dir, 'metrics.json'));
  if (settings) checkRunSettings(r, settings);
  if (metrics && (metrics.stop === 'finished' || metrics.stop === 'early-stop')) {
    run.status = metrics.stop;
    run.source = 'reused';
    run.settings = settings;
    run.dev = (metrics.dev as Metrics | null) ?? null;
    run.steps = typeof metrics.steps === 'number' ? metrics.steps : null;
    if (!previous || previous.status !== run.status) run.wallSeconds = typeof metrics.wall_s === 'number' ? metrics.wall_s : 0;
    return run;
  }
  if (existsSync(path.join(r.dir, 'checkpoint-last', 'trainer_state.json'))) {
    run.status = 'interrupted';
    run.settings = settings;
  }
  return run;
}

/** A run directory must hold the run it is named after (same point, same seed). */
function checkRunSettings(r: SweepPlan['runs'][number], settings: Record<string, unknown>): void {
  for (const [k, v] of [...Object.entries(r.point), ['seed', r.seed] as const]) {
    if (settings[k] !== v) {
      throw new UsageError(`${r.dir}: settings.json has ${k} ${JSON.stringify(settings[k])}, but the sweep's run there has ${JSON.stringify(v)}; ` +
        'use another out directory');
    }
  }
}

/** The base options as written to sweep.json (functions and undefined values left out). */
function baseRecord(base: SweepBase): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && typeof v !== 'function') out[k] = v;
  return out;
}

/** An earlier sweep in the same directory must have had the same base (threads aside): its runs are reused. */
function checkSameBase(file: string, prev: Record<string, unknown>, base: Record<string, unknown>): void {
  const a = (prev.base ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(base)])].filter((k) => k !== 'threads');
  const differ = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(base[k]));
  if (differ.length) {
    throw new UsageError(`${file} is a sweep with different fixed settings (${differ.map((k) => `${k}: ${JSON.stringify(a[k])} -> ${JSON.stringify(base[k])}`).join(', ')}); ` +
      'its runs cannot be reused: give another out directory');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// scores and tables

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** Fields of a dev record that are not scores (the history entry of checkpoint-best carries them). */
const NOT_METRICS = new Set(['examples', 'epoch', 'step', 'train_loss', 'train_accuracy', 'type']);

const isDone = (r: SweepRun) => r.status === 'finished' || r.status === 'early-stop';

function summarize(plan: SweepPlan, runs: SweepRun[]): { points: PointSummary[]; winner: PointSummary | null } {
  const summaries = plan.points.map(({ key, point }, order) => {
    const own = runs.filter((r) => r.key === key);
    const done = own.filter((r) => isDone(r) && r.score !== null);
    const values = plan.seeds.map((s) => own.find((r) => r.seed === s && isDone(r))?.score ?? null);
    const metrics: Record<string, number> = {};
    for (const name of Object.keys(done[0]?.dev ?? {})) {
      if (NOT_METRICS.has(name)) continue;
      const xs = done.map((r) => r.dev?.[name]).filter((x): x is number => typeof x === 'number');
      if (xs.length === done.length) metrics[name] = meanStd(xs).mean;
    }
    const ms = done.length ? meanStd(done.map((r) => r.score!)) : null;
    const p: PointSummary = {
      key, point, mean: ms?.mean ?? null, std: ms?.std ?? null, values,
      seedsDone: done.length, seedsPlanned: own.length, metrics, wallSeconds: Number(own.reduce((a, r) => a + r.wallSeconds, 0).toFixed(1)),
    };
    return { p, order };
  });
  const ranked = [...summaries].sort((a, b) =>
    (a.p.mean === null ? 1 : 0) - (b.p.mean === null ? 1 : 0) || (b.p.mean ?? 0) - (a.p.mean ?? 0) || a.order - b.order);
  const points = ranked.map((x) => x.p);
  const complete = points.filter((p) => p.mean !== null && p.seedsDone === p.seedsPlanned);
  const winner = complete[0] ?? points.find((p) => p.mean !== null) ?? null;
  return { points, winner };
}

const f4 = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(4));

/** Seconds as "42 s", "3m 05s", "1h 02m". */
export function formatDuration(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60), sec = Math.round(s % 60);
  if (m < 60) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/**
 * The ranking as a Markdown table: point, mean ± std of the metric, seeds done, per-seed values, the other dev metrics'
 * means, wall time; the winner marked with ★.
 */
export function sweepTable(r: Pick<SweepResult, 'points' | 'winner' | 'metric' | 'seeds'>, o: { all?: boolean } = {}): string {
  const shown = o.all ? r.points : r.points.filter((p) => p.seedsDone > 0);
  const metric = r.metric ?? 'score';
  const others = [...new Set(shown.flatMap((p) => Object.keys(p.metrics)))].filter((k) => k !== metric);
  const head = ['#', 'point', `${metric} mean ± std`, 'seeds', `per seed (${r.seeds.join(', ')})`, ...others.map((k) => `${k} mean`), 'wall'];
  const rows = shown.map((p, i) => [
    p.mean === null ? '-' : `${i + 1}${p === r.winner ? ' ★' : ''}`,
    p.key,
    p.mean === null ? '-' : `${f4(p.mean)} ± ${f4(p.std)}`,
    `${p.seedsDone}/${p.seedsPlanned}`,
    p.values.map(f4).join(', '),
    ...others.map((k) => f4(p.metrics[k])),
    p.wallSeconds ? formatDuration(p.wallSeconds) : '-',
  ]);
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function markdown(r: SweepResult): string {
  const done = r.runs.filter(isDone).length;
  const lines = [
    `# Sweep: ${r.search} search${r.searchSeed !== null ? ` (search seed ${r.searchSeed})` : ''}`,
    '',
    `- metric: ${r.metric ?? '(none yet)'} on dev (mean over seeds ${r.seeds.join(', ')}; higher is better)`,
    `- space: ${Object.entries(r.space).map(([k, d]) => `${k} ${isRange(d) ? `${d.min}:${d.max}${d.scale ? `:${d.scale}` : ''}` : d.map((v) => formatValue(v)).join(',')}`).join('; ') || '(none: the base settings)'}`,
    `- fixed: ${Object.entries(r.base).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') || '(defaults)'}`,
    `- runs: ${done} of ${r.runs.length} finished` + (r.stop === 'done' ? '' : ` (stopped: ${r.stop}; rerun the same sweep to continue)`),
    r.winner ? `- winner: **${r.winner.key}**: ${r.metric} ${f4(r.winner.mean)} ± ${f4(r.winner.std)}` : '- winner: none yet',
    '',
    sweepTable(r, { all: true }),
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// the sweep

/**
 * Fine-tunes every planned run (point x seed) that is not finished yet and ranks the points by the mean over seeds
 * of the dev metric that selects checkpoint-best.
 *
 * Each run is finetune({...base, ...point, seed, out: <out>/<key>/seed-<seed>}); a run whose metrics.json says
 * finished/early-stop is read back, one with checkpoint-last/trainer_state.json but no metrics.json is resumed from
 * it. <out>/sweep.json (the SweepResult) and <out>/sweep.md are written atomically after every run.
 *
 * Returns: the ranking, the runs and the winner; stop says whether the sweep completed or what ended it.
 * Throws: OptionError / UsageError for bad options or a bad space (before any work), finetune()'s errors for a run
 *   that fails (sweep.json keeps the runs before it).
 */
export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const plan = planSweep(o);
  const out = o.out ?? 'runs/sweep';
  const base = baseRecord(o.base);
  const files = { json: path.join(out, 'sweep.json'), markdown: path.join(out, 'sweep.md') };
  const line = (t: string) => o.onLine?.(t);

  withFileErrors(out, 'create output directory', () => mkdirSync(out, { recursive: true }));
  // one sweep per directory: a second one would interleave its runs and sweep.json with this one's
  const lock = acquireRunLock(out, 'sweep');
  if (lock.notice) line(`note: ${lock.notice}`);
  try {
    const prev = readJson(files.json);
    if (prev) checkSameBase(files.json, prev, base);
    const prevRuns = new Map(((prev?.runs ?? []) as SweepRun[]).map((r) => [`${r.key}/${r.seed}`, r]));
    const runs = plan.runs.map((r) => scanRun(r, prevRuns.get(`${r.key}/${r.seed}`)));

    let metric: string | null = o.base.metric ?? null;
    const metricOf = (run: SweepRun): void => {
      const m = run.settings?.metric;
      if (typeof m === 'string') metric ??= m;
      if (run.dev && metric !== null) {
        const v = run.dev[metric];
        if (typeof v !== 'number') throw new Error(`${run.dir}: the dev metrics have no ${metric} (they have ${Object.keys(run.dev).join(', ')})`);
        run.score = v;
      }
    };
    for (const r of runs) metricOf(r);
    for (const r of runs) metricOf(r);   // runs read before the metric was known get their score

    let stop: SweepStop = 'done';
    const result = (): SweepResult => {
      const { points, winner } = summarize(plan, runs);
      return {
        version: 1, out, search: plan.search, searchSeed: plan.search === 'random' ? (o.searchSeed ?? 0) : null, space: plan.space,
        seeds: plan.seeds, maxRuns: o.maxRuns ?? null, timeBudgetS: o.timeBudgetS ?? null, base, metric, stop,
        elapsedSeconds: Number(elapsed().toFixed(1)), points, runs, winner, files,
      };
    };
    const save = (): SweepResult => {
      const r = result();
      writeFileAtomic(files.json, JSON.stringify(r, null, 2) + '\n');
      writeFileAtomic(files.markdown, markdown(r));
      return r;
    };
    const budgetText = () => {
      const e = elapsed();
      return o.timeBudgetS === undefined ? `elapsed ${formatDuration(e)}`
        : `elapsed ${formatDuration(e)} of the ${formatDuration(o.timeBudgetS)} budget (${formatDuration(Math.max(0, o.timeBudgetS - e))} left)`;
    };

    const reused = runs.filter(isDone).length, resumable = runs.filter((r) => r.status === 'interrupted').length;
    line(`sweep: ${plan.search} search, ${plan.points.length} points x ${plan.seeds.length} seeds = ${runs.length} runs in ${out}` +
      (reused ? `; ${reused} finished earlier (reused)` : '') + (resumable ? `; ${resumable} interrupted (resumed)` : ''));
    save();

    const todo = runs.filter((r) => !isDone(r));
    for (const run of todo) {
      if (o.signal?.aborted) { stop = 'interrupted'; break; }
      if (o.timeBudgetS !== undefined && elapsed() >= o.timeBudgetS) {
        stop = 'time-budget';
        line(`sweep: time budget of ${formatDuration(o.timeBudgetS)} used (${formatDuration(elapsed())}); not starting the ${todo.length - todo.indexOf(run)} runs left`);
        break;
      }
      const n = runs.indexOf(run) + 1;
      const tag = `[${run.key} seed ${run.seed}]`;
      const last = path.join(run.dir, 'checkpoint-last');
      const resume = run.status === 'interrupted' ? last : undefined;
      line(`[${n}/${runs.length}] ${run.key} seed ${run.seed}: ${resume ? 'resuming from checkpoint-last' : 'starting'}`);
      const t0 = performance.now();
      let r;
      try {
        r = await finetune({
          ...o.base, ...(run.point as TrainingOptions), seed: run.seed, out: run.dir, ...(resume ? { resume } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          onLine: (t) => { if (o.verbose) line(`${tag} ${t}`); },
          onEvent: (e) => {
            if (e.type === 'eval' && !o.verbose) line(`${tag} dev after epoch ${e.epoch}: ${formatEval(e, metric)}`);
            o.onEvent?.({ key: run.key, seed: run.seed }, e);
          },
        });
      } catch (e) {
        run.wallSeconds = Number((run.wallSeconds + (performance.now() - t0) / 1000).toFixed(1));
        save();
        throw e;
      }
      run.wallSeconds = Number((run.wallSeconds + (performance.now() - t0) / 1000).toFixed(1));
      run.settings = readJson(r.outputs.settings);
      run.steps = r.steps;
      run.source = resume ? 'resumed' : 'run';
      if (r.stop === 'interrupted') {
        run.status = 'interrupted';
        stop = 'interrupted';
        line(`[${n}/${runs.length}] ${run.key} seed ${run.seed}: interrupted at step ${r.steps}/${r.totalSteps} (checkpoint-last saved; rerun the sweep to resume)`);
        break;
      }
      run.status = r.stop;
      run.dev = r.dev;
      metricOf(run);
      if (run.score === null) throw new Error(`${run.dir}: the run has no dev metrics`);
      const s = save();
      line(`[${n}/${runs.length}] ${run.key} seed ${run.seed}: ${metric} ${f4(run.score)} (${r.stop}, ${formatDuration(run.wallSeconds)}); ` +
        `${runs.filter(isDone).length}/${runs.length} runs done, ${budgetText()}`);
      line(sweepTable(s));
    }
    const final = save();
    line(`sweep: ${stop === 'done' ? 'done' : `stopped (${stop})`}: ${runs.filter(isDone).length}/${runs.length} runs finished, ${budgetText()}; ` +
      `wrote ${files.json} and ${files.markdown}`);
    return final;
  } finally {
    lock.release();
  }
}

/** An eval record as "accuracy 0.7500 (f1 0.7000 ... loss 0.5100)", the selection metric first. */
function formatEval(e: TrainEvent, metric: string | null): string {
  const names = Object.keys(e).filter((k) => !NOT_METRICS.has(k) && typeof e[k] === 'number');
  const first = metric !== null && names.includes(metric) ? metric : names[0];
  const rest = names.filter((k) => k !== first);
  const fmt = (k: string | undefined) => (k === undefined ? '' : `${k} ${(e[k] as number).toFixed(4)}`);
  return `${fmt(first)}${rest.length ? ` (${rest.map(fmt).join(' ')})` : ''}`;
}
