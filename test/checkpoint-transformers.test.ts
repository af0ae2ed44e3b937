// The acid test of saveCheckpoint: transformers' own from_pretrained loads the directory with no missing or
// unexpected weights, the same values, labels and casing. Needs .venv-hf (bash scripts/hf_venv.sh: transformers
// 4.40.2 over Debian's torch); skipped where it is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint/load.js';
import { saveCheckpoint } from '../src/model/checkpoint/save.js';
import { fixture, repoRoot, scratchDir } from './checkpoint-fixtures.js';

const python = path.join(repoRoot, '.venv-hf', 'bin', 'python');

const CHECK = `
import json, sys, torch
from transformers import BertForSequenceClassification, BertTokenizer
out_dir, ref_file = sys.argv[1], sys.argv[2]
ref = json.load(open(ref_file))["f32"]
model, info = BertForSequenceClassification.from_pretrained(out_dir, output_loading_info=True)
bad = {k: v for k, v in info.items() if v}
assert not bad, bad
sd = model.state_dict()
for name, values in ref.items():
    assert torch.equal(sd[name].flatten(), torch.tensor(values, dtype=torch.float32)), name
tok = BertTokenizer.from_pretrained(out_dir)
print(json.dumps({"labels": model.config.id2label, "lower": tok.do_lower_case, "max_len": tok.model_max_length,
                  "ids": tok("The cat")["input_ids"]}))
`;

test('transformers loads a saved checkpoint with every weight, the labels and the casing', { skip: !existsSync(python) && 'no .venv-hf (bash scripts/hf_venv.sh)' }, () => {
  const { dir, cleanup } = scratchDir();
  try {
    const src = loadCheckpoint(fixture('bert-cls'));
    const out = path.join(dir, 'saved');
    saveCheckpoint(out, {
      config: src.config,
      tensors: [...src.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
      vocabText: readFileSync(src.vocabFile, 'utf8'),
      doLowerCase: true,
    });
    const res = JSON.parse(execFileSync(python, ['-c', CHECK, out, fixture('reference.json')],
      { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' } }));
    assert.deepEqual(res.labels, { 0: 'contradiction', 1: 'entailment', 2: 'neutral' });
    assert.equal(res.lower, true);
    assert.equal(res.max_len, 16);
    // [CLS]=6 the=9 [UNK]=5 ("cat" is not in the tiny vocabulary) [SEP]=7: lower-cased before lookup.
    assert.deepEqual(res.ids, [6, 9, 5, 7]);
  } finally {
    cleanup();
  }
});
