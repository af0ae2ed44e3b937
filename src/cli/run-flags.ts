// The flags that say what to fine-tune and how to run it, shared by `finetune` and `sweep`. The training settings a
// sweep can search (lr, epochs, ...) are registered by each command: finetune takes one value, sweep lists and ranges.
import { Option, type Command } from 'commander';
import type { FinetuneOptions } from '../api/finetune.js';
import { TASK_NAMES } from '../data/tasks.js';
import { PROBLEM_TYPES } from '../model/config.js';
import { RECIPES } from '../train/recipes.js';
import { addDataOptions, dataFileOptions, numberFlag, type DataFlags } from './data-options.js';

export interface RunFlags extends DataFlags {
  model: string;
  recipe: string;
  dataDir?: string;
  train?: string;
  dev?: string;
  test?: string;
  labels?: string;
  out: string;
  logEvery?: string;
  metric?: string;
  problem?: FinetuneOptions['problem'];
  labelSep?: string;
  shuffle?: boolean;
  bucketing?: boolean;
  eval?: boolean;
  skipEmpty?: boolean;
  threads?: string;
}

/** Registers the shared flags; `texts` adapts the help of those whose meaning differs between the commands. */
export function addRunFlags(cmd: Command, texts: { out: [string, string]; dev: string; test: string }): Command {
  cmd
    .option('--model <spec>', 'checkpoint directory, a `bertfit pull` name (minilm-l6), a Hugging Face id, or random:tiny|mini|small|medium|base', 'bert-base-uncased')
    .addOption(new Option('--recipe <name>', 'settings preset; flags override it (default = AdamW, warmup + linear decay, lr 2e-5 x 3 epochs, or lr 1e-4 x 5 epochs for models of hidden size <= 512; tutorial = the GluonNLP MRPC tutorial exactly: trains on MRPC dev)').choices(Object.keys(RECIPES)).default('default'))
    .addOption(new Option('--task <name>', 'a GLUE task in its published layout, from --data-dir, ../shared/data/glue-<task> (mrpc: ../shared/data/mrpc) or the cache; ' +
      'test splits are predicted into GLUE submission files (CoLA.tsv, MNLI-m.tsv, ...)').choices([...TASK_NAMES]))
    .option('--data-dir <dir>', 'GLUE-layout directory for --task (default: ../shared/data/<task dir> beside the checkout, the cache, or for MRPC a verified download)')
    .option('--train <file>', 'training data (.tsv/.csv/.jsonl) instead of --task')
    .option('--dev <file>', texts.dev)
    .option('--test <file>', texts.test)
    .option('--labels <list>', 'comma-separated label set (index = class id; default: from the training data, numeric order when numeric)')
    .option('--out <dir>', texts.out[0], texts.out[1])
    .option('--log-every <n>', 'log every N optimizer steps (default: 10; tutorial: 4)')
    .option('--metric <name>', 'dev metric that selects checkpoint-best: accuracy, f1, macro_f1, mcc; pearson, spearman (regression); ' +
      "micro_f1, macro_f1, exact_match (multi-label) (default: the task's main metric, else the first for the problem type)")
    .addOption(new Option('--problem <type>', 'the head: single-label classification, regression (numeric labels, MSE), or multi-label ' +
      "(label lists, sigmoid + BCE) (default: the task's; multi-label when labels are lists)").choices([...PROBLEM_TYPES]))
    .option('--label-sep <sep>', 'multi-label TSV/CSV: the label column lists labels split by this string (e.g. "|")')
    .option('--no-shuffle', 'keep the training file order instead of reshuffling every epoch')
    .option('--bucketing', 'group similar lengths into batches (full batches, shuffled) (default: off)')
    .option('--no-eval', 'skip the per-epoch dev evaluation')
    .option('--skip-empty', 'skip training/dev rows whose text is empty (counted and reported) instead of refusing the file')
    .option('--threads <n>', 'compute threads (default: BERTFIT_THREADS or all cores)');
  return addDataOptions(cmd);
}

/** The FinetuneOptions the shared flags give (numbers parsed here, everything checked by the library). */
export function runOptionsFrom(f: RunFlags): FinetuneOptions {
  const o: FinetuneOptions = { ...dataFileOptions(f), model: f.model, recipe: f.recipe, out: f.out };
  if (f.dataDir) o.dataDir = f.dataDir;
  if (f.train) o.train = f.train;
  if (f.dev) o.dev = f.dev;
  if (f.test) o.test = f.test;
  if (f.labels) o.labels = f.labels.split(',').map((l) => l.trim());
  if (f.metric) o.metric = f.metric;
  if (f.problem) o.problem = f.problem;
  if (f.labelSep !== undefined) o.labelSep = f.labelSep;
  if (f.bucketing) o.bucketing = true;
  if (f.shuffle === false) o.shuffle = false;
  if (f.eval === false) o.eval = false;
  if (f.skipEmpty) o.skipEmpty = true;
  const logEvery = numberFlag('log-every', f.logEvery), threads = numberFlag('threads', f.threads);
  if (logEvery !== undefined) o.logEvery = logEvery;
  if (threads !== undefined) o.threads = threads;
  return o;
}

/**
 * Runs `work` with an AbortSignal that Ctrl-C / SIGTERM fire: the library then stops within the step in progress,
 * saves checkpoint-last (the state after the last completed step) and returns. A second Ctrl-C / SIGTERM exits at
 * once (exit code 130 / 143): checkpoint saves are atomic, so what is on disk is the last good checkpoint, and the
 * output directory's lock is released by the exit.
 * SIGUSR2 too: mpirun forwards it to every process of a job (it turns Ctrl-C into SIGTERM plus a kill one second
 * later), so `bertfit launch` and `kill -USR2 <mpirun's pid>` stop a data-parallel run gracefully with it (the
 * processes agree on the step to stop after); a second one exits at once (exit code 140).
 */
export async function withStopSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const handler = (name: 'SIGINT' | 'SIGTERM' | 'SIGUSR2', code: number) => () => {
    if (!stop.signal.aborted) {
      const again = name === 'SIGINT' ? 'Ctrl-C' : name;
      process.stderr.write(`bertfit: ${name}: stopping at the next step boundary to save checkpoint-last ` +
        `(${again} again to exit at once)\n`);
      stop.abort(name);
      return;
    }
    if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');   // the progress bar hid the cursor
    process.stderr.write(`bertfit: ${name} again: exiting now; the last saved checkpoint is kept\n`);
    process.exit(code);
  };
  const handlers = ([['SIGINT', 130], ['SIGTERM', 143], ['SIGUSR2', 140]] as const)
    .map(([sig, code]) => [sig, handler(sig, code)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    return await work(stop.signal);
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}
