// `bertfit sweep` / sweep(): grid and random search over fine-tuning settings on random:tiny with a tiny synthetic
// task — the ranking against the runs' own metrics.json, sweep.json / sweep.md, reuse of finished runs, resuming an
// interrupted sweep to the same results, the random search's seeded sampling, the time budget, bad spaces, the CLI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { OptionError, UsageError } from '../src/errors.js';
import { planSweep, sweep, type SweepOptions, type SweepResult } from '../src/api/sweep.js';
import { parseDuration } from '../src/cli/commands/sweep.js';
import { cliPath, runCli, shuffledCopyTask, spawn, tempDir, writeJsonl } from './train-helpers.js';

const tmp = tempDir('bertfit-sweep-');
const train = writeJsonl(path.join(tmp, 'train.jsonl'), shuffledCopyTask(48, 5));
const dev = writeJsonl(path.join(tmp, 'dev.jsonl'), shuffledCopyTask(24, 6));
const base = { model: 'random:tiny', train, dev, batchSize: 16, maxLen: 32, logEvery: 1, threads: 1 };
const grid: SweepOptions['space'] = { lr: [1e-3, 3e-3], epochs: [1, 2] };

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, any>;
const logLines = (dir: string) => readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').length;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

let full: SweepResult;

test('grid 2x2 x 2 seeds: one finetune run per point and seed, ranked by the mean of their own metrics.json; a rerun reuses them', async () => {
  const out = path.join(tmp, 'grid');
  const lines: string[] = [];
  full = await sweep({ base, space: grid, seeds: [1, 2], out, onLine: (l) => lines.push(l) });
  assert.equal(full.stop, 'done');
  assert.equal(full.metric, 'accuracy');
  assert.deepEqual(full.runs.map((r) => `${r.key}/seed-${r.seed}`), [
    'lr=0.001_epochs=1/seed-1', 'lr=0.001_epochs=1/seed-2', 'lr=0.001_epochs=2/seed-1', 'lr=0.001_epochs=2/seed-2',
    'lr=0.003_epochs=1/seed-1', 'lr=0.003_epochs=1/seed-2', 'lr=0.003_epochs=2/seed-1', 'lr=0.003_epochs=2/seed-2',
  ]);
  for (const r of full.runs) {
    assert.equal(r.dir, path.join(out, r.key, `seed-${r.seed}`));
    assert.equal(r.status, 'finished');
    assert.equal(r.source, 'run');
    const settings = readJson(path.join(r.dir, 'settings.json'));
    assert.deepEqual([settings.lr, settings.epochs, settings.seed, settings.maxLen], [r.point.lr, r.point.epochs, r.seed, 32]);
    assert.deepEqual(r.dev, readJson(path.join(r.dir, 'metrics.json')).dev);
  }
  // the ranking, recomputed from the runs' own files
  const keys = [...new Set(full.runs.map((r) => r.key))];
  const expected = keys.map((key, order) => {
    const xs = [1, 2].map((s) => readJson(path.join(out, key, `seed-${s}`, 'metrics.json')).dev.accuracy as number);
    return { key, order, xs, mean: mean(xs), std: std(xs) };
  }).sort((a, b) => b.mean - a.mean || a.order - b.order);
  assert.deepEqual(full.points.map((p) => p.key), expected.map((e) => e.key));
  for (const [i, e] of expected.entries()) {
    const p = full.points[i]!;
    assert.deepEqual(p.values, e.xs);
    assert.ok(Math.abs(p.mean! - e.mean) < 1e-12 && Math.abs(p.std! - e.std) < 1e-12, `${e.key}: ${p.mean} ± ${p.std}`);
    assert.equal(p.seedsDone, 2);
    assert.ok(Math.abs(p.metrics.f1! - mean([1, 2].map((s) => readJson(path.join(out, e.key, `seed-${s}`, 'metrics.json')).dev.f1))) < 1e-12);
  }
  assert.equal(full.winner?.key, expected[0]!.key);

  // sweep.json is the result; sweep.md the table with the winner marked
  assert.deepEqual(readJson(full.files.json), JSON.parse(JSON.stringify(full)));
  const md = readFileSync(full.files.markdown, 'utf8');
  assert.match(md, /\| # \| point \| accuracy mean ± std \| seeds \| per seed \(1, 2\) \| f1 mean \|/);
  for (const p of full.points) assert.ok(md.includes(`| ${p.key} | ${p.mean!.toFixed(4)} ± ${p.std!.toFixed(4)} | 2/2 |`), p.key);
  assert.ok(md.includes(`| 1 ★ | ${full.winner!.key} |`));
  assert.match(md, /winner: \*\*lr=/);
  // live output: one line per dev evaluation and the table after every run
  assert.equal(lines.filter((l) => /^\[lr=\S+ seed \d\] dev after epoch \d: accuracy /.test(l)).length, 12);
  assert.equal(lines.filter((l) => l.startsWith('| # | point |')).length, 8);
  assert.ok(lines.some((l) => /^\[8\/8\] .*8\/8 runs done, elapsed/.test(l)));

  // a rerun reads every finished run back: no log line written, metrics.json untouched, same ranking
  const before = full.runs.map((r) => [logLines(r.dir), statSync(path.join(r.dir, 'metrics.json')).mtimeMs]);
  const again = await sweep({ base, space: grid, seeds: [1, 2], out });
  assert.ok(again.runs.every((r) => r.source === 'reused' && r.status === 'finished'));
  assert.deepEqual(again.runs.map((r) => [logLines(r.dir), statSync(path.join(r.dir, 'metrics.json')).mtimeMs]), before);
  assert.deepEqual(again.points.map((p) => [p.key, p.mean, p.std, p.values]), full.points.map((p) => [p.key, p.mean, p.std, p.values]));
  assert.equal(again.winner?.key, full.winner?.key);

  // its runs are only reused by a sweep with the same fixed settings
  await assert.rejects(sweep({ base: { ...base, maxLen: 24 }, space: grid, seeds: [1, 2], out }),
    (e: Error) => e instanceof UsageError && /different fixed settings \(maxLen: 32 -> 24\)/.test(e.message));
});

test('an interrupted sweep (AbortSignal mid-run) resumes from checkpoint-last and ends with the uninterrupted results', async () => {
  const out = path.join(tmp, 'cut');
  const stop = new AbortController();
  const opts: SweepOptions = { base, space: grid, seeds: [1, 2], maxRuns: 3, out };
  const cut = await sweep({ ...opts, signal: stop.signal, onEvent: (run, e) => {
    if (run.key === 'lr=0.001_epochs=2' && e.type === 'train' && e.step === 2) stop.abort();
  } });
  assert.equal(cut.stop, 'interrupted');
  assert.deepEqual(cut.runs.map((r) => r.status), ['finished', 'finished', 'interrupted']);
  const third = cut.runs[2]!;
  assert.equal(readJson(path.join(third.dir, 'checkpoint-last', 'trainer_state.json')).step, 2);
  assert.ok(!existsSync(path.join(third.dir, 'metrics.json')));
  assert.equal(readJson(path.join(out, 'sweep.json')).stop, 'interrupted');
  assert.match(readFileSync(path.join(out, 'sweep.md'), 'utf8'), /2 of 3 finished \(stopped: interrupted/);

  const lines: string[] = [];
  const done = await sweep({ ...opts, onLine: (l) => lines.push(l) });
  assert.equal(done.stop, 'done');
  assert.deepEqual(done.runs.map((r) => r.source), ['reused', 'reused', 'resumed']);
  assert.ok(lines.some((l) => l.includes('lr=0.001_epochs=2 seed 1: resuming from checkpoint-last')));
  // the same runs as the uninterrupted sweep (finetune is deterministic per seed and thread count)
  for (const r of done.runs) {
    const same = full.runs.find((x) => x.key === r.key && x.seed === r.seed)!;
    assert.deepEqual(r.dev, same.dev, `${r.key} seed ${r.seed}`);
  }
  const p = done.points.find((x) => x.key === 'lr=0.001_epochs=1')!;
  assert.deepEqual([p.mean, p.std], [full.points.find((x) => x.key === p.key)!.mean, full.points.find((x) => x.key === p.key)!.std]);
  const partial = done.points.find((x) => x.key === 'lr=0.001_epochs=2')!;
  assert.deepEqual([partial.seedsDone, partial.seedsPlanned], [1, 1]);
});

test('random search: seeded sampling (log-uniform lr, integer epochs), reproducible, max-runs respected, reruns find their runs', async () => {
  const space = { lr: '1e-4:1e-2', epochs: '1:3', warmupRatio: [0, 0.1] };
  const opts: SweepOptions = { base, space, search: 'random', maxRuns: 5, seeds: [1, 2], out: path.join(tmp, 'random') };
  const plan = planSweep(opts);
  assert.equal(plan.points.length, 2);                       // floor(5 runs / 2 seeds)
  assert.equal(plan.runs.length, 4);
  assert.deepEqual(planSweep(opts), plan);
  assert.notDeepEqual(planSweep({ ...opts, searchSeed: 7 }).points, plan.points);
  // more points extend the same sequence
  assert.deepEqual(planSweep({ ...opts, maxRuns: undefined, points: 6 }).points.slice(0, 2), plan.points);
  for (const { key, point } of planSweep({ ...opts, maxRuns: undefined, points: 30 }).points) {
    const lr = point.lr as number;
    assert.ok(lr >= 1e-4 && lr <= 1e-2 && Number(lr.toPrecision(3)) === lr, key);
    assert.ok([1, 2, 3].includes(point.epochs as number), key);
    assert.ok([0, 0.1].includes(point.warmupRatio as number), key);
    assert.match(key, /^lr=[\d.e-]+_epochs=\d_warmupRatio=(0|0\.1)$/);
  }
  const many = planSweep({ base, space: { lr: '1e-4:1e-2' }, search: 'random', points: 400, out: path.join(tmp, 'x') }).points;
  const below = many.filter((p) => (p.point.lr as number) < 1e-3).length / many.length;
  assert.ok(below > 0.4 && below < 0.6, `log-uniform: ${below} of the samples below the geometric mean`);   // uniform would give ~0.09

  const small: SweepOptions = { base: { ...base, epochs: 1 }, space: { lr: '1e-4:1e-2', warmupRatio: [0, 0.1] }, search: 'random', maxRuns: 3, seeds: [1], out: path.join(tmp, 'random') };
  const r = await sweep(small);
  assert.equal(r.runs.length, 3);
  assert.equal(r.runs.filter((x) => x.status === 'finished').length, 3);
  assert.deepEqual(r.runs.map((x) => x.key), planSweep(small).runs.map((x) => x.key));
  const again = await sweep(small);
  assert.ok(again.runs.every((x) => x.source === 'reused'));
  assert.deepEqual(again.points.map((p) => [p.key, p.mean]), r.points.map((p) => [p.key, p.mean]));
});

test('the time budget stops starting new runs (the running one finishes); a rerun continues', async () => {
  const out = path.join(tmp, 'budget');
  const opts: SweepOptions = { base: { ...base, epochs: 1 }, space: { lr: [1e-3, 3e-3] }, seeds: [1], out };
  const lines: string[] = [];
  const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const r = await sweep({ ...opts, timeBudgetS: 0.5, onLine: (l) => lines.push(l), onEvent: (_, e) => { if (e.type === 'eval') sleep(700); } });
  assert.equal(r.stop, 'time-budget');
  assert.deepEqual(r.runs.map((x) => x.status), ['finished', 'pending']);
  assert.ok(lines.some((l) => /time budget of 0\.5 s used .*not starting the 1 runs left/.test(l)), lines.join('\n'));
  assert.match(readFileSync(path.join(out, 'sweep.md'), 'utf8'), /1 of 2 finished \(stopped: time-budget/);
  assert.ok(!existsSync(path.join(out, 'lr=0.003')));
  const rest = await sweep(opts);
  assert.deepEqual(rest.runs.map((x) => x.source), ['reused', 'run']);
  assert.equal(rest.stop, 'done');
});

test('bad spaces and options are refused before any work, naming the setting', async () => {
  const out = path.join(tmp, 'bad');
  const cases: Array<[Partial<SweepOptions>, string, RegExp]> = [
    [{ space: { lr: [] } }, 'lr', /^lr needs at least one value/],
    [{ space: { lr: [1e-3, 2] } }, 'lr', /^lr must be a number in \(0, 1\), got 2$/],
    [{ space: { foo: [1] } }, 'space', /^space has an unknown setting "foo" \(searchable: lr, epochs, batchSize, warmupRatio, /],
    [{ space: { seed: [1, 2] } }, 'space', /^space cannot search seed: every point runs once per seed of `seeds`/],
    [{ space: { epochs: [1.5] } }, 'epochs', /^epochs must be a positive integer, got 1.5$/],
    [{ space: { 'batch-size': '16,x' } }, 'batchSize', /^batchSize must be a number, got "x"$/],
    [{ space: { optimizer: ['sgd'] } }, 'optimizer', /^optimizer must be one of adam, adamw, got "sgd"$/],
    [{ space: { warmupRatio: [0, 0] } }, 'warmupRatio', /lists the value 0 twice/],
    [{ space: { lr: '1e-3:1e-2' } }, 'lr', /^lr is a range \(0.001:0.01\); ranges need random search/],
    [{ space: { lr: '1e-2:1e-3' }, search: 'random', maxRuns: 2 }, 'lr', /range needs min < max/],
    [{ space: { warmupRatio: '0:0.5:log' }, search: 'random', maxRuns: 2 }, 'warmupRatio', /log range needs min > 0/],
    [{ seeds: [] }, 'seeds', /^seeds needs at least one seed/],
    [{ maxRuns: 0 }, 'maxRuns', /^maxRuns must be a positive integer, got 0/],
    [{ search: 'bayes' as 'grid' }, 'search', /^search must be one of grid, random/],
  ];
  for (const [o, option, message] of cases) {
    await assert.rejects(sweep({ base, space: grid, out, ...o }), (e: Error) => {
      assert.ok(e instanceof OptionError, `${JSON.stringify(o)}: ${e.message}`);
      assert.equal(e.option, option);
      assert.match(e.message, message);
      return true;
    });
  }
  await assert.rejects(sweep({ base, space: { lr: '1e-4:1e-3' }, search: 'random', out }), /random search needs a number of runs/);
  await assert.rejects(sweep({ base: { ...base, dev: undefined }, space: grid, out }),
    (e: Error) => e instanceof UsageError && /a sweep ranks runs by their dev metrics: give a task \(--task\) or a dev file \(--dev\)/.test(e.message));
  assert.ok(!existsSync(out), 'no work was done');
});

test('bertfit sweep: end to end with a YAML space (exit 0, last stdout line JSON), --dry-run, usage errors exit 2', () => {
  const out = path.join(tmp, 'cli');
  const space = path.join(tmp, 'space.yaml');
  writeFileSync(space, '# searched\nlr: [0.001, 0.003]\nwarmup_ratio: 0.1\n');
  const args = ['sweep', '--model', 'random:tiny', '--train', train, '--dev', dev, '--space', space, '--epochs', '1',
    '--batch-size', '16', '--max-len', '32', '--threads', '1', '--seeds', '1', '--out', out];
  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
  const stdout = r.stdout.trim().split('\n');
  const last = JSON.parse(stdout.at(-1)!);
  const result = readJson(path.join(out, 'sweep.json'));
  assert.deepEqual(last, {
    winner: result.winner.point, key: result.winner.key, metric: 'accuracy', mean: result.winner.mean, std: 0, runs: 2, planned: 2,
    stop: 'done', out,
  });
  assert.ok([0.001, 0.003].includes(last.winner.lr) && last.winner.warmupRatio === 0.1);
  assert.deepEqual(result.runs.map((x: { key: string }) => x.key), ['lr=0.001_warmupRatio=0.1', 'lr=0.003_warmupRatio=0.1']);
  assert.equal(result.base.epochs, 1);                      // one value on the command line is a fixed setting
  assert.ok(stdout.some((l) => l.startsWith(`| 1 ★ | ${last.key} |`)));
  assert.match(stdout.at(-2)!, /^winner: lr=/);
  assert.match(r.stderr, /\[2\/2\] lr=0\.003_warmupRatio=0\.1 seed 1: accuracy /);

  const dry = runCli(['sweep', '--model', 'random:tiny', '--train', train, '--dev', dev, '--search', 'random', '--lr', '1e-5:1e-4',
    '--batch-size', '16,32', '--max-runs', '4', '--seeds', '1,2', '--out', path.join(tmp, 'dry'), '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  const planned = dry.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(planned.length, 4);
  assert.deepEqual(planned.map((p) => p.seed), [1, 2, 1, 2]);
  assert.ok(!existsSync(path.join(tmp, 'dry')));

  for (const [extra, message] of [
    [['--lr', 'abc'], /bertfit: --lr must be a number, got "abc"/],
    [['--lr', '0.5,2'], /bertfit: --lr must be a number in \(0, 1\), got 2/],
    [['--time-budget', '10 minutes'], /--time-budget must be a duration/],
    [['--space', path.join(tmp, 'nowhere.yaml')], /--space .*nowhere\.yaml: no such file/],
  ] as const) {
    const bad = runCli([...args, ...extra, '--out', path.join(tmp, 'cli-bad')]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, message);
  }
});

test('bertfit sweep: SIGINT stops the running fine-tune, exits 130 with the table so far; the same command continues it', async () => {
  const out = path.join(tmp, 'cli-int');
  const args = ['sweep', '--model', 'random:tiny', '--train', train, '--dev', dev, '--lr', '0.001,0.003', '--epochs', '2',
    '--batch-size', '16', '--max-len', '32', '--threads', '1', '--out', out];
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '', stdout = '', sent = false;
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && /dev after epoch 1/.test(stderr)) { sent = true; child.kill('SIGINT'); }
  });
  const [code] = await once(child, 'exit');
  assert.ok(sent, stderr);
  assert.equal(code, 130, stderr);
  const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(last.stop, 'interrupted');
  assert.equal(readJson(path.join(out, 'sweep.json')).stop, 'interrupted');
  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /lr=0\.001 seed 1: (resuming from checkpoint-last|starting)/);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!).runs, 2);
});

test('parseDuration', () => {
  assert.equal(parseDuration('900s'), 900);
  assert.equal(parseDuration('30m'), 1800);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('90'), 90);
  assert.equal(parseDuration('1.5h'), 5400);
  assert.throws(() => parseDuration('soon'), /--time-budget must be a duration like 900s, 30m, 2h or 1h30m, got "soon"/);
  assert.throws(() => parseDuration(''), /--time-budget/);
});
