// `bertfit predict`: class predictions of a fine-tuned classifier, one JSON line per input example in input order:
// {"label": "...", "probs": [...], "logits": [...]}.
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { readDataset } from '../../data/dataset.js';
import { encodeDataset } from '../../data/encode.js';
import { openModel } from '../../model/open.js';
import { native } from '../../native/index.js';
import { evaluate, softmaxRow } from '../../train/evaluate.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { addDataOptions, datasetOptions, numberFlag, type DataFlags } from '../data-options.js';
import { UsageError } from '../errors.js';

interface PredictFlags extends DataFlags {
  model: string;
  data: string;
  out?: string;
  batchSize: string;
  maxLen?: string;
  dtype: 'fp32' | 'bf16';
  threads?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('predict with a fine-tuned classifier: one JSON line {"label","probs","logits"} per example, in input order')
    .requiredOption('--model <spec>', 'fine-tuned checkpoint directory (or any --model spec finetune takes)')
    .requiredOption('--data <file>', 'examples to classify (.tsv/.csv/.jsonl; JSON lines: text_a, optional text_b)')
    .option('--out <file>', 'write the JSON lines here instead of stdout')
    .option('--batch-size <n>', 'sequences per batch', '32')
    .option('--max-len <n>', 'max tokens per pair incl. [CLS]/[SEP], longer pairs are truncated (default: 128, or the ' +
      "model's max_position_embeddings if smaller)")
    .addOption(new Option('--dtype <dtype>', 'compute type: fp32, or bf16 GEMMs (fp32 accumulation)').choices(['fp32', 'bf16']).default('fp32'))
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  addDataOptions(cmd).action(async (f: PredictFlags) => {
    const batchSize = numberFlag('batch-size', f.batchSize, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!;
    const maxLenFlag = numberFlag('max-len', f.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3');
    if (f.threads) native.setThreads(numberFlag('threads', f.threads, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!);
    if (!existsSync(f.data)) throw new UsageError(`--data ${f.data}: no such file`);
    const { model, tokenizer, source } = await openModel(f.model, { seed: 0 });
    if (f.dtype === 'bf16') model.setComputeType('bf16');
    // A head initialised just now would make the predictions noise: refuse instead of printing them.
    if (model.newTensors.includes('classifier.weight')) {
      throw new Error(`${source} has no classifier head (it is a pre-trained, not a fine-tuned, model): ` +
        'fine-tune it first (bertfit finetune) and predict with the saved checkpoint');
    }
    const P = model.config.max_position_embeddings;
    if (maxLenFlag !== undefined && maxLenFlag > P) {
      throw new UsageError(`--max-len ${maxLenFlag} exceeds the model's max_position_embeddings ${P}`);
    }
    const maxLen = maxLenFlag ?? Math.min(128, P);

    const examples = encodeDataset(readDataset(f.data, datasetOptions(f, false)), tokenizer, null, maxLen);
    const { logits, predictions } = evaluate(model, examples, { batchSize, maxLen, padId: tokenizer.vocab.padId });
    const lines = formatPredictions(logits, predictions, model.config.num_labels, model.config.id2label);
    if (f.out) {
      writeFileAtomic(f.out, lines.join(''));
    } else {
      for (const line of lines) process.stdout.write(line);
    }
  });
}

/**
 * One JSON line per example.
 *
 * Args:
 *   logits: [N, C] in input order;  predictions: [N] argmax class;  id2label: class index -> name
 */
export function formatPredictions(logits: Float32Array, predictions: Int32Array, C: number,
  id2label: Record<string, string>): string[] {
  const lines: string[] = [];
  for (let i = 0; i < predictions.length; i++) {
    const row = logits.subarray(i * C, (i + 1) * C);
    const label = id2label[String(predictions[i])] ?? String(predictions[i]);
    lines.push(JSON.stringify({
      label, probs: softmaxRow(row, 0, C).map(shortF32), logits: Array.from(row, shortF32),
    }) + '\n');
  }
  return lines;
}

/** The shortest decimal that reads back as the same float32 (at most 9 significant digits). */
function shortF32(x: number): number {
  const f = Math.fround(x);
  for (let p = 6; p < 9; p++) {
    const y = Number(f.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return Number(f.toPrecision(9));
}
