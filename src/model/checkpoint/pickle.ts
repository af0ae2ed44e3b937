// A restricted pickle reader: it understands the opcodes torch.save emits (protocol 2, plus FRAME/MEMOIZE and
// friends of protocol 4) and never imports or calls anything itself. GLOBAL may only name entries of the caller's
// allow-list; every other global (posix.system, builtins.eval, ...) is refused by name before anything is built, so a
// hostile checkpoint cannot run code. Python values map to: str -> string, int -> number (bigint past 2^53),
// float -> number, bool/None -> boolean/null, tuple and list -> Array, dict -> Map.
import { CheckpointError } from './errors.js';

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
      fail(`refusing to load global ${qual}: only ${[...opts.globals.keys()].join(', ')} are allowed ` +
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
    list.push(...items);
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
      case 0x2e: return { value: pop(), end: pos }; // STOP
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
      case 0x8a: stack.push(signedLE(take(u8()))); break; // LONG1
      case 0x8b: stack.push(signedLE(take(u32()))); break; // LONG4
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
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
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
        try {
          stack.push(fn.call(args));
        } catch (e) {
          if (e instanceof CheckpointError) throw e;
          fail(`${fn.qualname}: ${(e as Error).message}`);
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent ids are not expected here');
        stack.push(opts.persistentLoad(pid));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (!opts.build) fail('BUILD is not expected here');
        opts.build(obj, state);
        break;
      }
      default:
        fail('opcode is not allowed in a checkpoint (only the subset torch.save writes is understood)');
    }
  }
}

function opName(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`;
  return OPNAMES[op] ? `${OPNAMES[op]} (${hex})` : hex;
}
