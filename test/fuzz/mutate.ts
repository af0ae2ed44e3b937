// Generic mutations shared by the fuzz targets: byte-level edits (any file format) and JSON-level edits (config.json,
// a safetensors header). Targets add format-aware mutations of their own on top.
import type { Rng } from './rng.js';

/** Values that sit on the edges parsers get wrong: 0, sign bits, all-ones, 2^31, 2^32, 2^53. */
const INTERESTING: readonly bigint[] = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n,
  0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];

/** Inputs never grow past this, so a case's cost stays bounded whatever the mutations stack up to. */
export const MAX_INPUT_BYTES = 256 << 10;

/**
 * 1 to 4 random byte-level edits of `input` (never modifies it): bit flips, random and interesting integers at
 * random offsets (u8..u64, either endianness), deleted, inserted, duplicated and overwritten ranges, truncation, and
 * splices with `other` (another seed) when given.
 */
export function mutateBytes(input: Buffer, rng: Rng, other?: Buffer): Buffer {
  let b = Buffer.from(input);
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const at = b.length ? rng.int(b.length) : 0;
    const span = Math.min(b.length - at, 1 + rng.int(rng.chance(0.8) ? 16 : 512));
    switch (rng.int(9)) {
      case 0: if (b.length) b[at] ^= 1 << rng.int(8); break;
      case 1: if (b.length) b[at] = rng.int(256); break;
      case 2: { // an interesting integer, 1/2/4/8 bytes, little- or big-endian
        const width = rng.pick([1, 2, 4, 8]);
        if (at + width > b.length) break;
        let v = rng.pick(INTERESTING) & ((1n << BigInt(8 * width)) - 1n);
        if (rng.chance(0.2)) v = ((1n << BigInt(8 * width)) - 1n) - v;
        const le = rng.chance(0.7);
        for (let i = 0; i < width; i++) b[at + (le ? i : width - 1 - i)] = Number((v >> BigInt(8 * i)) & 0xffn);
        break;
      }
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at + span)]); break;
      case 4: b = Buffer.concat([b.subarray(0, at), randomBytes(rng, 1 + rng.int(32)), b.subarray(at)]); break;
      case 5: { const to = rng.int(b.length + 1); b = Buffer.concat([b.subarray(0, to), b.subarray(at, at + span), b.subarray(to)]); break; }
      case 6: { const from = rng.int(b.length + 1); b.subarray(at, at + span).set(b.subarray(from, from + span)); break; }
      case 7: b = b.subarray(0, rng.int(b.length + 1)); break;
      case 8: if (other && other.length) {
        const from = rng.int(other.length);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + span), b.subarray(at + span)]);
      } break;
    }
    if (b.length > MAX_INPUT_BYTES) b = b.subarray(0, MAX_INPUT_BYTES);
  }
  return b;
}

function randomBytes(rng: Rng, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

// JSON values to plant: wrong types, edge numbers, the sizes a hostile config uses, and deep nesting (written as
// text below: JSON.stringify of a 100,000-deep array would itself overflow the stack).
const DEEP = '\u0000deep\u0000';
const JSON_VALUES: readonly unknown[] = [0, -1, 1, 2, 1.5, -0.5, 1e9, 1e8, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308,
  '', 'x', '1', 'gelu', 'F32', 'BF16', 'I64', 'constructor', '__proto__', null, true, false, [], {}, [1, 2], [[1]], { a: 1 },
  'x'.repeat(5000), DEEP];

/** One JSON-level edit of a JSON text: a value somewhere replaced, a key dropped or added; unparsable text is returned as is. */
export function mutateJson(text: string, rng: Rng): string {
  // Text that already holds a planted deep array is left alone: JSON.stringify of it would overflow the stack.
  if (nestingDepth(text) > 1000) return text;
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return text;
  }
  // Collect up to a few hundred (container, key) slots, then edit one.
  const slots: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown, depth: number): void => {
    if (!v || typeof v !== 'object' || depth > 4 || slots.length > 300) return;
    if (Array.isArray(v)) v.forEach((x, i) => { slots.push({ parent: v, key: i }); walk(x, depth + 1); });
    else for (const [k, x] of Object.entries(v)) { slots.push({ parent: v as Record<string, unknown>, key: k }); walk(x, depth + 1); }
  };
  walk(root, 0);
  const wrapper = { root } as Record<string, unknown>;
  const slot = slots.length && rng.chance(0.95) ? rng.pick(slots) : { parent: wrapper, key: 'root' };
  const parent = slot.parent as Record<string | number, unknown>;
  const kind = rng.int(10);
  if (kind === 0 && !Array.isArray(parent)) delete parent[slot.key];
  else if (kind === 1 && parent !== wrapper && !Array.isArray(parent)) parent[rng.pick(['num_labels', 'x', '', '__metadata__', 'id2label', String(rng.int(5))])] = rng.pick(JSON_VALUES);
  else if (kind === 2 && typeof parent[slot.key] === 'number') parent[slot.key] = (parent[slot.key] as number) * rng.pick([-1, 2, 1000, 1e6, 0.5]);
  else parent[slot.key] = rng.pick(JSON_VALUES);
  const deep = rng.int(3) === 0 ? 10 : 100_000;
  return (JSON.stringify(wrapper.root) ?? '').replace(JSON.stringify(DEEP), '['.repeat(deep) + ']'.repeat(deep));
}

/** Deepest bracket nesting of a JSON text, outside strings. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
