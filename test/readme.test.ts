// The README's "Use the model" and "Deploy" examples, run as written except for the stated substitutions that make
// them fast: the API example fine-tunes random:tiny for one short epoch instead of MiniLM-L6, the serve example serves
// a small fixture checkpoint on an ephemeral port, and the export examples export that fixture and load it in
// transformers.js and onnxruntime-node.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadClassifier } from '../src/index.js';
import { cliPath, repoRoot, runCli, tempDir } from './train-helpers.js';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const tmp = tempDir('bertfit-readme-');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The code block after <!-- example: NAME -->. */
function example(name: string): string {
  const m = new RegExp(`<!-- example: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  assert.ok(m, `README has no example "${name}"`);
  return m[1]!;
}

function substitute(code: string, from: string, to: string): string {
  assert.ok(code.includes(from), `the example no longer contains ${from}`);
  return code.replaceAll(from, to);
}

/**
 * Type-checks `code` strictly against the package, as a user's .ts file, and runs it.
 * Inside the package, 'bertfit' resolves to itself through package.json "exports" (as it will for users).
 */
function runTypeScript(name: string, code: string): SpawnSyncReturns<string> {
  const dir = path.join(repoRoot, 'dist', 'readme-example');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.ts`);
  writeFileSync(file, code + '\n');
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const checked = spawnSync(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--types', 'node', '--rootDir', dir, '--outDir', dir, file], { encoding: 'utf8' });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  return spawnSync(process.execPath, [path.join(dir, `${name}.js`)], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 300_000 });
}

test('README API example type-checks against the package and runs', async () => {
  let code = example('api');
  code = substitute(code, "'minilm-l6'", "'random:tiny'");
  code = substitute(code, "out: 'runs/mrpc-api',", `out: ${JSON.stringify(path.join(tmp, 'mrpc-api'))}, epochs: 1, maxLen: 32, threads: 1,`);
  const r = runTypeScript('api', code);
  assert.match(r.stdout, /epoch 1: dev accuracy [\d.]+/);
  assert.match(r.stdout, /accuracy: [\d.]+,\n? *f1: [\d.]+,\n? *macro_f1: [\d.]+,\n? *mcc: -?[\d.]+/);
  assert.match(r.stdout, /^[01] 0\.\d+$/m);          // best.label best.score
  assert.match(r.stdout, /\[ \{ label: '[01]', score: [\d.]+ \} \]/);
});

test('README serve example: the curl requests answer in the documented shapes', async () => {
  const lines = example('serve').split('\n');
  assert.match(lines[0]!, /^bertfit serve --model \S+ --port 8080 &$/);
  const model = path.join(repoRoot, 'fixtures', 'model', 'small-safetensors');
  const server = spawn(process.execPath, [cliPath, 'serve', '--model', model, '--port', '0', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d: Buffer) => { out += d; const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
      server.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    // each `curl` command with its continuation lines, and the output comment after it
    const commands: Array<{ args: string; expect: string }> = [];
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i]!.startsWith('curl ')) continue;
      let cmd = '';
      while (lines[i]!.endsWith('\\')) cmd += lines[i++]!.slice(0, -1);
      cmd += lines[i]!;
      commands.push({ args: cmd, expect: lines[i + 1]!.replace(/^# /, '') });
    }
    assert.equal(commands.length, 2);
    for (const { args, expect } of commands) {
      const url = /curl -s (\S+)/.exec(args)![1]!.replace('localhost:8080', `127.0.0.1:${port}`);
      const body = /-d '(.*)'$/.exec(args)![1]!;
      const res = await fetch(`http://${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 200, await res.clone().text());
      const got = await res.json() as unknown;
      const want = JSON.parse(expect) as unknown;
      // same nesting and fields as documented (this model's labels and scores differ from the README's MRPC model)
      const shape = (x: unknown): unknown => Array.isArray(x) ? x.slice(0, 1).map(shape) : x && typeof x === 'object' ? Object.keys(x).sort() : typeof x;
      assert.deepEqual(shape(got), shape(want), `${JSON.stringify(got)} vs ${expect}`);
    }
  } finally {
    server.kill('SIGTERM');
  }
});

test('README export example: bertfit export, then transformers.js answers as bertfit does (single texts and pairs)', async () => {
  const model = path.join(repoRoot, 'fixtures', 'model', 'small-safetensors');
  const out = path.join(tmp, 'mrpc-onnx');
  // the command, with the fixture checkpoint for the fine-tuned one
  const cmd = example('export-cli').trim();
  assert.match(cmd, /^bertfit export --model \S+ --out runs\/mrpc-onnx --quantize int8$/);
  const args = cmd.split(/\s+/).slice(1);
  args[args.indexOf('--model') + 1] = model;
  args[args.indexOf('--out') + 1] = out;
  const exported = runCli(args, { BERTFIT_THREADS: '1' });
  assert.equal(exported.status, 0, exported.stderr);
  for (const f of ['config.json', 'tokenizer.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx']) {
    assert.ok(exported.stdout.includes(path.join(out, f)), `${f} not in\n${exported.stdout}`);
  }

  // the snippet, reading that directory; a .mjs inside the package so that @huggingface/transformers resolves
  const code = substitute(example('export'), "'runs/mrpc-onnx'", JSON.stringify(out));
  const dir = path.join(repoRoot, 'dist', 'readme-example');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'export.mjs');
  writeFileSync(file, code + '\n');
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);

  const clf = await loadClassifier(model, { threads: 1 });
  const close = (got: number, want: number, what: string): void => assert.ok(Math.abs(got - want) < 1e-4, `${what}: ${got} vs ${want}\n${r.stdout}`);
  // single text: the pipeline's every label with its score (printed by console.log), as bertfit's predict
  const text = /classify\('([^']*)'/.exec(code)![1]!;
  const printed = [...r.stdout.matchAll(/label: '([^']*)',\s*score: ([-\d.e]+)/g)].map((m) => ({ label: m[1]!, score: Number(m[2]) }));
  const want = await clf.predict(text);
  assert.deepEqual(printed.map((x) => x.label), want.map((x) => x.label), r.stdout);
  printed.forEach((x, i) => close(x.score, want[i]!.score, `${text}: ${x.label}`));
  // pairs: one "label probability" line per pair, as bertfit's best label for the pair
  const texts = (name: string): string[] => JSON.parse(new RegExp(`\\b${name} = (\\[[^\\]]*\\])`).exec(code)![1]!.replaceAll("'", '"')) as string[];
  const a = texts('a'), b = texts('b');
  const lines = r.stdout.trim().split('\n').filter((l) => /^\S+ [-\d.e]+$/.test(l));
  assert.equal(lines.length, a.length, r.stdout);
  for (let i = 0; i < a.length; i++) {
    const [best] = await clf.predict([a[i]!, b[i]!]);
    const [label, score] = lines[i]!.split(' ');
    assert.equal(label, best!.label, `${a[i]} / ${b[i]}`);
    close(Number(score), best!.score, `${a[i]} / ${b[i]}`);
  }
  clf.dispose();
});

test('README export API example: exportModel, then onnxruntime-node on onnxFeeds gives bertfit\'s logits', async () => {
  const model = path.join(repoRoot, 'fixtures', 'model', 'small-safetensors');
  const out = path.join(tmp, 'mrpc-onnx-api');
  let code = substitute(example('export-api'), "'runs/mrpc-api/checkpoint-best'", JSON.stringify(model));
  code = substitute(code, "'runs/mrpc-onnx'", JSON.stringify(out));
  const r = runTypeScript('export-api', code);
  assert.equal(r.status, 0, r.stderr);
  const m = /^\[ (\d+), (\d+) \] Float32Array\(\d+\) \[([^\]]*)\]/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const got = m[3]!.split(',').map(Number);
  // the same inputs through bertfit (the fixture is cased or not as its tokenizer_config says; the example's
  // lowerCase: true must agree with what the export wrote)
  const tokConfig = JSON.parse(readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8')) as { do_lower_case: boolean };
  assert.equal(tokConfig.do_lower_case, true);
  const pair = /encodePair\('([^']*)', '([^']*)'/.exec(code)!, single = /encode\('([^']*)'/.exec(code)!;
  const clf = await loadClassifier(model, { threads: 1 });
  const want = (await clf.logits([[pair[1]!, pair[2]!], { text: single[1]! }])).flat();
  clf.dispose();
  assert.deepEqual([Number(m[1]), Number(m[2])], [2, want.length / 2]);
  assert.equal(got.length, want.length);
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-4, `logit ${i}: ${x} vs ${want[i]}\n${r.stdout}`));
  for (const f of ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'vocab.txt']) assert.ok(existsSync(path.join(out, f)), f);
});
