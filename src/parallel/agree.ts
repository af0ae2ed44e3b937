// Small collectives built from all-reduce and broadcast: do the ranks agree on a value, does any rank want to stop,
// rank 0's text for everyone. Each is one or two tiny messages.
import { createHash } from 'node:crypto';
import type { Comm } from './comm.js';

/**
 * For each value, whether every rank passed the same one (one max all-reduce of the values and their negations:
 * equal everywhere iff max(v) === -max(-v)).
 *
 * Args:
 *   values: numbers every rank passes in the same order; exact doubles (integers below 2^53 or any finite double).
 * Returns: [values.length] true where all ranks agree.
 */
export function sameOnEveryRank(comm: Comm, values: readonly number[]): boolean[] {
  const n = values.length;
  const buf = new Float64Array(2 * n);
  values.forEach((v, i) => { buf[i] = v; buf[n + i] = -v; });
  comm.allreduce(buf, 'max');
  return values.map((_, i) => buf[i] === -buf[n + i]!);
}

/** True on every rank when `flag` is true on at least one. */
export function anyRank(comm: Comm, flag: boolean): boolean {
  if (comm.size === 1) return flag;
  const buf = new Float64Array([flag ? 1 : 0]);
  comm.allreduce(buf, 'max');
  return buf[0] === 1;
}

/** Sums over the ranks of a few numbers (a new array; the input is untouched). */
export function sumOverRanks(comm: Comm, values: readonly number[]): number[] {
  if (comm.size === 1) return [...values];
  const buf = Float64Array.from(values);
  comm.allreduce(buf, 'sum');
  return Array.from(buf);
}

/** Rank 0's text on every rank (the other ranks' `text` is ignored). */
export function shareText(comm: Comm, text: string): string {
  if (comm.size === 1) return text;
  const bytes = comm.rank === 0 ? Buffer.from(text, 'utf8') : null;
  const len = new Float64Array([bytes ? bytes.length : 0]);
  comm.broadcast(len, 0);
  const buf = bytes ?? Buffer.alloc(len[0]!);
  if (buf.length > 0) comm.broadcast(buf, 0);
  return buf.toString('utf8');
}

/**
 * A 48-bit fingerprint (an exact double) of strings and typed arrays: SHA-256 of their bytes, each part
 * length-prefixed so ['ab', 'c'] and ['a', 'bc'] differ.
 */
export function fingerprint(parts: ReadonlyArray<string | ArrayBufferView>): number {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    h.update(`${typeof p === 'string' ? 's' : 'b'}${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest().readUIntBE(0, 6);
}
