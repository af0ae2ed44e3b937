#!/usr/bin/env bash
# Prepares a fresh Debian machine for bertfit: system packages, the npm dependencies with the native addon
# built against the local Node headers, and (unless BERTFIT_SKIP_PULL=1) the pretrained MiniLM-L6 weights.
# BERTFIT_WITH_MPI=1 also installs Open MPI (libopenmpi-dev, openmpi-bin) for data-parallel training; the addon is
# built with MPI whenever its headers are installed, and rebuilt when they appeared after it was built.
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need=()
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || need+=(libdnnl-dev)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || command -v pip3 >/dev/null || need+=(python3-pip)
if [ "${BERTFIT_WITH_TORCH:-0}" = 1 ] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then need+=(python3-torch); fi
if [ "${BERTFIT_WITH_MPI:-0}" = 1 ]; then
  ls /usr/lib/*/openmpi/include/mpi.h >/dev/null 2>&1 || need+=(libopenmpi-dev)
  command -v mpirun >/dev/null || need+=(openmpi-bin)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

# node-gyp must use the headers of the Node that runs us, never download them.
node_prefix=$(node -p 'require("path").resolve(process.execPath, "..", "..")')
export npm_config_nodedir="$node_prefix"
# onnxruntime-node (a dev dependency, for the export tests) ships its CPU binaries; its installer must not fetch more.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -f build/Release/bertfit_native.node ] || [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  echo "setup: npm ci (builds the native addon against $node_prefix/include/node)"
  npm ci --no-audit --no-fund
fi
# Open MPI installed after the addon was built: rebuild it with the MPI bindings.
if [ "$(node scripts/detect-mpi.cjs)" = 1 ] && [ -f build/Release/bertfit_native.node ] &&
   ! node -e 'process.exit(require("./build/Release/bertfit_native.node").info().mpiCompiled ? 0 : 1)' 2>/dev/null; then
  echo "setup: rebuilding the native addon with MPI"
  node scripts/build-native.cjs
fi
npx tsc -p .

if [ "${BERTFIT_SKIP_PULL:-0}" != 1 ]; then
  node dist/src/cli/main.js pull minilm-l6
fi
