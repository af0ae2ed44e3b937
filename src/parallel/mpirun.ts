// The mpirun command line `bertfit launch` runs: N processes of this Node running the bertfit CLI, with the flags
// data-parallel training wants and this environment's bertfit / OpenMP / Hugging Face settings forwarded to every
// machine (mpirun passes its own environment to the processes it starts locally, but to other machines only what
// -x names); and launchJob(), which runs it with a graceful stop.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';

/** bertfit's CLI entry (dist/src/cli/main.js), which every process runs. */
const cliPath = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface MpirunOptions {
  /** processes over all machines */
  processes: number;
  /** Open MPI hostfile: one machine per line, `host slots=K` */
  hostfile?: string;
  /** comma-separated hosts (host:slots) instead of a hostfile */
  hosts?: string;
  /** more processes than slots (cores) */
  oversubscribe?: boolean;
  /** let mpirun run as root (containers) */
  allowRunAsRoot?: boolean;
  /** further mpirun arguments, as given */
  extra?: readonly string[];
}

/** Environment variables forwarded to every process (-x): these prefixes, and NODE_OPTIONS. */
const FORWARDED = /^(BERTFIT_|OMP_|HF_|HUGGINGFACE_)|^NODE_OPTIONS$/;

/**
 * The mpirun argv for `bertfit <command...>` on o.processes processes.
 *
 * `--bind-to none`: mpirun binds each process to one core when it starts two or fewer, which would run all of a
 * process's OpenMP threads on that core; unbound, each process takes its machine's cores divided by the processes
 * there (defaultThreadsPerRank in src/api/finetune-parallel.ts). Node and the CLI are given by absolute path, so they must be installed at the same
 * path on every machine.
 *
 * Args:
 *   o: see MpirunOptions.
 *   node: the Node executable (process.execPath); cli: bertfit's main.js; command: the bertfit command and flags.
 *   env: the environment whose forwarded variables are exported (default process.env).
 * Returns: [mpirun's arguments], without the mpirun executable.
 */
export function mpirunArgs(o: MpirunOptions, node: string, cli: string, command: readonly string[],
  env: NodeJS.ProcessEnv = process.env): string[] {
  if (!(Number.isInteger(o.processes) && o.processes >= 1)) throw new RangeError(`processes must be a positive integer, got ${o.processes}`);
  const args = ['-np', String(o.processes)];
  if (o.hostfile) args.push('--hostfile', o.hostfile);
  if (o.hosts) args.push('--host', o.hosts);
  args.push('--bind-to', 'none');
  if (o.oversubscribe) args.push('--oversubscribe');
  if (o.allowRunAsRoot) args.push('--allow-run-as-root');
  for (const name of Object.keys(env).filter((k) => FORWARDED.test(k)).sort()) args.push('-x', name);
  args.push(...(o.extra ?? []), node, cli, ...command);
  return args;
}

export interface LaunchOptions extends MpirunOptions {
  /** the bertfit command to run on every process, with its flags: ['finetune', '--task', 'mrpc', ...] */
  command: readonly string[];
  /** the mpirun executable (default 'mpirun') */
  mpirun?: string;
}

/** A running data-parallel job (launchJob). */
export interface LaunchedJob {
  /**
   * The first call sends mpirun SIGUSR2, which it forwards to every process: they finish the step in progress, agree
   * to stop, rank 0 saves checkpoint-last and all exit 130. Later calls send SIGTERM (mpirun kills the job).
   * Returns: the signal sent.
   */
  stop(): 'SIGUSR2' | 'SIGTERM';
  /** mpirun's exit status (128 + the signal's number when a signal ended it); rejects when mpirun cannot start */
  exited: Promise<number>;
}

/**
 * Runs `mpirun ... node main.js <command>` (mpirunArgs) in its own process group, so that a terminal's Ctrl-C reaches
 * only this process, which decides what to relay with stop(): mpirun answers SIGINT / SIGTERM by killing the
 * processes one second later, too soon to finish a step and write checkpoint-last. mpirun's output is this process's.
 *
 * Throws: UsageError for a command other than finetune (the data-parallel one); RangeError for a bad process count.
 *   `exited` rejects with a UsageError when mpirun is not found.
 */
export function launchJob(o: LaunchOptions): LaunchedJob {
  if (o.command[0] !== 'finetune') {
    throw new UsageError(`launch runs \`finetune\` (the data-parallel command), got ${JSON.stringify(o.command[0])}`);
  }
  const mpirun = o.mpirun ?? 'mpirun';
  const child = spawn(mpirun, mpirunArgs(o, process.execPath, cliPath, o.command), { stdio: 'inherit', detached: true });
  let stops = 0;
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT'
        ? new UsageError(`${mpirun} was not found: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or give --mpirun`)
        : e);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1)));
  });
  return {
    stop: () => {
      const sig = stops++ === 0 ? 'SIGUSR2' : 'SIGTERM';
      child.kill(sig);
      return sig;
    },
    exited,
  };
}
