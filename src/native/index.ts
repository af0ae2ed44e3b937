// Loads the compiled addon (build/Release/bertfit_native.node) once and exposes it typed as NativeCore.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { NativeCore } from './api.js';

export type * from './api.js';

function findPackageRoot(): string {
  // dist/src/native/index.js -> package root is three levels up; src/native/index.ts (ts-run) two.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('bertfit: cannot locate the package root (binding.gyp) from ' + fileURLToPath(import.meta.url));
}

function load(): NativeCore {
  const root = findPackageRoot();
  const file = path.join(root, 'build', 'Release', 'bertfit_native.node');
  if (!existsSync(file)) {
    throw new Error(`bertfit: native addon not built (${file} is missing). Run \`npm install\` or \`npm run build:native\`.`);
  }
  // libgomp reads its settings when the addon loads it. Its default spin-waiting makes every parallel region wait
  // for a descheduled thread when the cores are shared (a laptop, a CI box, other jobs): measured here, a BERT-tiny
  // step took 0.87 s spinning and 0.05 s sleeping. Sleeping waits cost microseconds per region, nothing next to
  // a GEMM, so they are the default; set OMP_WAIT_POLICY=active to override on a dedicated machine.
  process.env.OMP_WAIT_POLICY ??= 'passive';
  const require = createRequire(import.meta.url);
  return require(file) as NativeCore;
}

export const native: NativeCore = load();
