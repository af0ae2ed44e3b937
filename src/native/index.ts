// Loads the compiled addon (build/Release/bertfit_native.node) once and exposes it typed as NativeCore.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NativeCore } from './api.js';
import { packageRoot } from '../util/paths.js';

export type * from './api.js';

function load(): NativeCore {
  const root = packageRoot;
  const file = path.join(root, 'build', 'Release', 'bertfit_native.node');
  if (!existsSync(file)) {
    throw new Error(`bertfit: native addon not built (${file} is missing). Run \`npm rebuild bertfit\` where it is installed (\`npm run build:native\` in a checkout).`);
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
