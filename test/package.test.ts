// The npm package as users get it: `npm pack` holds the library, its types, the native sources and the bundled
// vocab, and nothing of the tests, fixtures or benchmarks; the tarball installs into an empty project (building the
// addon with scripts/build-native.cjs against the local Node headers), its CLI runs through npx, and a strict
// NodeNext TypeScript program type-checks against its .d.ts and predicts with a random:tiny model.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string; version: string; devDependencies: Record<string, string>;
};
const dir = mkdtempSync(path.join(os.tmpdir(), 'bertfit-package-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// node-gyp must build against this Node's own headers, as scripts/setup.sh does.
const nodePrefix = path.resolve(process.execPath, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

// Children keep npm's configuration (npm_config_registry, cache, ...) but not what the `npm test` running us says
// about its own project: npm_config_local_prefix would point the inner npm at this checkout.
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_config_local_prefix|npm_package_.*|npm_lifecycle_.*|npm_command|INIT_CWD)$/i.test(k)) env[k] = v;
  }
  env.npm_config_nodedir = nodePrefix;
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: childEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
}

function explain(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}${r.error ? ` ${r.error.message}` : ''}\n` +
    `--- stdout\n${r.stdout?.slice(-4000)}\n--- stderr\n${r.stderr?.slice(-8000)}`;
}

interface PackResult { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }
let tarball: string | undefined;

test('npm pack: the tarball holds the library, its types, the native sources and the vocab, and no tests or fixtures', { timeout: 180_000 }, (t) => {
  const packDir = path.join(dir, 'pack');
  mkdirSync(packDir);
  // prepack compiles TypeScript, so this also checks that dist/ is built for the tarball.
  const r = run(npm, ['pack', '--json', '--pack-destination', packDir], root, 170_000);
  assert.equal(r.status, 0, explain(r));
  const [res] = JSON.parse(r.stdout) as PackResult[];
  assert.ok(res);
  const files = res.files.map((f) => f.path).sort();
  for (const f of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js',
    'binding.gyp', 'native/addon.cc', 'native/mpi_api.cc', 'scripts/build-native.cjs', 'scripts/detect-dnnl.cjs', 'scripts/detect-mpi.cjs',
    'assets/vocab-bert-base-uncased.txt']) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  // binding.gyp compiles every native source it names: all must ship.
  const gypSources = [...readFileSync(path.join(root, 'binding.gyp'), 'utf8').matchAll(/"(native\/[^"]+)"/g)].map((m) => m[1]!);
  assert.ok(gypSources.length > 0);
  for (const f of gypSources) assert.ok(files.includes(f), `${f} (binding.gyp) missing from the tarball`);
  const unwanted = files.filter((f) => /^(fixtures|test|bench|build|node_modules|src|dist\/test|dist\/bench)\//.test(f) ||
    f.endsWith('.map') || f.endsWith('.py') || f.endsWith('.tsbuildinfo'));
  assert.deepEqual(unwanted, []);
  // Every compiled module has its declaration file and a source it came from (no stale outputs of deleted sources).
  for (const f of files.filter((p) => p.startsWith('dist/src/') && p.endsWith('.js'))) {
    assert.ok(files.includes(f.replace(/\.js$/, '.d.ts')), `${f} has no .d.ts in the tarball`);
    assert.ok(existsSync(path.join(root, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${f} is stale: its source is gone (rm -rf dist and rebuild)`);
  }
  tarball = path.join(packDir, res.filename);
  assert.ok(existsSync(tarball));
  t.diagnostic(`tarball ${res.filename}: ${res.entryCount} files, ${(res.size / 1024).toFixed(1)} KiB packed, ` +
    `${(res.unpackedSize / 1024).toFixed(1)} KiB unpacked`);
});

const CHECK_TS = `import { loadClassifier } from 'bertfit';

const clf = await loadClassifier('random:tiny', { threads: 1 });
try {
  const single = await clf.predict('a sentence');
  const batch = await clf.predict([['is it', 'a pair'], 'single']);
  console.log(JSON.stringify({ single, batch }));
} finally {
  clf.dispose();
}
`;

test('the tarball installs into an empty project: npx bertfit runs, and TypeScript (NodeNext, strict) imports and predicts', { timeout: 1_500_000 }, (t) => {
  assert.ok(tarball, 'the npm pack test did not produce a tarball');
  const ping = run(npm, ['ping', '--fetch-retries=0', '--fetch-timeout=15000'], dir, 30_000);
  if (ping.status !== 0) {
    const why = ping.error?.message ?? (ping.stderr.split('\n').find((l) => /FetchError|npm ERR|npm error code/.test(l)) ?? `exit ${ping.status}`);
    t.skip(`npm registry unreachable (npm ping: ${why.trim()}): cannot install the tarball's dependencies`);
    return;
  }
  const app = path.join(dir, 'app');
  mkdirSync(app);
  // allowScripts: npm 11 warns about dependencies' install scripts not approved there (its docs say it blocks them).
  // A tarball is approved by its file: source, as `npm install-scripts approve` writes it; from the registry the
  // key would be the package name.
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'bertfit-consumer', version: '1.0.0', private: true, type: 'module', allowScripts: { [`file:${tarball}`]: true },
  }, null, 2));
  const deps = ['typescript', '@types/node'].map((d) => `${d}@${pkg.devDependencies[d]}`);
  const t0 = performance.now();
  const install = run(npm, ['install', tarball, ...deps, '--prefer-offline', '--no-audit', '--no-fund'], app, 1_200_000);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(install.status, 0, `npm install of the tarball failed: ${explain(install)}`);
  assert.doesNotMatch(install.stderr, /install-scripts/, 'npm did not count bertfit as allowed to run its install script');
  t.diagnostic(`npm install ${path.basename(tarball)} ${deps.join(' ')}: ${seconds.toFixed(1)} s (includes the addon build)`);
  const installed = path.join(app, 'node_modules', pkg.name);
  assert.ok(existsSync(path.join(installed, 'build', 'Release', 'bertfit_native.node')), 'the install script did not build the addon');

  const help = run(npx, ['--no', '--', 'bertfit', '--help'], app, 60_000);
  assert.equal(help.status, 0, explain(help));
  assert.match(help.stdout, /finetune/);
  const info = run(npx, ['--no', '--', 'bertfit', 'info'], app, 60_000);
  assert.equal(info.status, 0, explain(info));
  assert.match(info.stdout, new RegExp(`^bertfit ${pkg.version.replace(/\./g, '\\.')} on Node`));
  assert.match(info.stdout, /GEMM backend:/);
  for (const line of info.stdout.trim().split('\n')) t.diagnostic(`npx bertfit info: ${line}`);

  // skipLibCheck stays off: the shipped .d.ts must type-check with only typescript and @types/node installed.
  writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out' },
    files: ['check.ts'],
  }, null, 2));
  writeFileSync(path.join(app, 'check.ts'), CHECK_TS);
  const tsc = run(npx, ['--no', '--', 'tsc', '-p', '.'], app, 180_000);
  assert.equal(tsc.status, 0, `tsc on a program importing bertfit failed: ${explain(tsc)}`);
  const prog = run(process.execPath, [path.join(app, 'out', 'check.js')], app, 120_000);
  assert.equal(prog.status, 0, explain(prog));
  const out = JSON.parse(prog.stdout.trim().split('\n').at(-1)!) as { single: unknown; batch: unknown };
  const isLabelScores = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every((x) =>
    typeof x === 'object' && x !== null && typeof (x as { label?: unknown }).label === 'string' &&
    typeof (x as { score?: unknown }).score === 'number' && Number.isFinite((x as { score: number }).score));
  assert.ok(isLabelScores(out.single), `predict('a sentence') gave ${JSON.stringify(out.single)}`);
  assert.ok(Array.isArray(out.batch) && out.batch.length === 2 && out.batch.every(isLabelScores),
    `predict([pair, single]) gave ${JSON.stringify(out.batch)}`);
  t.diagnostic(`predict: ${JSON.stringify(out)}`);
});
