// The in-repo fuzzer (test/fuzz/): every registered target -- checkpoint and config parsers here, data readers from
// their own modules -- runs 1,000 seeded cases, each of which may throw only the project's error types, must finish
// within 2 s, and must leave RSS within 256 MiB of where the target started. `npm run fuzz -- --cases N` runs longer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, fuzzTarget, loadTargets, type FuzzTarget } from './fuzz/runner.js';

const CASES = 1000;
const SEED = 1;
const targets = await loadTargets();

test('every checkpoint parser has a fuzz target', () => {
  const names = targets.map((t) => t.name);
  for (const n of ['safetensors', 'pytorch-zip', 'pickle', 'config', 'vocab']) assert.ok(names.includes(n), `no fuzz target ${n} (have ${names})`);
});

test('the harness catches foreign errors and is deterministic', async () => {
  const fragile: FuzzTarget = {
    name: 'fragile',
    seeds: () => [Buffer.from('abcdefgh')],
    run: (input) => {
      if (input.length > 8) throw new TypeError('a bug');
      if (input.includes(0)) throw new RangeError('another');
    },
  };
  const a = await fuzzTarget(fragile, { cases: 200, seed: 7, maxFailures: 1000 });
  const b = await fuzzTarget(fragile, { cases: 200, seed: 7, maxFailures: 1000 });
  assert.ok(a.failures.length > 0 && a.failures.every((f) => f.kind === 'error'));
  assert.deepEqual(a.failures.map((f) => f.index), b.failures.map((f) => f.index));
  const one = await fuzzTarget(fragile, { cases: 200, seed: 7, only: a.failures[0]!.index });
  assert.equal(one.cases, 1);
  assert.deepEqual(one.failures[0]!.input, a.failures[0]!.input);
});

for (const target of targets) {
  test(`fuzz ${target.name}: ${CASES} seeded cases, only the project's errors, each under 2 s, bounded RSS`, async (t) => {
    const r = await fuzzTarget(target, { cases: CASES, seed: SEED });
    t.diagnostic(formatReport(r));
    if (r.failures.length) {
      assert.fail(`${formatReport(r)}\n` + r.failures.slice(0, 3).map((f) =>
        `case ${f.index} (${f.kind}): ${f.message}\n  reproduce: npm run fuzz -- --target ${target.name} --seed ${SEED} --only ${f.index}`).join('\n'));
    }
    assert.equal(r.cases, CASES);
  });
}
