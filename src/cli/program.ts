// The bertfit command line: each subcommand lives in ./commands/<name>.ts and exports `register(program)`. Loaded by
// ./main.ts once the environment is checked (importing it loads the native core).
import { Command, CommanderError } from 'commander';
import { register as registerInfo } from './commands/info.js';
import { register as registerFinetune } from './commands/finetune.js';
import { register as registerEval } from './commands/eval.js';
import { register as registerPredict } from './commands/predict.js';
import { register as registerBench } from './commands/bench.js';
import { register as registerTokenize } from './commands/tokenize.js';
import { register as registerPull } from './commands/pull.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerSweep } from './commands/sweep.js';
import { register as registerExport } from './commands/export.js';
import { register as registerLaunch } from './commands/launch.js';

/**
 * Parses argv and runs the command. Returns the exit code commander decided (help / version 0, its own usage
 * errors 2), or undefined when the command ran (it sets process.exitCode itself where it is not 0).
 * Throws: whatever the command throws (main.ts maps it to a message and an exit code).
 */
export async function runCli(argv: string[]): Promise<number | undefined> {
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
  registerExport(program);
  registerLaunch(program);

  try {
    await program.parseAsync(argv);
    return undefined;
  } catch (e) {
    // help / version print and exit 0; everything else commander reports is a usage error.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
}
