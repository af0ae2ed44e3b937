// Where the installed package lives, found from this file's own location (dist/src/util or src/util), so that
// assets, the addon and ../shared resolve the same from any working directory.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bertfit: cannot locate the package root (package.json + binding.gyp) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The bertfit package directory (holds package.json, binding.gyp, assets/, build/). */
export const packageRoot: string = findPackageRoot();

/** `../shared` beside the checkout (data, vocab, goldens that developers and CI have); may not exist for users. */
export const sharedDir: string = path.resolve(packageRoot, '..', 'shared');
