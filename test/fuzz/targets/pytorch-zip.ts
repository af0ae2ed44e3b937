// Fuzz target: pytorch_model.bin as a container (src/model/checkpoint/zip.ts and torch.ts): zip directories, extra
// fields, declared sizes, deflate streams, and the legacy (non-zip) layout. A third of the cases edit bytes
// anywhere; the rest rebuild the archive with one structural change, so CRCs hold and the edit gets past them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { assertFinite } from '../../../src/model/checkpoint/finite.js';
import { isFloatDType } from '../../../src/model/checkpoint/tensor.js';
import { parseTorchCheckpoint } from '../../../src/model/checkpoint/torch.js';
import { readZip } from '../../../src/model/checkpoint/zip.js';
import { packageRoot } from '../../../src/util/paths.js';
import { tinyTensors, torchLegacy, torchZip, zipArchive, type ZipInput } from '../build.js';
import { mutateBytes } from '../mutate.js';
import type { Rng } from '../rng.js';
import type { FuzzTarget } from '../runner.js';

const FILE = 'fuzz/pytorch_model.bin';
/** Storage bytes a case may declare: enough for every seed, small enough that 1,000 cases stay fast. */
const LIMITS = { maxStorageBytes: 16 << 20 };

/** The entries of a zip seed, or null for a legacy file (or one already too broken to list). */
export function zipEntries(bytes: Buffer): ZipInput[] | null {
  try {
    return [...readZip(bytes, FILE).values()].map((e) => ({ name: e.name, data: e.read() }));
  } catch {
    return null;
  }
}

const SIZES = [0, 1, 3, 0x7fffffff, 0xffffffff, 0xfffffffe, 1 << 20, 1 << 30];

function restructure(entries: ZipInput[], rng: Rng): ZipInput[] {
  const out = entries.map((e) => ({ ...e }));
  const e = rng.pick(out);
  switch (rng.int(7)) {
    case 0: out.splice(out.indexOf(e), 1); break;
    case 1: out.push({ ...e }); break;
    case 2: e.name = rng.pick(['data.pkl', 'archive/data.pkl', `${e.name}/x`, '', 'archive/data/99', e.name + '\u0000']); break;
    case 3: e.declaredSize = rng.pick([...SIZES, e.data.length + 1, e.data.length * 1000]); break;
    case 4: e.deflate = !e.deflate; break;
    case 5: { // an extra field, well-formed or not (zip64 id 0x0001 with too few bytes, a length past the end, ...)
      const x = Buffer.alloc(rng.int(24));
      if (x.length >= 4) {
        x.writeUInt16LE(rng.pick([0x0001, 0x5455, 0x000a, rng.int(65536)]), 0);
        x.writeUInt16LE(rng.pick([0, 4, 8, 16, x.length - 4, 0xffff]), 2);
      }
      e.extra = x;
      break;
    }
    case 6: e.data = Buffer.alloc(rng.pick([0, 1, e.data.length + 4, 1 << 16]), rng.pick([0, 0xff])); break;
  }
  return out;
}

export const target: FuzzTarget = {
  name: 'pytorch-zip',
  seeds: () => {
    const t = tinyTensors().slice(0, 5);
    const fixture = (...p: string[]) => readFileSync(path.join(packageRoot, 'fixtures', 'checkpoints', ...p));
    return [torchZip(t), torchZip(t, true), torchLegacy(t), fixture('bert-cls', 'pytorch_model.bin'),
      fixture('evil-pickle', 'pytorch_model.bin')];
  },
  mutate: (seed, rng, corpus) => {
    const entries = rng.chance(0.67) ? zipEntries(seed) : null;
    if (!entries) return mutateBytes(seed, rng, rng.pick(corpus));
    let out = entries;
    for (let k = 1 + rng.int(2); k > 0; k--) out = restructure(out, rng);
    return zipArchive(out);
  },
  run: (input) => {
    // As the loader does: only floating-point tensors are decoded (integer ones are buffers it skips).
    for (const [name, t] of parseTorchCheckpoint(input, FILE, LIMITS)) {
      if (isFloatDType(t.dtype)) assertFinite(t.toFloat32(), `${FILE}: tensor ${name}`);
    }
  },
};
