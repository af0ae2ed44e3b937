// Shared by test/checkpoint*.test.ts: where the committed fixtures are and what torch wrote into them.
// The fixtures and reference.json come from scripts/make_checkpoint_fixtures.py (torch 1.13).
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './model-helpers.js';
import { tempDir } from './train-helpers.js';

export { repoRoot };

export const fixtures = path.join(repoRoot, 'fixtures', 'checkpoints');
export const fixture = (...p: string[]): string => path.join(fixtures, ...p);

/** canonical name -> float32 values torch wrote: "f32" for most fixtures, "half" for the float16/bfloat16 one. */
export const reference: Record<'f32' | 'half', Map<string, Float32Array>> = (() => {
  const raw = JSON.parse(readFileSync(fixture('reference.json'), 'utf8')) as Record<string, Record<string, number[]>>;
  const conv = (o: Record<string, number[]>) => new Map(Object.entries(o).map(([k, v]) => [k, Float32Array.from(v)]));
  return { f32: conv(raw.f32), half: conv(raw.half) };
})();

/** Bit-exact equality (so -0 vs 0 and NaN payloads count), with the tensor name in the failure. */
export function assertSameBits(got: Float32Array, want: Float32Array, name: string): void {
  assert.equal(got.length, want.length, `${name}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${name}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** A fresh temporary directory (train-helpers' tempDir) with its cleanup function, for one test. */
export function scratchDir(prefix = 'bertfit-ckpt-'): { dir: string; cleanup: () => void } {
  const dir = tempDir(prefix);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Copies fixture directory `name` to `dest`, leaving out `omit` files. */
export function copyFixture(name: string, dest: string, omit: string[] = []): string {
  cpSync(fixture(name), dest, { recursive: true, filter: (src) => !omit.includes(path.basename(src)) });
  return dest;
}
