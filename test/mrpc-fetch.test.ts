import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatMrpc, locateMrpc, sharedMrpcDir } from '../src/data/mrpc-fetch.js';

const shared = sharedMrpcDir();

test('MRPC rebuild from the original Microsoft/GLUE files is byte-identical to GLUE train/dev/test.tsv', { skip: !shared && 'no ../shared/data/mrpc' }, () => {
  const o = path.join(shared!, 'original');
  const r = formatMrpc(readFileSync(path.join(o, 'msr_paraphrase_train.txt'), 'utf8'),
    readFileSync(path.join(o, 'msr_paraphrase_test.txt'), 'utf8'), readFileSync(path.join(o, 'dev_ids.tsv'), 'utf8'));
  for (const split of ['train', 'dev', 'test'] as const) {
    assert.equal(r[split], readFileSync(path.join(shared!, `${split}.tsv`), 'utf8'), split);
  }
});

test('locateMrpc prefers an explicit --data-dir and names it when it lacks GLUE files', async () => {
  await assert.rejects(locateMrpc('/nonexistent/mrpc'), /--data-dir \/nonexistent\/mrpc: expected GLUE MRPC files train.tsv and dev.tsv/);
  if (shared) assert.equal(await locateMrpc(shared), shared);
});
