// Fine-tuning matches PyTorch: from the same PyTorch-written checkpoint, on the same batches of real MRPC, 32 steps of
// Adam and of AdamW (warmup + linear decay, clipping) give the same loss curve as torch.optim
// (fixtures/train, made by scripts/make_train_fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { taskDatasets } from '../src/data/tasks.js';
import { encodeDataset } from '../src/data/encode.js';
import { sharedMrpcDir } from '../src/data/mrpc-fetch.js';
import { openModel } from '../src/model/open.js';
import { Trainer } from '../src/train/trainer.js';
import { DEFAULT_RECIPE, type TrainSettings } from '../src/train/recipes.js';
import { repoRoot, tempDir } from './train-helpers.js';

interface ExpectedStep { step: number; loss: number; grad_norm: number; lr: number }
interface ExpectedRun {
  settings: { optimizer: 'adam' | 'adamw'; lr: number; eps: number; weight_decay: number; warmup_ratio: number; schedule: 'constant' | 'linear'; clip: number };
  steps: ExpectedStep[];
}

const fixtureDir = path.join(repoRoot, 'fixtures', 'train');
const expected = JSON.parse(readFileSync(path.join(fixtureDir, 'expected.json'), 'utf8')) as {
  examples: number; batch_size: number; max_len: number; runs: Record<string, ExpectedRun>;
};
const mrpc = sharedMrpcDir();

const silent = { line: () => {}, tick: () => {}, start: () => {}, stop: () => {} };

for (const [name, run] of Object.entries(expected.runs)) {
  test(`${name}: 32 optimizer steps on real MRPC match PyTorch's loss curve (rel. diff <= 1e-3 per step)`, { skip: !mrpc && 'no ../shared/data/mrpc' }, async () => {
    const data = taskDatasets('mrpc', mrpc!);
    const opened = await openModel(path.join(fixtureDir, 'checkpoint'), { seed: 0, labels: data.labels });
    const train = encodeDataset(data.train.slice(0, expected.examples), opened.tokenizer, data.labels, expected.max_len);
    const r = run.settings;
    const s: TrainSettings = {
      ...DEFAULT_RECIPE, epochs: 1, batchSize: expected.batch_size, maxLen: expected.max_len, lr: r.lr,
      optimizer: r.optimizer, adamEps: r.eps, weightDecay: r.weight_decay, warmupRatio: r.warmup_ratio, schedule: r.schedule,
      clipNorm: r.clip, shuffle: false, logEvery: 1, evalEachEpoch: false, padding: 'dynamic',
    };
    const out = tempDir();
    const trainer = new Trainer(opened.model, { train, dev: null, labels: data.labels, padId: opened.tokenizer.vocab.padId }, s,
      { dir: out, vocabText: opened.vocabText, doLowerCase: true }, silent);
    const res = await trainer.run();
    assert.equal(res.state.step, run.steps.length);
    const log = readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>)
      .filter((l) => (l as unknown as { type: string }).type === 'train');
    assert.equal(log.length, run.steps.length);
    let worst = 0;
    for (let k = 0; k < run.steps.length; k++) {
      const want = run.steps[k]!, got = log[k]!;
      assert.equal(got.step, want.step);
      assert.ok(Math.abs(got.lr! - want.lr) <= 1e-12 + 1e-9 * want.lr, `step ${want.step}: lr ${got.lr} vs ${want.lr}`);
      const rel = Math.abs(got.loss! - want.loss) / Math.abs(want.loss);
      worst = Math.max(worst, rel);
      assert.ok(rel <= 1e-3, `step ${want.step}: loss ${got.loss} vs PyTorch ${want.loss} (rel ${rel.toExponential(2)})`);
      const relNorm = Math.abs(got.grad_norm! - want.grad_norm) / want.grad_norm;
      assert.ok(relNorm <= 1e-3, `step ${want.step}: grad norm ${got.grad_norm} vs PyTorch ${want.grad_norm}`);
    }
    // the curve really moved: a no-op optimizer would fail above, but make the intent explicit
    assert.ok(run.steps.at(-1)!.loss < run.steps[0]!.loss - 0.1);
    console.log(`# ${name}: worst per-step relative loss difference vs PyTorch ${worst.toExponential(2)}`);
  });
}
