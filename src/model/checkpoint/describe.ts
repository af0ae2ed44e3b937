// Short, safe descriptions of values from hostile files (unpickled objects, parsed JSON) for error messages.
// String() and JSON.stringify recurse without bound and throw on cycles and BigInt; a message about a hostile file
// must never itself be the crash.
const ITEMS_SHOWN = 4;

/**
 * A one-line description of `v` at most ~`max` characters long: containers are shown two levels deep and cut
 * after a few items, so the cost does not depend on the value's size or shape.
 */
export function describeValue(v: unknown, max = 240): string {
  const s = show(v, 2);
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function show(v: unknown, depth: number): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);
  if (typeof v === 'bigint') return `${v}`;
  if (v === null || typeof v !== 'object') return String(v);
  // A PyGlobal (not imported: pickle.ts uses this module) shows as its qualified name.
  const qual = (v as { qualname?: unknown }).qualname;
  if (typeof qual === 'string') return qual.length > 200 ? `${qual.slice(0, 200)}...` : qual;
  if (Array.isArray(v)) {
    if (depth <= 0) return `(${v.length} items)`;
    const shown = v.slice(0, ITEMS_SHOWN).map((x) => show(x, depth - 1));
    return `(${shown.join(', ')}${v.length > ITEMS_SHOWN ? `, ... ${v.length - ITEMS_SHOWN} more` : ''})`;
  }
  if (v instanceof Map) {
    if (depth <= 0) return `{${v.size} entries}`;
    const shown: string[] = [];
    for (const [k, x] of v) {
      if (shown.length === ITEMS_SHOWN) break;
      shown.push(`${show(k, 0)}: ${show(x, depth - 1)}`);
    }
    return `{${shown.join(', ')}${v.size > ITEMS_SHOWN ? `, ... ${v.size - ITEMS_SHOWN} more` : ''}}`;
  }
  return `<${(v as { constructor?: { name?: string } }).constructor?.name ?? 'object'}>`;
}

/** A name taken from a file (a tensor, zip entry or global), cut short for messages. */
export function clip(name: string): string {
  return name.length > 200 ? `${name.slice(0, 200)}... (${name.length} characters)` : name;
}

/**
 * A parsed JSON value written as JSON.stringify would, for messages: identical for small values, but at most three
 * levels and eight items per container, so a deeply nested or huge header field cannot overflow the stack.
 */
export function jsonPreview(v: unknown, max = 200): string {
  const s = json(v, 3);
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function json(v: unknown, depth: number): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? String(v);
  if (depth <= 0) return Array.isArray(v) ? '[...]' : '{...}';
  if (Array.isArray(v)) {
    const shown = v.slice(0, 8).map((x) => json(x, depth - 1));
    return `[${shown.join(',')}${v.length > 8 ? ',...' : ''}]`;
  }
  const keys = Object.keys(v);
  const shown = keys.slice(0, 8).map((k) => `${json(k, 0)}:${json((v as Record<string, unknown>)[k], depth - 1)}`);
  return `{${shown.join(',')}${keys.length > 8 ? ',...' : ''}}`;
}
