// Element types a checkpoint file can hold, and their decoding into the Float32Array the model computes in.
// Decoding is lazy (TensorEntry.toFloat32) so tensors the loader drops, such as a BERT-base pre-training head's
// 23M-element decoder, are never converted.
import { endianness } from 'node:os';
import { CheckpointError } from './errors.js';

/** safetensors dtype names; torch storage types map onto the same set. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isFloatDType(d: DType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/** A tensor as found in a checkpoint file: its element type, shape, and a decoder to a fresh row-major copy. */
export interface TensorEntry {
  dtype: DType;
  shape: number[];
  toFloat32(): Float32Array;
}

// Both file formats store little-endian bytes, which the typed-array views below reinterpret in host order.
if (endianness() !== 'LE') throw new Error('bertfit checkpoint I/O requires a little-endian host');

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

let f16Table: Float32Array | null = null;

/** IEEE binary16 bits -> float32 value, including subnormals, infinities and NaN. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Decodes `count` elements of `dtype` starting at byte `offset` of `bytes` into a new Float32Array.
 * Throws CheckpointError for non-float dtypes (integer tensors are buffers such as position_ids, never model
 * parameters) and for a range outside `bytes`.
 */
export function decodeFloat32(bytes: Uint8Array, offset: number, count: number, dtype: DType, what: string): Float32Array {
  // Both checks come before any allocation: a bad count must not cost memory first.
  if (!isFloatDType(dtype)) throw new CheckpointError(`${what}: dtype ${dtype} is not a floating-point type`);
  const nbytes = count * DTYPE_BYTES[dtype];
  if (offset < 0 || offset + nbytes > bytes.byteLength) {
    throw new CheckpointError(`${what}: needs bytes [${offset}, ${offset + nbytes}) of a ${bytes.byteLength}-byte buffer`);
  }
  const out = new Float32Array(count);
  // Copy first: the source may sit at an offset the typed-array views below cannot be aligned to. (Not .slice():
  // on a Buffer that is a view, not a copy.)
  const src = new Uint8Array(nbytes);
  src.set(bytes.subarray(offset, offset + nbytes));
  switch (dtype) {
    case 'F32':
      return new Float32Array(src.buffer, 0, count);
    case 'F64':
      out.set(new Float64Array(src.buffer, 0, count));
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const h = new Uint16Array(src.buffer, 0, count);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = h[i] << 16;
      return out;
    }
    case 'F16': {
      if (!f16Table) {
        f16Table = new Float32Array(65536);
        for (let i = 0; i < 65536; i++) f16Table[i] = halfToFloat(i);
      }
      const h = new Uint16Array(src.buffer, 0, count);
      for (let i = 0; i < count; i++) out[i] = f16Table[h[i]];
      return out;
    }
    default:
      throw new CheckpointError(`${what}: dtype ${dtype} is not a floating-point type`);
  }
}

/** float32 -> bfloat16 bits with round-to-nearest-even (as torch's .to(torch.bfloat16)); NaN stays NaN. */
export function encodeBF16(data: Float32Array): Uint16Array {
  const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
