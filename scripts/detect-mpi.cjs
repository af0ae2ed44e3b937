// Finds an MPI implementation to build the addon's data-parallel bindings (native/mpi.cc) against.
//   node scripts/detect-mpi.cjs           prints "1" when mpi.h and its library are found, "0" otherwise
//   node scripts/detect-mpi.cjs --cflags  the compile flags (-I...), one per line; nothing when not found
//   node scripts/detect-mpi.cjs --libs    the link flags (-L... -lmpi), one per line; nothing when not found
// Asks the MPI compiler wrapper first (`mpicc --showme:compile` / `--showme:link`: Open MPI, as Debian's
// libopenmpi-dev installs it), then pkg-config (ompi, then mpich). BERTFIT_NO_MPI=1 builds without MPI, so that
// build (and its "built without MPI" error under mpirun) can be tested on any machine. No dependencies.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** stdout of a command split into flags, or null when it fails or is missing. */
function flags(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim().split(/\s+/).filter(Boolean);
}

/** {cflags, libs} of the first MPI found, or null. */
function detect() {
  if (process.env.BERTFIT_NO_MPI === '1') return null;
  const candidates = [
    () => { const c = flags('mpicc', ['--showme:compile']), l = flags('mpicc', ['--showme:link']); return c && l ? { cflags: c, libs: l } : null; },
    ...['ompi', 'mpich'].map((pkg) => () => {
      const c = flags('pkg-config', ['--cflags', pkg]), l = flags('pkg-config', ['--libs', pkg]);
      return c && l ? { cflags: c, libs: l } : null;
    }),
  ];
  for (const find of candidates) {
    const found = find();
    if (!found) continue;
    // The wrapper can outlive the headers (libopenmpi-dev removed, openmpi-bin kept): check mpi.h really is there.
    const includeDirs = found.cflags.filter((f) => f.startsWith('-I')).map((f) => f.slice(2));
    if (includeDirs.some((d) => fs.existsSync(path.join(d, 'mpi.h'))) || fs.existsSync('/usr/include/mpi.h')) return found;
  }
  return null;
}

const found = detect();
const mode = process.argv[2];
if (mode === '--cflags') { if (found) console.log(found.cflags.join('\n')); }
else if (mode === '--libs') { if (found) console.log(found.libs.join('\n')); }
else console.log(found ? '1' : '0');
