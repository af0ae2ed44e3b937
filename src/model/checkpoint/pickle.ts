// A restricted pickle reader: it understands the opcodes torch.save emits (protocol 2, plus FRAME/MEMOIZE and
// friends of protocol 4) and never imports or calls anything itself. GLOBAL may only name entries of the caller's
// allow-list; every other global (posix.system, builtins.eval, ...) is refused by name before anything is built, so a
// hostile checkpoint cannot run code. Python values map to: str -> string, int -> number (bigint past 2^53),
// float -> number, bool/None -> boolean/null, tuple and list -> Array, dict -> Map.
//
// Resource limits (PICKLE_LIMITS) keep a small hostile pickle from costing much more than its size: integers are at
// most 16 bytes wide, the memo and the nesting depth are capped, cycles are refused, and the work done by allowed
// calls (OrderedDict over a list reached many times through the memo) is charged against a budget proportional to
// the pickle's length. Every refusal is a CheckpointError naming the file, the opcode and its byte offset.
import { clip } from './describe.js';
import { CheckpointError } from './errors.js';

/**
 * What one pickle may cost. A torch state dict needs far less: integers up to 64 bits (the legacy format's magic
 * number is 10 bytes), ~8 memo entries and ~6 levels of nesting per tensor.
 */
export const PICKLE_LIMITS = {
  /** LONG1/LONG4 width in bytes; wider integers are never shapes, offsets or element counts. */
  maxIntBytes: 16,
  /** memo entries (BERT-large's state dict uses ~3,000) */
  maxMemo: 100_000,
  /** container nesting depth of the result (a state dict is ~6 deep) */
  maxDepth: 64,
  /** work units (items handed to allowed calls) per pickle byte, plus a fixed allowance */
  workPerByte: 4,
  workBase: 100_000,
} as const;

/** A global the pickle referenced; `call` is present only for globals the allow-list lets REDUCE invoke. */
export class PyGlobal {
  constructor(readonly qualname: string, readonly call?: (args: unknown[]) => unknown) {}
}

export interface UnpickleOptions {
  /** "module.name" -> call (or null for globals that are only values, such as torch.FloatStorage) */
  globals: ReadonlyMap<string, ((args: unknown[]) => unknown) | null>;
  /** resolves BINPERSID ids (torch: ('storage', type, key, location, numel)) */
  persistentLoad?: (pid: unknown) => unknown;
  /** state for BUILD on an object: dict attributes such as a state dict's _metadata are the only use in torch.save */
  build?: (obj: unknown, state: unknown) => void;
}

const MARK = Symbol('mark');

// Every pickle opcode's name (Lib/pickletools.py), so an error says which opcode a file used.
const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x29: 'EMPTY_TUPLE', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x46: 'FLOAT', 0x47: 'BINFLOAT', 0x49: 'INT', 0x4a: 'BININT', 0x4b: 'BININT1',
  0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING',
  0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x5d: 'EMPTY_LIST',
  0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x75: 'SETITEMS', 0x7d: 'EMPTY_DICT', 0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1',
  0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE',
  0x8a: 'LONG1', 0x8b: 'LONG4', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/**
 * Runs pickle opcodes from bytes[start] up to and including the next STOP.
 *
 * Args:
 *   bytes: the buffer holding the pickle (a legacy torch file holds several back to back).
 *   where: names the file (and member) in errors.
 *   opts: the allow-list of globals and hooks, see UnpickleOptions.
 *   start: byte offset of the pickle's first opcode.
 * Returns:
 *   the unpickled value and `end`, the offset just past STOP.
 */
export function unpickle(bytes: Buffer, where: string, opts: UnpickleOptions, start = 0): { value: unknown; end: number } {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  // Opcodes are linear in the file; what is not is an allowed call fed the same big list again and again via the memo.
  let work = PICKLE_LIMITS.workBase + PICKLE_LIMITS.workPerByte * (bytes.length - start);
  let pos = start;
  let op = 0;
  let opAt = 0;
  function fail(msg: string): never {
    throw new CheckpointError(`${where}: pickle opcode ${opName(op)} at byte ${opAt}: ${msg}`);
  }
  function need(n: number): void {
    if (pos + n > bytes.length) fail('pickle is truncated');
  }
  const u8 = (): number => { need(1); return bytes[pos++]; };
  const u16 = (): number => { need(2); pos += 2; return bytes.readUInt16LE(pos - 2); };
  const u32 = (): number => { need(4); pos += 4; return bytes.readUInt32LE(pos - 4); };
  const take = (n: number): Buffer => { need(n); pos += n; return bytes.subarray(pos - n, pos); };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('pickle is truncated (no newline)');
    const s = bytes.toString('utf8', pos, nl);
    pos = nl + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) fail('stack underflow');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('no MARK on the stack');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const top = (): unknown => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} is not set`);
    return memo.get(i);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const qual = `${module}.${name}`;
    if (!opts.globals.has(qual)) {
      fail(`refusing to load global ${clip(qual)}: only ${[...opts.globals.keys()].join(', ')} are allowed ` +
        '(the file may be malicious; nothing was executed)');
    }
    return new PyGlobal(qual, opts.globals.get(qual) ?? undefined);
  };
  const setItems = (dict: unknown, kv: unknown[]): void => {
    if (!(dict instanceof Map)) fail('SETITEM on a non-dict');
    if (kv.length % 2) fail('odd number of items for SETITEMS');
    for (let i = 0; i < kv.length; i += 2) dict.set(kv[i], kv[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail('APPEND on a non-list');
    // Not push(...items): spreading ~100k arguments overflows the call stack.
    for (const item of items) list.push(item);
  };
  const memoPut = (key: number): void => {
    if (!memo.has(key) && memo.size >= PICKLE_LIMITS.maxMemo) fail(`more than ${PICKLE_LIMITS.maxMemo} memo entries`);
    memo.set(key, top());
  };
  /** Charges an allowed call for the items it may look at: its arguments and, one level down, their elements. */
  const charge = (args: unknown): void => {
    let units = 1;
    if (Array.isArray(args)) {
      units += args.length;
      for (const a of args) if (Array.isArray(a)) units += a.length;
    }
    work -= units;
    if (work < 0) fail(`the pickle does more work than its ${bytes.length - start} bytes justify (a hostile file?)`);
  };
  /**
   * Runs a hook of the caller's; whatever it throws becomes a CheckpointError naming the file and opcode (and `what`,
   * the global called, when given).
   */
  const hook = <T>(what: string | null, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof CheckpointError && e.message.startsWith(where)) throw e;
      fail(`${what ? `${what}: ` : ''}${(e as Error).message}`);
    }
  };
  const longBytes = (n: number): Buffer => {
    // Checked before reading: BigInt arithmetic on a megabyte-wide integer takes minutes.
    if (n > PICKLE_LIMITS.maxIntBytes) fail(`a ${n}-byte integer is wider than the ${PICKLE_LIMITS.maxIntBytes} bytes a checkpoint needs`);
    return take(n);
  };
  const signedLE = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    opAt = pos;
    op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const proto = u8();
        if (proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case 0x95: take(8); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        const value = pop();
        const bad = checkShape(value, PICKLE_LIMITS.maxDepth);
        if (bad) fail(bad);
        return { value, end: pos };
      }
      case 0x28: stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(u32() | 0); break; // BININT (signed)
      case 0x8a: stack.push(signedLE(longBytes(u8()))); break; // LONG1
      case 0x8b: stack.push(signedLE(longBytes(u32()))); break; // LONG4
      case 0x47: { need(8); stack.push(bytes.readDoubleBE(pos)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(take(u32()).toString('utf8')); break; // BINUNICODE
      case 0x8c: stack.push(take(u8()).toString('utf8')); break; // SHORT_BINUNICODE
      case 0x8d: { // BINUNICODE8
        need(8);
        const n = bytes.readBigUInt64LE(pos);
        pos += 8;
        if (n > BigInt(bytes.length - pos)) fail('pickle is truncated');
        stack.push(take(Number(n)).toString('utf8'));
        break;
      }
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const kv = popMark(); const d = new Map(); setItems(d, kv); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x52: { // REDUCE: callable(*args)
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail('REDUCE on something that is not a global');
        if (!fn.call) fail(`global ${fn.qualname} cannot be called`);
        if (!Array.isArray(args)) fail(`arguments to ${fn.qualname} are not a tuple`);
        charge(args);
        const call = fn.call;
        stack.push(hook(fn.qualname, () => call(args)));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        const load = opts.persistentLoad;
        if (!load) fail('persistent ids are not expected here');
        charge(pid);
        stack.push(hook(null, () => load(pid)));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        const build = opts.build;
        if (!build) fail('BUILD is not expected here');
        hook(null, () => build(obj, state));
        break;
      }
      default:
        fail('opcode is not allowed in a checkpoint (only the subset torch.save writes is understood)');
    }
  }
}

/**
 * Why `root` is unfit to hand on (a container inside itself, or nesting deeper than `maxDepth`), or null.
 * Code after the unpickler (messages, String(), JSON.stringify) recurses, and must only ever see finite, shallow
 * values. Iterative post-order walk computing each container's height once (memoised), so shared sub-structures
 * count at their deepest and the cost is linear in the containers and items reachable.
 */
function checkShape(root: unknown, maxDepth: number): string | null {
  const children = (v: unknown): unknown[] | null =>
    Array.isArray(v) ? v : v instanceof Map ? [...v.keys(), ...v.values()] : null;
  const rootItems = children(root);
  if (!rootItems) return null;
  const height = new Map<object, number>(); // finished containers -> levels of containers from them down
  const onPath = new Set<object>();
  const path: Array<{ node: object; items: unknown[]; next: number; height: number }> = [
    { node: root as object, items: rootItems, next: 0, height: 1 },
  ];
  onPath.add(root as object);
  while (path.length) {
    const frame = path[path.length - 1]!;
    if (frame.next === frame.items.length) {
      path.pop();
      onPath.delete(frame.node);
      height.set(frame.node, frame.height);
      if (path.length) path[path.length - 1]!.height = Math.max(path[path.length - 1]!.height, frame.height + 1);
      continue;
    }
    const child = frame.items[frame.next++];
    const items = children(child);
    if (!items) continue;
    const known = height.get(child as object);
    if (known !== undefined) {
      frame.height = Math.max(frame.height, known + 1);
    } else if (onPath.has(child as object)) {
      return 'the pickle holds a cyclic structure (a container inside itself), which no state dict has';
    } else {
      onPath.add(child as object);
      path.push({ node: child as object, items, next: 0, height: 1 });
    }
    if (frame.height > maxDepth || path.length > maxDepth) {
      return `the pickle nests containers more than ${maxDepth} levels deep, which no state dict does`;
    }
  }
  return null;
}

function opName(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`;
  return OPNAMES[op] ? `${OPNAMES[op]} (${hex})` : hex;
}
