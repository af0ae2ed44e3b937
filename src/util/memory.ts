// How much memory bertfit may still allocate. Checked before large allocations (a model's parameters, a training
// shape) so that an oversized model ends in a clear message instead of a V8 heap abort (exit 134) or the OOM killer.
// One knob for every such check: BERTFIT_MEMORY_LIMIT (a size such as "12G", or "off"), as src/train/memory.ts reads it.
import os from 'node:os';
import { UsageError } from '../errors.js';

export interface MemoryBudget {
  bytes: number;
  /** where the number comes from, for messages */
  source: string;
}

/**
 * The bytes this process may still allocate: BERTFIT_MEMORY_LIMIT when set (minus what the process holds already),
 * else the memory the system reports available (Linux: MemAvailable), capped by a cgroup limit; null when
 * BERTFIT_MEMORY_LIMIT is "off". Throws UsageError for a malformed BERTFIT_MEMORY_LIMIT.
 */
export function memoryBudget(): MemoryBudget | null {
  const env = process.env.BERTFIT_MEMORY_LIMIT;
  const rss = process.memoryUsage.rss();
  if (env !== undefined && env.trim() !== '') {
    const limit = parseMemoryLimit(env);
    if (limit === null) return null;
    return { bytes: Math.max(0, limit - rss), source: `BERTFIT_MEMORY_LIMIT=${env.trim()}` };
  }
  let bytes = os.freemem();
  // 0 or undefined without a limit; a huge value (2^64) when the cgroup sets none.
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() ?? 0 : 0;
  if (constrained > 0 && constrained < os.totalmem()) bytes = Math.min(bytes, Math.max(0, constrained - rss));
  return { bytes, source: 'the memory available now (BERTFIT_MEMORY_LIMIT=off skips this check)' };
}

/**
 * Parses BERTFIT_MEMORY_LIMIT: "off" (no check), or a size in bytes with an optional unit K, M, G, T (powers of 1024,
 * optionally followed by "B" or "iB").
 */
export function parseMemoryLimit(text: string): number | null {
  const t = text.trim();
  if (/^(off|none)$/i.test(t)) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(t);
  if (!m) throw new UsageError(`BERTFIT_MEMORY_LIMIT must be a size such as 8G or 512M, or "off", got ${JSON.stringify(text)}`);
  const unit = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(m[1]) * unit);
}

/** 1536 -> "1.5 KiB"; for messages. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
