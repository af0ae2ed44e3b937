// transformers reads a regression / multi-label checkpoint that bertfit fine-tuned as that kind of model: the saved
// problem_type makes BertForSequenceClassification use MSELoss / BCEWithLogitsLoss, and its outputs equal bertfit's.
// Needs a Python with transformers (.venv-torch or .venv-hf); skipped where there is none.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { finetune, loadClassifier } from '../src/index.js';
import { repoRoot, shuffledCopyTask, tempDir, writeJsonl } from './train-helpers.js';

const python = ['.venv-torch', '.venv-hf'].map((v) => path.join(repoRoot, v, 'bin', 'python')).find((p) => existsSync(p));
const tmp = tempDir('bertfit-hf-heads-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const CHECK = `
import json, sys, torch
from transformers import BertForSequenceClassification
d, ids, tt, targets = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
model = BertForSequenceClassification.from_pretrained(d).eval()
with torch.no_grad():
    out = model(input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([tt]), labels=torch.tensor([targets], dtype=torch.float32))
logits = out.logits[0].tolist()
if model.config.problem_type == "regression":
    expected = torch.nn.functional.mse_loss(out.logits.squeeze(), torch.tensor(targets[0], dtype=torch.float32))
else:
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, torch.tensor([targets], dtype=torch.float32))
print(json.dumps({"problem_type": model.config.problem_type, "logits": logits, "loss": out.loss.item(), "expected": expected.item()}))
`;

for (const problem of ['regression', 'multi_label_classification'] as const) {
  test(`transformers loads a bertfit ${problem} checkpoint as one`, { skip: !python && 'no .venv-torch or .venv-hf with transformers' }, async () => {
    const rows = shuffledCopyTask(64, 4).map((r) => ({ ...r, label: problem === 'regression' ? Number(r.label) * 4 : r.label === '1' ? ['same'] : ['other', 'x'] }));
    const train = writeJsonl(path.join(tmp, `${problem}.jsonl`), rows);
    const r = await finetune({ model: 'random:tiny', train, dev: train, problem, epochs: 1, maxLen: 32, threads: 1, out: path.join(tmp, problem) });
    const clf = await loadClassifier(r.outputs.checkpointBest);
    const [enc] = clf.encode([[rows[0]!.text_a, rows[0]!.text_b]]);
    const ours = await clf.logits([rows[0]!.text_a, rows[0]!.text_b]);
    const targets = problem === 'regression' ? [1.5] : clf.labels.map((l) => (l === 'same' ? 1 : 0));
    const res = JSON.parse(execFileSync(python!, ['-c', CHECK, r.outputs.checkpointBest, JSON.stringify(Array.from(enc!.inputIds)),
      JSON.stringify(Array.from(enc!.tokenTypeIds)), JSON.stringify(targets)],
    { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' } })) as
      { problem_type: string; logits: number[]; loss: number; expected: number };
    assert.equal(res.problem_type, problem);
    assert.equal(res.logits.length, clf.labels.length);
    res.logits.forEach((x, i) => assert.ok(Math.abs(x - ours[i]!) < 1e-4, `logit ${i}: transformers ${x}, bertfit ${ours[i]}`));
    assert.ok(Math.abs(res.loss - res.expected) < 1e-6, `transformers used another loss: ${res.loss} vs ${res.expected}`);
  });
}
