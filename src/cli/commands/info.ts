// `bertfit info`: what the native core runs on (GEMM backend, version, threads, CPU features, MPI).
import type { Command } from 'commander';
import os from 'node:os';

export function register(program: Command): void {
  program
    .command('info')
    .description('show the compute backend (oneDNN or built-in GEMM), its version, thread count and CPU features')
    .option('--json', 'print one JSON object instead of text')
    .action(async (opts: { json?: boolean }) => {
      const { native } = await import('../../native/index.js');
      const info = native.info();
      const out = {
        bertfit: '0.1.0', node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, ...info,
      };
      if (opts.json) {
        console.log(JSON.stringify(out));
        return;
      }
      console.log(`bertfit ${out.bertfit} on Node ${out.node}`);
      console.log(`CPU:          ${out.cpu} (${out.cores} cores)`);
      console.log(`GEMM backend: ${info.backend}${info.backend === 'onednn' ? ` ${info.version}` : ''}` +
        `${info.onednnCompiled ? '' : ' (oneDNN not installed at build time: built-in blocked GEMM)'}`);
      if (info.isa) console.log(`oneDNN ISA:   ${info.isa}`);
      console.log(`threads:      ${info.threads} (BERTFIT_THREADS to change)`);
      console.log(`MPI:          ${info.mpiCompiled ? 'compiled in: `mpirun -np N bertfit finetune ...` trains data-parallel'
        : 'not compiled in (no mpi.h at build time; Debian: libopenmpi-dev, then rebuild)'}`);
      console.log(`CPU features: ${info.cpuFeatures.join(' ')}`);
    });
}
