#!/usr/bin/env node
// bertfit command-line entry point. Exit codes: 0 ok, 1 runtime failure, 2 usage error (see ./errors.ts).
//
// It checks the environment first and only then loads the commands (./program.ts): loading them loads the native
// core, which reads BERTFIT_THREADS as it loads, and an error thrown while a module loads escapes every try/catch
// as a stack trace.
import { checkEnvironment } from './env.js';
import { exitCodeFor, formatError } from './errors.js';
import { endQuietlyOnBrokenPipe } from './stdio.js';

endQuietlyOnBrokenPipe();
try {
  checkEnvironment();
  const { runCli } = await import('./program.js');
  const code = await runCli(process.argv);
  if (code !== undefined) process.exitCode = code;
} catch (e) {
  process.stderr.write(formatError(e) + '\n');
  process.exitCode = exitCodeFor(e);
}
