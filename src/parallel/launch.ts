// Whether an MPI launcher started this process, read from the environment it sets for each process.

/** This process's place in a job as its launcher announced it (before MPI is initialised). */
export interface Launch {
  /** who started us, for messages: 'mpirun (Open MPI)' or 'an MPI launcher (PMI)' */
  launcher: string;
  rank: number;
  size: number;
}

/**
 * The launch this process belongs to, or null when no MPI launcher started it.
 *
 * Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE / OMPI_COMM_WORLD_RANK; MPICH's and Intel MPI's mpiexec (and srun
 * with PMI) set PMI_SIZE / PMI_RANK. Reading them needs no MPI, so a build without MPI can still tell that it was
 * launched as one of several processes and refuse, instead of training N unrelated copies of the model.
 *
 * Args:
 *   env: the environment (default process.env).
 */
export function launchedWorld(env: NodeJS.ProcessEnv = process.env): Launch | null {
  const read = (sizeVar: string, rankVar: string, launcher: string): Launch | null => {
    const size = Number(env[sizeVar]);
    if (!env[sizeVar] || !Number.isInteger(size) || size < 1) return null;
    const rank = Number(env[rankVar] ?? '0');
    return { launcher, size, rank: Number.isInteger(rank) && rank >= 0 ? rank : 0 };
  };
  return read('OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'mpirun (Open MPI)')
    ?? read('PMI_SIZE', 'PMI_RANK', 'an MPI launcher (PMI)');
}
