// `bertfit eval`: accuracy, F1, loss of a fine-tuned checkpoint on a labelled file, as one JSON object.
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { readDataset } from '../../data/dataset.js';
import { encodeDataset } from '../../data/encode.js';
import { TASK_NAMES } from '../../data/tasks.js';
import { native } from '../../native/index.js';
import { labelList } from '../../model/config.js';
import { openModel } from '../../model/open.js';
import { evaluate } from '../../train/evaluate.js';
import { addDataOptions, datasetOptions, numberFlag, type DataFlags } from '../data-options.js';
import { UsageError } from '../errors.js';

interface EvalFlags extends DataFlags {
  model: string;
  data: string;
  batchSize: string;
  maxLen: string;
  threads?: string;
  dtype?: 'fp32' | 'bf16';
}

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate a fine-tuned classifier on a labelled file: prints {"accuracy","f1","macro_f1","loss","examples"}')
    .requiredOption('--model <spec>', 'fine-tuned checkpoint directory (or any --model spec finetune takes)')
    .requiredOption('--data <file>', 'labelled data (.tsv/.csv/.jsonl)')
    .addOption(new Option('--task <name>', 'read --data with the columns of this GLUE task (e.g. MRPC dev.tsv)').choices([...TASK_NAMES]))
    .option('--batch-size <n>', 'sequences per batch', '32')
    .option('--max-len <n>', 'max tokens per pair', '128')
    .addOption(new Option('--dtype <dtype>', 'compute type').choices(['fp32', 'bf16']).default('fp32'))
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  addDataOptions(cmd).action(async (f: EvalFlags) => {
    const batchSize = numberFlag('batch-size', f.batchSize, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!;
    const maxLen = numberFlag('max-len', f.maxLen, (x) => Number.isInteger(x) && x >= 3, 'an integer >= 3')!;
    if (f.threads) native.setThreads(numberFlag('threads', f.threads, (x) => Number.isInteger(x) && x > 0, 'a positive integer')!);
    if (!existsSync(f.data)) throw new UsageError(`--data ${f.data}: no such file`);
    const { model, tokenizer } = await openModel(f.model, { seed: 0 });
    if (f.dtype === 'bf16') model.setComputeType('bf16');
    const labels = labelList(model.config.id2label);
    const examples = encodeDataset(readDataset(f.data, datasetOptions(f, true)), tokenizer, labels, maxLen);
    const res = evaluate(model, examples, { batchSize, maxLen, padId: tokenizer.vocab.padId });
    if (!res.metrics) throw new Error(`${f.data}: some examples have no label; eval needs a labelled file (use predict)`);
    console.log(JSON.stringify(res.metrics));
  });
}
