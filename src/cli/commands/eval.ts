// `bertfit eval`: accuracy, F1, loss of a fine-tuned checkpoint on a labelled file, as one JSON object.
// Flags -> evaluate() (src/api/evaluate.ts).
import { Option, type Command } from 'commander';
import { evaluate } from '../../api/evaluate.js';
import { TASK_NAMES } from '../../data/tasks.js';
import { addDataOptions, dataFileOptions, numberFlag, type DataFlags } from '../data-options.js';

interface EvalFlags extends DataFlags {
  model: string;
  data: string;
  batchSize: string;
  maxLen?: string;
  threads?: string;
  threshold?: string;
  labelSep?: string;
  dtype?: 'fp32' | 'bf16';
}

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate a fine-tuned model on a labelled file: prints its metrics as JSON ({"accuracy","f1","macro_f1","mcc","loss","examples"}; ' +
      'regression: pearson, spearman, mse; multi-label: micro_f1, macro_f1, exact_match)')
    .requiredOption('--model <spec>', 'fine-tuned checkpoint directory (or any --model spec finetune takes)')
    .requiredOption('--data <file>', 'labelled data (.tsv/.csv/.jsonl)')
    .addOption(new Option('--task <name>', 'read --data with the columns of this GLUE task (e.g. MRPC dev.tsv)').choices([...TASK_NAMES]))
    .option('--batch-size <n>', 'sequences per batch', '32')
    .option('--max-len <n>', "max tokens per pair incl. [CLS]/[SEP], longer pairs are truncated (default: the model's max_position_embeddings)")
    .addOption(new Option('--dtype <dtype>', 'compute type').choices(['fp32', 'bf16']).default('fp32'))
    .option('--label-sep <sep>', 'multi-label TSV/CSV: the label column lists labels split by this string')
    .option('--threshold <x>', 'multi-label models: a label is predicted when its probability is >= x (default: 0.5)')
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  addDataOptions(cmd).action(async (f: EvalFlags) => {
    const metrics = await evaluate({
      ...dataFileOptions(f), model: f.model, data: f.data, dtype: f.dtype, batchSize: numberFlag('batch-size', f.batchSize),
      maxLen: numberFlag('max-len', f.maxLen), threads: numberFlag('threads', f.threads), threshold: numberFlag('threshold', f.threshold), labelSep: f.labelSep,
    });
    console.log(JSON.stringify(metrics));
  });
}
