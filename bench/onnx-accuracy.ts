// MRPC dev accuracy of an exported classifier: `bertfit export --quantize int8`, then the dev set through
// onnxruntime-node (onnx/model.onnx fp32 and onnx/model_quantized.onnx int8, tokenized with the exported vocab.txt)
// and through bertfit itself (evaluate(), fp32). Prints one table row per engine: accuracy, F1, the largest logit
// difference from bertfit, how often the predicted class agrees with bertfit's, and the wall time (one thread each).
//
// Usage: BERTFIT_THREADS=1 node dist/bench/onnx-accuracy.js [--model DIR] [--out DIR] [--data-dir DIR]
//                                                          [--max-len 128] [--batch-size 32]
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { exportModel } from '../src/api/export.js';
import { evaluate } from '../src/api/evaluate.js';
import { loadClassifier } from '../src/api/classifier.js';
import { encodeDataset } from '../src/data/encode.js';
import { locateMrpc } from '../src/data/mrpc-fetch.js';
import { taskDatasets } from '../src/data/tasks.js';
import type { EncodedExample } from '../src/data/types.js';
import { BertTokenizer } from '../src/tokenizer/tokenizer.js';
import { argmaxRows, scoreOutputs } from '../src/train/metrics.js';
import { machineLine, repoRoot } from './common.js';
import { ortLogits } from './ort-run.js';

const { values: o } = parseArgs({ options: {
  model: { type: 'string', default: path.join(repoRoot, 'runs', 'sweep-mrpc', 'lr=0.0001_epochs=5', 'seed-1', 'checkpoint-best') },
  out: { type: 'string', default: '/tmp/export-minilm' },
  'data-dir': { type: 'string' },
  'max-len': { type: 'string', default: '128' },
  'batch-size': { type: 'string', default: '32' },
} });
const maxLen = Number(o['max-len']), batchSize = Number(o['batch-size']);

let t0 = performance.now();
const exported = await exportModel({ model: o.model!, out: o.out!, quantize: 'int8' });
console.error(`exported ${o.model} -> ${exported.dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
  `(${exported.quantized.length} linears int8)`);

const mrpcDir = await locateMrpc(o['data-dir'], { allowDownload: false });
const data = taskDatasets('mrpc', mrpcDir);
const devFile = path.join(mrpcDir, 'dev.tsv');
const C = data.labels.length;
const gold = (examples: readonly EncodedExample[]): number[] => examples.map((e) => e.label);

interface Row { engine: string; dtype: string; accuracy: number; f1: number; maxDiff: number; agree: number; seconds: number; bytes?: number }
const rows: Row[] = [];

// bertfit fp32: the evaluate() API (what `bertfit eval` runs), and its logits on the same encodings for comparisons
t0 = performance.now();
const m = await evaluate({ model: o.model!, data: devFile, task: 'mrpc', maxLen, batchSize, threads: 1 });
const bertfitSeconds = (performance.now() - t0) / 1000;
const clf = await loadClassifier(o.model!, { maxLen, batchSize, threads: 1 });

// the exported directory's own tokenizer files: vocab.txt and the casing of tokenizer_config.json
const tokConfig = JSON.parse(readFileSync(path.join(exported.dir, 'tokenizer_config.json'), 'utf8')) as { do_lower_case: boolean };
const tokenizer = BertTokenizer.fromVocabFile(path.join(exported.dir, 'vocab.txt'), { lowerCase: tokConfig.do_lower_case });
const dev = encodeDataset(data.dev, tokenizer, data.labels, maxLen);
const reference = clf.run(dev);
const refClass = argmaxRows(reference, dev.length, C);
rows.push({ engine: 'bertfit', dtype: 'fp32', accuracy: m.accuracy!, f1: m.f1!, maxDiff: 0, agree: dev.length, seconds: bertfitSeconds });

/** Logits [N, C] from onnxruntime, batches of batchSize in dev order, each padded to its longest pair. */
async function devLogits(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const logits = new Float32Array(dev.length * C);
  for (let start = 0; start < dev.length; start += batchSize) {
    logits.set((await ortLogits(s, dev.slice(start, start + batchSize))).data, start * C);
  }
  await s.release();
  return logits;
}

for (const [dtype, file] of [['fp32', 'model.onnx'], ['int8', 'model_quantized.onnx']] as const) {
  const f = path.join(exported.dir, 'onnx', file);
  t0 = performance.now();
  const logits = await devLogits(f);
  const seconds = (performance.now() - t0) / 1000;
  const s = scoreOutputs(logits, gold(dev), { problemType: 'single_label_classification', numLabels: C }, 0);
  let maxDiff = 0;
  for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - reference[i]!));
  const cls = argmaxRows(logits, dev.length, C);
  const agree = cls.filter((c, i) => c === refClass[i]).length;
  rows.push({ engine: 'onnxruntime-node', dtype, accuracy: s.accuracy!, f1: s.f1!, maxDiff, agree, seconds, bytes: statSync(f).size });
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
console.log(`MRPC dev (${dev.length} pairs, max_len ${maxLen}, batch ${batchSize}, 1 thread): ${o.model}`);
console.log(machineLine());
console.log('');
console.log('| engine | dtype | accuracy | F1 | max abs logit diff vs bertfit | same class as bertfit | wall s | model file |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.engine} | ${r.dtype} | ${pct(r.accuracy)} | ${pct(r.f1)} | ${r.maxDiff.toExponential(2)} | ${r.agree}/${dev.length} | ` +
    `${r.seconds.toFixed(1)} | ${r.bytes ? `${(r.bytes / 2 ** 20).toFixed(1)} MiB` : '-'} |`);
}
