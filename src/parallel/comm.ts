// The process group a data-parallel run trains in: MPI_COMM_WORLD through the native addon when an MPI launcher
// started several processes, or this process alone. Training code calls the same methods either way; alone, every
// collective is the identity.
import { native } from '../native/index.js';
import type { MpiWorld } from '../native/api.js';
import { DistributedError } from './errors.js';
import { type Launch, launchedWorld } from './launch.js';

export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * A group of processes that run the same program in lockstep (every collective is called by all, in order).
 * Where this process sits in it is MpiWorld's fields: rank 0 .. size-1 (rank 0 logs and writes the outputs), its
 * localRank / localSize on its machine, its host, and the MPI library ('' alone).
 */
export interface Comm extends Readonly<MpiWorld> {
  /** Copies root's bytes of buf into buf on every rank (same byte length everywhere). */
  broadcast(buf: ArrayBufferView, root: number): void;
  /** buf = op over the ranks' bufs, element-wise, in place. */
  allreduce(buf: Float32Array | Float64Array, op: ReduceOp): void;
  barrier(): void;
  /** Ends every process of the group with exit status `code`; does not return. */
  abort(code: number): never;
}

/** This process alone. */
export const LOCAL: Comm = {
  rank: 0, size: 1, localRank: 0, localSize: 1, host: 'localhost', library: '',
  broadcast: () => {},
  allreduce: () => {},
  barrier: () => {},
  abort: (code) => process.exit(code),
};

/** MPI_COMM_WORLD through the addon (native/mpi_api.cc). */
function mpiComm(): Comm {
  const here = native.mpiInit();
  // Every rank must finalise (Open MPI reports a rank that exits without it as a failure of the job); a rank that
  // fails mid-run calls abort instead, which never gets here.
  process.once('exit', () => native.mpiFinalize());
  return {
    ...here,
    broadcast: (buf, root) => native.mpiBroadcast(buf, root),
    allreduce: (buf, op) => native.mpiAllreduce(buf, op),
    barrier: () => native.mpiBarrier(),
    abort: (code) => native.mpiAbort(code),
  };
}

/**
 * Refuses a launch this build cannot serve: several processes, but an addon without MPI would make each train its
 * own copy of the model (and write the same output directory).
 *
 * Args:
 *   launch: what the launcher's environment says (launchedWorld), or null.
 *   mpiCompiled: whether the addon has MPI (native.info().mpiCompiled).
 * Throws: DistributedError naming what to install and rebuild.
 */
export function checkLaunch(launch: Launch | null, mpiCompiled: boolean): void {
  if (!launch || launch.size <= 1 || mpiCompiled) return;
  throw new DistributedError(`${launch.launcher} started this process as rank ${launch.rank} of ${launch.size}, but this ` +
    "bertfit's native addon was built without MPI (no mpi.h was found when it was built), so each process would train " +
    "its own copy of the model. Install Open MPI's development files (Debian: apt-get install libopenmpi-dev), rebuild " +
    'the addon (npm rebuild bertfit, or npm run build:native in a checkout; `bertfit info` then says "MPI: compiled in") ' +
    'and launch again.');
}

let world: Comm | null = null;

/**
 * The group this process belongs to: MPI_COMM_WORLD when an MPI launcher started more than one process (MPI is
 * initialised on the first call and finalised at exit), else LOCAL. The same object on every call.
 *
 * Throws: DistributedError when launched as several processes with an addon built without MPI.
 */
export function worldComm(): Comm {
  if (world) return world;
  const launch = launchedWorld();
  checkLaunch(launch, native.info().mpiCompiled);
  world = launch && launch.size > 1 ? mpiComm() : LOCAL;
  return world;
}
