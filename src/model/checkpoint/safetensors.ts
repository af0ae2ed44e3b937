// safetensors reader and writer (https://huggingface.co/docs/safetensors). Layout:
//   u64 little-endian N | N bytes of UTF-8 JSON header | byte buffer
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} with offsets relative to the buffer
// start, plus an optional "__metadata__" string->string map. Like the reference implementation the reader insists
// that the tensors tile the buffer exactly (no overlap, no hole, nothing past the end), so a truncated or doctored
// file is refused up front instead of yielding garbage weights.
import { readFileSync } from 'node:fs';
import { clip, jsonPreview } from './describe.js';
import { CheckpointError } from './errors.js';
import { DTYPE_BYTES, decodeFloat32, encodeBF16, numelOf, type DType, type TensorEntry } from './tensor.js';

/** The reference implementation's cap: a larger header is a corrupt or hostile file, not a big model. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Reads and validates `file`; tensor data is decoded only when an entry's toFloat32() is called. */
export function readSafetensors(file: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return parseSafetensors(bytes, file);
}

/** Validates a whole safetensors file held in memory; `file` only names it in errors. */
export function parseSafetensors(bytes: Buffer, file: string): SafetensorsFile {
  function fail(msg: string): never {
    throw new CheckpointError(`${file}: ${msg}`);
  }
  if (bytes.length < 8) fail(`not a safetensors file: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = bytes.readBigUInt64LE(0);
  if (n > BigInt(bytes.length - 8)) {
    fail(`safetensors header length ${n} exceeds the file size ${bytes.length} (truncated or not a safetensors file)`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`safetensors header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLen));
  } catch (e) {
    fail(`safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('safetensors header is not a JSON object');

  const bufStart = 8 + headerLen;
  const bufLen = bytes.length - bufStart;
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('"__metadata__" is not a JSON object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" field "${clip(k)}" is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const what = `tensor "${clip(name)}"`;
    if (!raw || typeof raw !== 'object') fail(`${what}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      fail(`${what}: unsupported dtype ${jsonPreview(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${what}: shape ${jsonPreview(shape)} is not a list of non-negative integers`);
    }
    // torch's limit; more dimensions is a doctored header, and would make every message about the tensor enormous.
    if (shape.length > 64) fail(`${what}: ${shape.length} dimensions (at most 64 are allowed)`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
        offsets[0] > offsets[1]) {
      fail(`${what}: data_offsets ${jsonPreview(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const dt = dtype as DType;
    const shp = (shape as number[]).slice();
    const numel = numelOf(shp);
    if (end - begin !== numel * DTYPE_BYTES[dt]) {
      fail(`${what}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dt} shape [${shp}] needs ` +
        `${numel * DTYPE_BYTES[dt]}`);
    }
    if (end > bufLen) {
      fail(`${what}: data ends at buffer byte ${end} but the file holds only ${bufLen} bytes after the header ` +
        '(truncated file?)');
    }
    spans.push({ name, begin, end });
    tensors.set(name, {
      dtype: dt,
      shape: shp,
      toFloat32: () => {
        try {
          return decodeFloat32(bytes, bufStart + begin, numel, dt, `${file}: ${what}`);
        } catch (e) {
          throw new CheckpointError((e as Error).message);
        }
      },
    });
  }
  // Sorted by offset, each tensor must start where the previous one ended and the last must end the file.
  // Overlaps are looked for first: they say more about a doctored header than the hole they usually leave.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const [p, s] = [spans[i - 1], spans[i]];
    if (s.begin < p.end) fail(`tensor "${clip(s.name)}" data [${s.begin}, ${s.end}) overlaps tensor "${clip(p.name)}" [${p.begin}, ${p.end})`);
  }
  let pos = 0;
  for (const s of spans) {
    if (s.begin > pos) fail(`unused bytes [${pos}, ${s.begin}) in the data buffer before tensor "${clip(s.name)}"`);
    pos = s.end;
  }
  if (pos !== bufLen) fail(`${bufLen - pos} bytes after the last tensor's data (the header does not describe them)`);
  return { tensors, metadata };
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Serialises float32 tensors in the given order as a safetensors file.
 *
 * Args:
 *   tensors: name, shape and row-major data; data.length must equal the product of shape.
 *   opts.dtype: 'F32' (bit-exact) or 'BF16' (round-to-nearest-even, half the size).
 *   opts.metadata: string map stored as "__metadata__"; transformers expects {"format": "pt"}.
 * Returns:
 *   the whole file as one Buffer.
 */
export function encodeSafetensors(tensors: readonly TensorToWrite[],
  opts: { dtype?: 'F32' | 'BF16'; metadata?: Record<string, string> } = {}): Buffer {
  const dtype = opts.dtype ?? 'F32';
  const esize = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = { __metadata__: opts.metadata ?? { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new CheckpointError(`tensor name "${t.name}" is reserved or repeated`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || numelOf(t.shape) !== t.data.length) {
      throw new CheckpointError(`tensor "${t.name}": shape [${t.shape}] does not match its ${t.data.length} values`);
    }
    const nbytes = t.data.length * esize;
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Space padding to a multiple of 8 keeps every tensor 8-byte aligned in the file, as the reference writer does.
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.allocUnsafe(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const t of tensors) {
    const src = dtype === 'F32' ? t.data : encodeBF16(t.data);
    const view = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    out.set(view, pos);
    pos += view.byteLength;
  }
  return out;
}
