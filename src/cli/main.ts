#!/usr/bin/env node
// bertfit command-line entry point. Each subcommand lives in ./commands/<name>.ts and exports
// `register(program)`. Exit codes: 0 ok, 1 runtime failure, 2 usage error (see ./errors.ts).
import { Command, CommanderError } from 'commander';
import { exitCodeFor, formatError } from './errors.js';
import { register as registerInfo } from './commands/info.js';
import { register as registerFinetune } from './commands/finetune.js';
import { register as registerEval } from './commands/eval.js';
import { register as registerPredict } from './commands/predict.js';
import { register as registerBench } from './commands/bench.js';
import { register as registerTokenize } from './commands/tokenize.js';
import { register as registerPull } from './commands/pull.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerSweep } from './commands/sweep.js';
import { register as registerLaunch } from './commands/launch.js';

const program = new Command();
program
  .name('bertfit')
  .description('Fine-tune and serve BERT-family sentence(-pair) classifiers on the CPU, in Node.js.')
  .version('0.1.0')
  .showHelpAfterError()
  // launch passes everything after its command name to that command (passThroughOptions needs this)
  .enablePositionalOptions()
  .exitOverride();

registerInfo(program);
registerFinetune(program);
registerEval(program);
registerPredict(program);
registerBench(program);
registerTokenize(program);
registerPull(program);
registerServe(program);
registerSweep(program);
registerLaunch(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help / version print and exit 0; everything else commander reports is a usage error.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(formatError(e) + '\n');
    process.exitCode = exitCodeFor(e);
  }
}
