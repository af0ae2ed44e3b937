// Fuzz target: model.safetensors (src/model/checkpoint/safetensors.ts), decoded tensor by tensor with the loader's
// non-finite check. Half the cases edit the JSON header (and re-frame it), half edit bytes anywhere.
import { assertFinite } from '../../../src/model/checkpoint/finite.js';
import { encodeSafetensors, parseSafetensors } from '../../../src/model/checkpoint/safetensors.js';
import { isFloatDType } from '../../../src/model/checkpoint/tensor.js';
import { tinyTensors } from '../build.js';
import { mutateBytes, mutateJson } from '../mutate.js';
import type { FuzzTarget } from '../runner.js';

const FILE = 'fuzz/model.safetensors';

/** A safetensors file from a header object and a data buffer (no checks: seeds may use any dtype). */
function frame(header: string, data: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  return Buffer.concat([len, Buffer.from(header), data]);
}

export const target: FuzzTarget = {
  name: 'safetensors',
  seeds: () => {
    const t = tinyTensors().slice(0, 6);
    const mixed = frame(JSON.stringify({
      __metadata__: { format: 'pt' },
      a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
      b: { dtype: 'F64', shape: [2], data_offsets: [8, 24] },
      c: { dtype: 'I64', shape: [1], data_offsets: [24, 32] },
      d: { dtype: 'BF16', shape: [0, 3], data_offsets: [32, 32] },
    }), Buffer.from(Float64Array.from([0.5, -2, 1, 3, 7]).buffer));
    return [encodeSafetensors(t), encodeSafetensors(t, { dtype: 'BF16' }), mixed];
  },
  mutate: (seed, rng, corpus) => {
    if (rng.chance(0.5) || seed.length < 8) return mutateBytes(seed, rng, rng.pick(corpus));
    const n = Number(seed.readBigUInt64LE(0));
    let header = seed.toString('utf8', 8, 8 + n);
    for (let k = 1 + rng.int(2); k > 0; k--) header = mutateJson(header, rng);
    return frame(header, seed.subarray(8 + n));
  },
  run: (input) => {
    const f = parseSafetensors(input, FILE);
    for (const [name, t] of f.tensors) if (isFloatDType(t.dtype)) assertFinite(t.toFloat32(), `${FILE}: tensor ${name}`);
  },
};
