// The fuzzer's command line: `npm run fuzz -- [--cases N] [--seed S] [--target NAME]... [--only I] [--save DIR]`.
//
//   --cases N      cases per target (default 1000)
//   --seed S       run seed (default 1); case i of target T is determined by (S, T, i)
//   --target NAME  run only this target (repeatable; default: all of test/fuzz/targets/)
//   --only I       run only case I (reproduces a reported failure; prints its full stack)
//   --save DIR     write each failing input to DIR/TARGET-SEED-CASE.bin
//
// Exits 1 when any case fails (a foreign error type, a case over 2 s, RSS growth over 256 MiB), else 0.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport, fuzzTarget, loadTargets, LIMITS } from './runner.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    target: { type: 'string', multiple: true },
    only: { type: 'string' },
    save: { type: 'string' },
  },
});
const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} must be a non-negative integer, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const cases = int('cases', values.cases)!;
const seed = int('seed', values.seed)!;
const only = int('only', values.only);

const all = await loadTargets();
const wanted = values.target ?? all.map((t) => t.name);
const unknown = wanted.filter((n) => !all.some((t) => t.name === n));
if (unknown.length) {
  process.stderr.write(`fuzz: unknown target(s) ${unknown.join(', ')} (known: ${all.map((t) => t.name).join(', ')})\n`);
  process.exit(2);
}
process.stdout.write(`fuzz: seed ${seed}, ${only !== undefined ? `case ${only} only` : `${cases} cases per target`}; ` +
  `limits: ${LIMITS.caseMs} ms per case, RSS growth ${LIMITS.rssGrowthBytes / 2 ** 20} MiB per target\n`);
let failed = 0;
for (const t of all.filter((x) => wanted.includes(x.name))) {
  const r = await fuzzTarget(t, { cases, seed, only, maxFailures: only !== undefined ? 1 : 20 });
  process.stdout.write(formatReport(r) + '\n');
  for (const f of r.failures) {
    failed++;
    process.stdout.write(`  case ${f.index} (${f.kind}): ${only !== undefined ? f.message : f.message.split('\n').slice(0, 3).join('\n    ')}\n` +
      `    reproduce: npm run fuzz -- --target ${t.name} --seed ${seed} --only ${f.index}\n`);
    if (values.save) {
      mkdirSync(values.save, { recursive: true });
      writeFileSync(path.join(values.save, `${t.name}-${seed}-${f.index}.bin`), f.input);
    }
  }
}
process.exitCode = failed ? 1 : 0;
