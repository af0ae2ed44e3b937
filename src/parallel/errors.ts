// The error of a data-parallel job that cannot go on: the launch and the build disagree, or the ranks do.

/**
 * A problem of the parallel job as a whole (not of one input): mpirun started a build without MPI, the ranks read
 * different data or settings, or their weights drifted apart. The CLI reports its message and exits with 1; in a
 * running job every rank is stopped (see abortJob).
 */
export class DistributedError extends Error {
  override name = 'DistributedError';
}
