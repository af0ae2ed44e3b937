// The fuzz harness: runs a target's seeded cases and checks each one against three rules.
//
//   1. Only the project's error types escape (CheckpointError, ConfigError, DataError by default): a TypeError,
//      RangeError or anything else is a bug, however malformed the input.
//   2. No case takes more than LIMITS.caseMs (2 s).
//   3. Memory stays bounded: RSS after a case (after a garbage collection, when the sample is high) stays within
//      LIMITS.rssGrowthBytes (256 MiB) of its level when the target started, and the kernel's peak-RSS counter,
//      which sees spikes inside a case, within LIMITS.peakGrowthBytes (1 GiB).
//
// Case i of a run with seed S is fully determined by (S, target name, i), so any failure is reproduced with
// `npm run fuzz -- --target NAME --seed S --only i`. See README.md for how to add a target.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CheckpointError } from '../../src/model/checkpoint/errors.js';
import { ConfigError } from '../../src/model/config.js';
import { DataError } from '../../src/data/errors.js';
import { mutateBytes } from './mutate.js';
import { rngFor, type Rng } from './rng.js';

/** An error constructor, for instanceof checks. */
type ErrorClass = abstract new (...args: any[]) => Error;

/** One parser under test. Put it in test/fuzz/targets/NAME.ts as `export const target: FuzzTarget = {...}`. */
export interface FuzzTarget {
  /** unique; --target picks it */
  name: string;
  /** the seed corpus: small, valid (or nearly valid) inputs the mutations start from; built once per run */
  seeds(): Buffer[];
  /** one mutation of `seed` (default: mutateBytes, splicing with another seed); must be deterministic given rng */
  mutate?(seed: Buffer, rng: Rng, corpus: readonly Buffer[]): Buffer;
  /** parses `input` the way the product does; may throw the allowed error types only; may be async */
  run(input: Buffer): void | Promise<void>;
  /** error classes a case may throw (default DEFAULT_ALLOWED) */
  allowed?: readonly ErrorClass[];
}

export const DEFAULT_ALLOWED: readonly ErrorClass[] = [CheckpointError, ConfigError, DataError];

export const LIMITS = {
  /** slowest a single case may be */
  caseMs: 2000,
  /** largest RSS growth after a case (garbage collected) over a target's starting level */
  rssGrowthBytes: 256 * 2 ** 20,
  /** largest peak RSS growth, spikes inside a case included: inputs are at most 256 KiB */
  peakGrowthBytes: 1024 * 2 ** 20,
} as const;

/** A full garbage collection (global.gc when node runs with --expose-gc, else the same function exposed late). */
const gc: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

export interface FuzzFailure {
  index: number;
  kind: 'error' | 'slow' | 'memory';
  message: string;
  input: Buffer;
}

export interface FuzzReport {
  target: string;
  cases: number;
  seconds: number;
  maxCaseMs: number;
  maxCaseIndex: number;
  /** largest RSS after a case minus RSS when the target started, in bytes */
  rssGrowth: number;
  /** peak RSS (spikes inside cases included) minus RSS when the target started, in bytes */
  peakGrowth: number;
  /** how the cases ended: "ok" or the error class name -> count */
  outcomes: Record<string, number>;
  failures: FuzzFailure[];
}

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** run only this case index (to reproduce one failure) */
  only?: number;
  /** stop after this many failures (default 5) */
  maxFailures?: number;
}

/** Runs `opts.cases` mutated inputs through `target` and reports what happened; never throws for a failing case. */
export async function fuzzTarget(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzReport> {
  const corpus = target.seeds();
  if (corpus.length === 0) throw new Error(`fuzz target ${target.name} has no seeds`);
  const allowed = target.allowed ?? DEFAULT_ALLOWED;
  const maxFailures = opts.maxFailures ?? 5;
  const report: FuzzReport = {
    target: target.name, cases: 0, seconds: 0, maxCaseMs: 0, maxCaseIndex: -1, rssGrowth: 0, peakGrowth: 0, outcomes: {}, failures: [],
  };
  gc();
  const baseRss = process.memoryUsage.rss();
  const basePeak = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const first = opts.only ?? 0;
  const last = opts.only ?? opts.cases - 1;
  for (let i = first; i <= last && report.failures.length < maxFailures; i++) {
    const rng = rngFor(`${opts.seed}:${target.name}:${i}`);
    const seed = rng.pick(corpus);
    const input = target.mutate ? target.mutate(seed, rng, corpus) : mutateBytes(seed, rng, rng.pick(corpus));
    const start = performance.now();
    let outcome = 'ok';
    try {
      await target.run(input);
    } catch (e) {
      outcome = e instanceof Error ? e.name : typeof e;
      if (!allowed.some((c) => e instanceof c)) {
        report.failures.push({ index: i, kind: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e), input });
      }
    }
    const ms = performance.now() - start;
    report.cases++;
    report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
    if (ms > report.maxCaseMs) [report.maxCaseMs, report.maxCaseIndex] = [ms, i];
    if (ms > LIMITS.caseMs) report.failures.push({ index: i, kind: 'slow', message: `took ${ms.toFixed(0)} ms (limit ${LIMITS.caseMs})`, input });
    let growth = process.memoryUsage.rss() - baseRss;
    if (growth > LIMITS.rssGrowthBytes) {
      gc(); // garbage is not growth; what survives a collection is
      growth = process.memoryUsage.rss() - baseRss;
      if (growth > LIMITS.rssGrowthBytes) {
        report.failures.push({ index: i, kind: 'memory', message: `RSS grew ${mib(growth)} MiB and stayed (limit ${mib(LIMITS.rssGrowthBytes)})`, input });
      }
    }
    report.rssGrowth = Math.max(report.rssGrowth, growth);
    // The peak counter only moves when a new process-wide peak is set; below an older peak the samples decide.
    const peak = process.resourceUsage().maxRSS * 1024;
    const peakGrowth = Math.max(growth, peak > basePeak ? peak - baseRss : 0);
    if (peakGrowth > report.peakGrowth) {
      if (peakGrowth > LIMITS.peakGrowthBytes && report.peakGrowth <= LIMITS.peakGrowthBytes) {
        report.failures.push({ index: i, kind: 'memory', message: `peak RSS grew ${mib(peakGrowth)} MiB (limit ${mib(LIMITS.peakGrowthBytes)})`, input });
      }
      report.peakGrowth = peakGrowth;
    }
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

/** One line per report: "safetensors: 1000 cases in 0.8 s, slowest 12 ms (case 451), RSS +30 MiB; ok 12, CheckpointError 988". */
export function formatReport(r: FuzzReport): string {
  const outcomes = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${r.target}: ${r.cases} cases in ${r.seconds.toFixed(1)} s, slowest ${r.maxCaseMs.toFixed(0)} ms ` +
    `(case ${r.maxCaseIndex}), RSS +${mib(r.rssGrowth)} MiB (peak +${mib(r.peakGrowth)}); ${outcomes}` +
    (r.failures.length ? `; ${r.failures.length} FAILURE(S)` : '');
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

/** Every target in targets/ (each module's `target` export), sorted by name. */
export async function loadTargets(): Promise<FuzzTarget[]> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'targets');
  const files = readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  const targets: FuzzTarget[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { target?: FuzzTarget };
    if (!mod.target) throw new Error(`fuzz target module ${f} exports no \`target\``);
    if (targets.some((t) => t.name === mod.target!.name)) throw new Error(`two fuzz targets are named ${mod.target.name}`);
    targets.push(mod.target);
  }
  return targets.sort((a, b) => a.name.localeCompare(b.name));
}
