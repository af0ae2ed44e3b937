// The README's "Use the model" examples, run as written except for the stated substitutions that make them fast:
// the API example fine-tunes random:tiny for one short epoch instead of MiniLM-L6, and the serve example serves a
// small fixture checkpoint on an ephemeral port.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliPath, repoRoot, tempDir } from './train-helpers.js';

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

test('README API example type-checks against the package and runs', async () => {
  let code = example('api');
  code = substitute(code, "'minilm-l6'", "'random:tiny'");
  code = substitute(code, "out: 'runs/mrpc-api',", `out: ${JSON.stringify(path.join(tmp, 'mrpc-api'))}, epochs: 1, maxLen: 32, threads: 1,`);
  // inside the package, 'bertfit' resolves to itself through package.json "exports" (as it will for users)
  const dir = path.join(repoRoot, 'dist', 'readme-example');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'api.ts');
  writeFileSync(file, code + '\n');
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const checked = spawnSync(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--types', 'node', '--rootDir', dir, '--outDir', dir, file], { encoding: 'utf8' });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  const r = spawnSync(process.execPath, [path.join(dir, 'api.js')], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
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
