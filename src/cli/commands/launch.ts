// `bertfit launch -n N [--hostfile F] finetune ...`: data-parallel training over N processes (on one or several
// machines) through Open MPI. A thin wrapper: it runs `mpirun ... node main.js finetune ...` (src/parallel/mpirun.ts),
// which is also what a user can type; what it adds is a graceful Ctrl-C. mpirun answers Ctrl-C by sending SIGTERM and
// killing the processes one second later, too soon to finish a step and write checkpoint-last; launch runs mpirun in
// its own process group and turns the first Ctrl-C into SIGUSR2, which mpirun forwards to every process and each
// treats as "stop after this step" (they agree on the step, rank 0 saves checkpoint-last, all exit 130). A second
// Ctrl-C sends mpirun SIGTERM (mpirun then kills the job).
import type { Command } from 'commander';
import { launchJob, type LaunchedJob } from '../../parallel/mpirun.js';
import { UsageError } from '../../errors.js';
import { numberFlag } from '../data-options.js';

interface LaunchFlags {
  np: string;
  hostfile?: string;
  host?: string;
  oversubscribe?: boolean;
  allowRunAsRoot?: boolean;
  mpirunArg: string[];
  mpirun: string;
}

export function register(program: Command): void {
  program
    .command('launch')
    .description('train data-parallel on several processes or machines: runs `mpirun -np N ... bertfit finetune ...` ' +
      '(Open MPI; plain mpirun works too); Ctrl-C stops every process after its current step with checkpoint-last saved')
    .requiredOption('-n, --np <n>', 'number of processes over all machines')
    .option('--hostfile <file>', 'Open MPI hostfile: one machine per line, `name slots=<processes there>`')
    .option('--host <list>', 'comma-separated machines instead of a hostfile, e.g. node1:1,node2:1')
    .option('--oversubscribe', 'allow more processes than a machine has cores (testing on one machine)')
    .option('--allow-run-as-root', 'let mpirun run as root (containers; Open MPI refuses otherwise)')
    .option('--mpirun-arg <arg>', 'one more mpirun argument, repeatable (e.g. --mpirun-arg=--mca --mpirun-arg=btl_tcp_if_include --mpirun-arg=eth0)',
      (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--mpirun <path>', 'the mpirun to run', 'mpirun')
    .argument('<command...>', 'the bertfit command to run on every process, with its flags: finetune ...')
    .passThroughOptions()
    .action(async (command: string[], f: LaunchFlags) => {
      const np = numberFlag('np', f.np)!;
      if (!(Number.isInteger(np) && np >= 1)) throw new UsageError(`--np must be a positive integer, got "${f.np}"`);
      const job = launchJob({
        processes: np, hostfile: f.hostfile, hosts: f.host, oversubscribe: f.oversubscribe, allowRunAsRoot: f.allowRunAsRoot,
        extra: f.mpirunArg, mpirun: f.mpirun, command,
      });
      process.exitCode = await relayStops(job);
    });
}

/** Relays Ctrl-C / SIGTERM to the job as described above until mpirun exits; resolves to its exit status. */
async function relayStops(job: LaunchedJob): Promise<number> {
  const relay = () => {
    if (job.stop() === 'SIGUSR2') {
      process.stderr.write('bertfit launch: stopping every process after its current step (checkpoint-last is saved); Ctrl-C again to kill the job\n');
    }
  };
  process.on('SIGINT', relay);
  process.on('SIGTERM', relay);
  try {
    return await job.exited;
  } finally {
    process.off('SIGINT', relay);
    process.off('SIGTERM', relay);
  }
}
