// Minimal zip reader for torch.save's archives (PKWARE APPNOTE 6.3: end of central directory, central directory,
// local headers, the zip64 records). Hand-written rather than yauzl because the loader is synchronous and already
// holds the whole file in memory; this needs ~150 lines and no dependency. Entries may be stored (torch.save's choice)
// or deflated (a re-zipped checkpoint); each entry's CRC-32 is checked so a damaged download cannot load silently.
//
// Zip bombs: an entry's declared size is checked against the caller's cap and a compression-ratio limit before
// anything is inflated, and inflation stops at the declared size, so a header that lies cannot blow up memory either.
import { constants as bufferConstants } from 'node:buffer';
import zlib from 'node:zlib';
import { clip } from './describe.js';
import { CheckpointError } from './errors.js';

export const ZIP_LIMITS = {
  /** absolute cap on one entry's uncompressed size: Node's largest Buffer (4 GiB on Node 20) */
  maxEntryBytes: Math.min(bufferConstants.MAX_LENGTH, 2 ** 32),
  /**
   * Largest uncompressed:compressed ratio for a deflated entry. Weights compress ~1.1:1; only runs of zeros get
   * near deflate's ceiling of ~1032:1, which is what bombs are made of.
   */
  maxRatio: 200,
  /** entries up to this size are exempt from the ratio limit (a small all-zero bias compresses ~1000:1) */
  ratioExemptBytes: 1 << 20,
} as const;

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

// zlib.crc32 (native, fast) exists from Node 20.15; package.json allows any Node 20, so older ones get this table form.
let crcTable: Uint32Array | null = null;
/** CRC-32 (IEEE) of `data`, as zip stores it. */
export function crc32(data: Uint8Array): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  name: string;
  /** uncompressed size in bytes, as the central directory declares it */
  size: number;
  /**
   * The entry's bytes, decompressed and CRC-checked. Refused before inflating when the declared size is over
   * `maxBytes` (default ZIP_LIMITS.maxEntryBytes) or the compression ratio is over ZIP_LIMITS.maxRatio.
   */
  read(maxBytes?: number): Buffer;
}

/** True if `bytes` begins like a zip archive (a local file header). */
export function looksLikeZip(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes.readUInt32LE(0) === SIG_LOCAL;
}

/** Lists the entries of the zip archive `bytes`; `file` only names it in errors. */
export function readZip(bytes: Buffer, file: string): Map<string, ZipEntry> {
  function fail(msg: string): never {
    throw new CheckpointError(`${file}: ${msg}`);
  }
  function u64(pos: number): number {
    const v = bytes.readBigUInt64LE(pos);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`zip field at byte ${pos} is too large (${v})`);
    return Number(v);
  }

  // The end-of-central-directory record is the last 22 bytes plus a comment of at most 65535 bytes.
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 65535); p--) {
    if (bytes.readUInt32LE(p) === SIG_EOCD) { eocd = p; break; }
  }
  if (eocd < 0) fail('not a zip archive or truncated: no end-of-central-directory record');
  let count = bytes.readUInt16LE(eocd + 10);
  let cdSize = bytes.readUInt32LE(eocd + 12);
  let cdOffset = bytes.readUInt32LE(eocd + 16);
  if (eocd >= 20 && bytes.readUInt32LE(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const rec = u64(eocd - 20 + 8);
    if (rec + 56 > bytes.length || bytes.readUInt32LE(rec) !== SIG_ZIP64_EOCD) fail('zip64 end-of-central-directory record is missing');
    count = u64(rec + 32);
    cdSize = u64(rec + 40);
    cdOffset = u64(rec + 48);
  }
  if (cdOffset + cdSize > bytes.length) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies past the end of the file (truncated?)`);

  const entries = new Map<string, ZipEntry>();
  const cdEnd = cdOffset + cdSize;
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd || bytes.readUInt32LE(p) !== SIG_CENTRAL) fail(`central directory entry ${i} is malformed`);
    const flags = bytes.readUInt16LE(p + 8);
    const method = bytes.readUInt16LE(p + 10);
    const crc = bytes.readUInt32LE(p + 16);
    let csize = bytes.readUInt32LE(p + 20);
    let size = bytes.readUInt32LE(p + 24);
    const nameLen = bytes.readUInt16LE(p + 28);
    const extraLen = bytes.readUInt16LE(p + 30);
    const commentLen = bytes.readUInt16LE(p + 32);
    let local = bytes.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cdEnd) fail(`central directory entry ${i}: name, extra field or comment runs past the directory`);
    const name = bytes.toString('utf8', p + 46, p + 46 + nameLen);
    // A zip64 extra field carries, in this order, whichever of size, csize and offset overflowed 32 bits.
    const extraEnd = p + 46 + nameLen + extraLen;
    for (let x = p + 46 + nameLen; x + 4 <= extraEnd;) {
      const id = bytes.readUInt16LE(x);
      const len = bytes.readUInt16LE(x + 2);
      if (x + 4 + len > extraEnd) fail(`entry ${clip(name)}: extra field 0x${id.toString(16).padStart(4, '0')} runs past the entry's extra data`);
      if (id === 0x0001) {
        let q = x + 4;
        const field = (): number => {
          if (q + 8 > x + 4 + len) fail(`entry ${clip(name)}: zip64 extra field is too short for the sizes it must carry`);
          q += 8;
          return u64(q - 8);
        };
        if (size === U32_MAX) size = field();
        if (csize === U32_MAX) csize = field();
        if (local === U32_MAX) local = field();
      }
      x += 4 + len;
    }
    p += 46 + nameLen + extraLen + commentLen;
    const shown = clip(name);
    if (flags & 1) fail(`entry ${shown} is encrypted`);
    if (method !== 0 && method !== 8) fail(`entry ${shown} uses compression method ${method} (only stored and deflate are supported)`);
    if (csize > bytes.length) fail(`entry ${shown}: compressed size ${csize} is larger than the whole ${bytes.length}-byte archive`);
    if (method === 0 && size !== csize) fail(`entry ${shown} is stored (not compressed) but declares ${size} bytes in ${csize}`);
    entries.set(name, {
      name,
      size,
      read: (maxBytes = ZIP_LIMITS.maxEntryBytes) => {
        const cap = Math.min(maxBytes, ZIP_LIMITS.maxEntryBytes);
        if (size > cap) fail(`entry ${shown} declares ${size} bytes uncompressed, more than the ${cap} it can need (a zip bomb?)`);
        if (method === 8 && size > ZIP_LIMITS.ratioExemptBytes && size > csize * ZIP_LIMITS.maxRatio) {
          fail(`entry ${shown} declares ${size} bytes deflated into ${csize}, a compression ratio over ` +
            `${ZIP_LIMITS.maxRatio}:1 that weights never reach (a zip bomb?)`);
        }
        if (local + 30 > bytes.length || bytes.readUInt32LE(local) !== SIG_LOCAL) fail(`entry ${shown}: local header missing at byte ${local}`);
        const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
        if (start + csize > bytes.length) fail(`entry ${shown}: data [${start}, ${start + csize}) lies past the end of the file (truncated?)`);
        const raw = bytes.subarray(start, start + csize);
        let data: Buffer;
        try {
          // maxOutputLength: inflation stops once past the declared size, whatever the compressed stream holds.
          data = method === 0 ? raw : zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') fail(`entry ${shown} inflates to more than the ${size} bytes it declares (a zip bomb?)`);
          fail(`entry ${shown}: cannot inflate: ${(e as Error).message}`);
        }
        if (data.length !== size) fail(`entry ${shown}: ${data.length} bytes, the directory says ${size}`);
        if (crc32(data) !== crc) fail(`entry ${shown}: CRC-32 mismatch (corrupt file)`);
        return data;
      },
    });
  }
  return entries;
}

