// `bertfit predict`: class predictions of a fine-tuned classifier, one JSON line per input example in input order:
// {"label": "...", "probs": [...], "logits": [...]}.
import { statSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { OptionError } from '../../errors.js';
import { predictFile } from '../../api/evaluate.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { addDataOptions, dataFileOptions, numberFlag, type DataFlags } from '../data-options.js';

interface PredictFlags extends DataFlags {
  model: string;
  data: string;
  out?: string;
  batchSize: string;
  maxLen?: string;
  dtype: 'fp32' | 'bf16';
  threads?: string;
  threshold?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('predict with a fine-tuned classifier: one JSON line {"label","probs","logits"} per example, in input order')
    .requiredOption('--model <spec>', 'fine-tuned checkpoint directory (or any --model spec finetune takes)')
    .requiredOption('--data <file>', 'examples to classify (.tsv/.csv/.jsonl; JSON lines: text_a, optional text_b)')
    .option('--out <file>', 'write the JSON lines here instead of stdout')
    .option('--batch-size <n>', 'sequences per batch', '32')
    .option('--max-len <n>', "max tokens per pair incl. [CLS]/[SEP], longer pairs are truncated (default: the model's max_position_embeddings)")
    .addOption(new Option('--dtype <dtype>', 'compute type: fp32, or bf16 GEMMs (fp32 accumulation)').choices(['fp32', 'bf16']).default('fp32'))
    .option('--threshold <x>', 'multi-label models: a label is predicted when its probability is >= x (default: 0.5)')
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  addDataOptions(cmd).action(async (f: PredictFlags) => {
    // writing the predictions over the file they are made from would destroy it (the write is atomic: it would succeed)
    if (f.out !== undefined && sameFile(f.out, f.data)) {
      throw new OptionError('out', `${f.out} is the input file (--data ${f.data}); write the predictions to another file`);
    }
    const predictions = await predictFile({
      ...dataFileOptions(f), model: f.model, data: f.data, dtype: f.dtype, batchSize: numberFlag('batch-size', f.batchSize),
      maxLen: numberFlag('max-len', f.maxLen), threads: numberFlag('threads', f.threads), threshold: numberFlag('threshold', f.threshold),
    });
    const lines = predictions.map((p) => JSON.stringify({
      label: p.label, ...(p.score !== undefined ? { score: shortF32(p.score) } : {}), ...(p.labels ? { labels: p.labels } : {}),
      probs: p.probs.map(shortF32), logits: p.logits.map(shortF32),
    }) + '\n');
    if (f.out) {
      writeFileAtomic(f.out, lines.join(''));
    } else {
      for (const line of lines) process.stdout.write(line);
    }
  });
}

/** Whether paths a and b name the same file (the same inode: links and different spellings count). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a), y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
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
