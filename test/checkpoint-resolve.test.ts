// resolveModel: local directories, `bertfit pull` models, and Hugging Face ids from the cache or a download
// (served here by a local HTTP server standing in for huggingface.co via HF_ENDPOINT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint/load.js';
import { resolveModel } from '../src/model/checkpoint/resolve.js';
import { assertSameBits, copyFixture, fixture, reference, scratchDir } from './checkpoint-fixtures.js';

/** Runs `fn` with env vars set (undefined deletes), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** An endpoint nothing listens on: a port that was just free. */
async function deadEndpoint(): Promise<string> {
  const s = createServer();
  const url = await listen(s);
  await close(s);
  return url;
}

test('an existing directory resolves to itself; a missing path or a file is named', async () => {
  assert.equal(await resolveModel(fixture('bert-cls')), fixture('bert-cls'));
  await assert.rejects(resolveModel('./no/such/model'), /model directory \.\/no\/such\/model does not exist/);
  await assert.rejects(resolveModel(fixture('bert-cls', 'config.json')), /is a file; pass the checkpoint directory that contains it/);
  await assert.rejects(resolveModel('random:tiny'), /model "random:tiny" is neither a directory, a model `bertfit pull` knows, nor a Hugging Face id/);
});

test('registry models that are not pulled say how to pull them (and never hit the network)', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    await withEnv({ BERTFIT_CACHE: dir, HF_ENDPOINT: await deadEndpoint() }, async () => {
      for (const spec of ['minilm-l6', 'sentence-transformers/all-MiniLM-L6-v2']) {
        await assert.rejects(resolveModel(spec), /pretrained model minilm-l6 .* is not installed in .*: run `bertfit pull minilm-l6` first/);
      }
    });
  } finally {
    cleanup();
  }
});

test('a cached Hugging Face id is served from $BERTFIT_CACHE/hub without any download', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    copyFixture('bert-cls', path.join(dir, 'hub', 'some-org', 'tiny-bert'));
    await withEnv({ BERTFIT_CACHE: dir, HF_ENDPOINT: await deadEndpoint() }, async () => {
      assert.equal(await resolveModel('some-org/tiny-bert'), path.join(dir, 'hub', 'some-org', 'tiny-bert'));
    });
  } finally {
    cleanup();
  }
});

test('offline: one clear error naming the id, the host and the cache path; nothing is left in the cache', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    await withEnv({ BERTFIT_CACHE: dir, HF_ENDPOINT: await deadEndpoint() }, async () => {
      const where = path.join(dir, 'hub', 'bert-base-uncased');
      await assert.rejects(resolveModel('bert-base-uncased'), (e: Error) => {
        assert.ok(e.message.startsWith(`cannot download bert-base-uncased from 127.0.0.1:`), e.message);
        assert.ok(e.message.includes(` (offline?) and it is not in the cache ${where}; pass a local directory or random:<shape>`), e.message);
        return true;
      });
      assert.deepEqual(readdirSync(path.join(dir, 'hub')), [], 'no partial download left behind');
    });
    // A cache that cannot be written is not reported as being offline.
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    await withEnv({ BERTFIT_CACHE: path.join(dir, 'not-a-dir'), HF_ENDPOINT: await deadEndpoint() }, async () => {
      await assert.rejects(resolveModel('org/x'), /^CheckpointError: cannot download org\/x into .*not-a-dir\/hub\/org\/x: .*\(ENOTDIR\)/);
    });
    // The default endpoint is huggingface.co (unreachable or not, the message names it).
    await withEnv({ BERTFIT_CACHE: dir, HF_ENDPOINT: undefined }, async () => {
      await assert.rejects(resolveModel('org/x', { timeoutMs: 1 }), /^CheckpointError: cannot download org\/x from huggingface\.co \(offline\?\)/);
    });
  } finally {
    cleanup();
  }
});

test('download from the hub: files land atomically in the cache, pytorch_model.bin is the fallback, then the cache is used', async () => {
  const { dir, cleanup } = scratchDir();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url!);
    const m = /^\/org\/tiny\/resolve\/main\/([\w.]+)$/.exec(req.url!);
    const file = m && fixture('bert-cls', m[1]);
    // Like a repository with only a .bin checkpoint: model.safetensors 404s.
    if (!file || m![1] === 'model.safetensors' || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const data = readFileSync(file);
    res.writeHead(200, { 'content-length': data.length });
    // Two chunks, so the body really streams.
    res.write(data.subarray(0, data.length >> 1));
    setTimeout(() => res.end(data.subarray(data.length >> 1)), 5);
  });
  try {
    const endpoint = await listen(server);
    await withEnv({ BERTFIT_CACHE: dir, HF_ENDPOINT: endpoint }, async () => {
      const got = await resolveModel('org/tiny');
      assert.equal(got, path.join(dir, 'hub', 'org', 'tiny'));
      assert.deepEqual(readdirSync(got).sort(), ['config.json', 'pytorch_model.bin', 'tokenizer_config.json', 'vocab.txt']);
      assert.deepEqual(readdirSync(path.join(dir, 'hub', 'org')), ['tiny'], 'no temporary directory left');
      for (const f of readdirSync(got)) assert.ok(readFileSync(path.join(got, f)).equals(readFileSync(fixture('bert-cls', f))), f);
      const ck = loadCheckpoint(got);
      assert.equal(ck.format, 'pytorch');
      for (const [n, t] of ck.tensors) assertSameBits(t.data, reference.f32.get(n)!, n);
      assert.deepEqual(requests, ['config.json', 'vocab.txt', 'tokenizer_config.json', 'model.safetensors', 'pytorch_model.bin']
        .map((f) => `/org/tiny/resolve/main/${f}`));
      assert.equal(await resolveModel('org/tiny'), got);
      assert.equal(requests.length, 5, 'the second resolve used the cache');
      await assert.rejects(resolveModel('org/missing'), /^CheckpointError: cannot download org\/missing: HTTP 404 for http:\/\/127\.0\.0\.1:\d+\/org\/missing\/resolve\/main\/config\.json$/);
      assert.equal(existsSync(path.join(dir, 'hub', 'org', 'missing')), false);
    });
  } finally {
    await close(server);
    cleanup();
  }
});

test('a server that stops sending is given up after the timeout', async () => {
  const { dir, cleanup } = scratchDir();
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write('x'); // ... and never the rest
  });
  try {
    const endpoint = await listen(server);
    await withEnv({ BERTFIT_CACHE: dir, HF_ENDPOINT: endpoint }, async () => {
      const t0 = Date.now();
      await assert.rejects(resolveModel('org/slow', { timeoutMs: 150 }), /cannot download org\/slow from 127\.0\.0\.1:\d+ \(offline\?\).*\(stalled for 150 ms\)/);
      assert.ok(Date.now() - t0 < 3000);
      assert.deepEqual(readdirSync(path.join(dir, 'hub')), ['org']);
      assert.deepEqual(readdirSync(path.join(dir, 'hub', 'org')), []);
    });
  } finally {
    await close(server);
    cleanup();
  }
});
