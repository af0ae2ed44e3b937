// MPI bindings for data-parallel training (native/mpi_api.cc; the TypeScript side is src/parallel/).
#pragma once
#include <napi.h>

namespace bertfit {

// True when the addon was compiled against an MPI library (scripts/detect-mpi.cjs found mpi.h).
bool mpi_compiled();

// Adds mpiInit, mpiFinalize, mpiBroadcast, mpiAllreduce, mpiBarrier and mpiAbort to the module's exports. Without
// MPI they exist too and throw an Error saying the addon was built without MPI.
void register_mpi(Napi::Env env, Napi::Object exports);

}  // namespace bertfit
