// The mpirun command line `bertfit launch` runs: N processes of this Node running the bertfit CLI, with the flags
// data-parallel training wants and this environment's bertfit / OpenMP / Hugging Face settings forwarded to every
// machine (mpirun passes its own environment to the processes it starts locally, but to other machines only what
// -x names).

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
 * there (src/api/parallel.ts). Node and the CLI are given by absolute path, so they must be installed at the same
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
