// Fuzz target: the restricted unpickler (src/model/checkpoint/pickle.ts) with torch's allow-list, fed through a
// real archive: each case edits data.pkl of a zip seed and re-zips it (true CRCs), so the pickle itself is what gets
// fuzzed. Edits splice in hostile opcode sequences (huge LONG4, cycles, deep nesting, memo floods, forbidden
// globals, repeated calls on one big list) as well as random bytes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { assertFinite } from '../../../src/model/checkpoint/finite.js';
import { isFloatDType } from '../../../src/model/checkpoint/tensor.js';
import { parseTorchCheckpoint } from '../../../src/model/checkpoint/torch.js';
import { packageRoot } from '../../../src/util/paths.js';
import { P, tinyTensors, torchZip, zipArchive } from '../build.js';
import { mutateBytes } from '../mutate.js';
import type { Rng } from '../rng.js';
import type { FuzzTarget } from '../runner.js';
import { zipEntries } from './pytorch-zip.js';

const FILE = 'fuzz/pytorch_model.bin';
const LIMITS = { maxStorageBytes: 16 << 20 };

const repeat = (n: number, b: Buffer): Buffer => Buffer.concat(Array(n).fill(b));

const POP = Buffer.from([0x30]);
const APPENDS = Buffer.from([0x65]);

/** Opcode sequences a hostile pickle is made of; each leaves exactly one value on the stack. */
function snippet(rng: Rng): Buffer {
  const n = rng.pick([1, 2, 10, 100, 1000, 5000]);
  switch (rng.int(13)) {
    case 0: return P.long4(Buffer.alloc(rng.pick([9, 16, 17, 1000, 60000]), rng.pick([0, 0xff, 0x7f])));
    case 1: return P.long1(BigInt(rng.int(2 ** 31)) ** 3n, rng.pick([1, 8, 9, 16, 17]));
    case 2: return Buffer.concat([P.emptyList, P.binput(200), P.binget(200), P.append]); // a list inside itself
    case 3: return Buffer.concat([repeat(n, P.emptyList), repeat(n - 1, P.append)]); // nesting n deep
    case 4: return Buffer.concat([P.emptyDict, P.binput(201), P.binget(201), P.binget(201), P.setitem]); // dict as its own key
    case 5: // a memo flood: n lists stored under random 4-byte keys
      return Buffer.concat([repeat(n, Buffer.concat([P.emptyList, Buffer.from([0x72, rng.int(256), rng.int(256), rng.int(4), 0]), POP])), P.none]);
    case 6: return Buffer.concat([P.global(rng.pick(['os', 'posix', 'builtins', 'subprocess', 'torch']), rng.pick(['system', 'eval', 'Popen', 'load'])), P.emptyTuple, P.reduce]);
    case 7: // OrderedDict called again and again on one list of n pairs
      return Buffer.concat([P.emptyList, P.mark, repeat(n, P.tupleOf(P.binint(1), P.binint(2))), APPENDS, P.binput(202), POP,
        repeat(n, Buffer.concat([P.global('collections', 'OrderedDict'), P.binget(202), Buffer.from([0x85]), P.reduce, POP])), P.none]);
    case 8: return Buffer.concat([P.mark, repeat(n, P.none), rng.pick([P.tuple, Buffer.from([0x6c])])]);
    case 9: return Buffer.concat([P.emptyList, P.binput(203), P.mark, repeat(n, P.binget(203)), APPENDS]); // one list n times inside itself
    case 10: return Buffer.concat([P.tupleOf(P.str('storage'), P.global('torch', 'FloatStorage'), P.str('9'), P.str('cpu'), P.binint(rng.pick([0, 1, 2 ** 31 - 1, -1]))), P.binpersid]);
    case 11: return P.binget(rng.int(256));
    default: return Buffer.concat([P.global('torch._utils', '_rebuild_tensor_v2'),
      P.tupleOf(P.none, P.binint(-1), P.tupleOf(repeat(rng.pick([1, 65, 100]), P.binint(1))), P.emptyTuple), P.reduce]);
  }
}

// Argument sizes of the opcodes torch.save writes, for finding opcode boundaries (as pickletools.genops does).
const FIXED: Record<number, number> = { 0x80: 1, 0x95: 8, 0x4b: 1, 0x4d: 2, 0x4a: 4, 0x47: 8, 0x71: 1, 0x72: 4, 0x68: 1, 0x6a: 4 };

/** Start offsets of the opcodes of `b` up to its STOP (fewer if an unknown opcode is met). */
function opcodeStarts(b: Buffer): number[] {
  const starts: number[] = [];
  for (let p = 0; p < b.length;) {
    starts.push(p);
    const op = b[p++]!;
    if (op === 0x2e) break;
    if (op in FIXED) p += FIXED[op]!;
    else if (op === 0x8c || op === 0x8a) p += 1 + (b[p] ?? 0);
    else if (op === 0x58 || op === 0x8b) p += 4 + (p + 4 <= b.length ? b.readUInt32LE(p) : 0);
    else if (op === 0x63) { p = b.indexOf(0x0a, p) + 1; p = p > 0 ? b.indexOf(0x0a, p) + 1 : 0; if (p === 0) break; }
  }
  return starts;
}

export const target: FuzzTarget = {
  name: 'pickle',
  // torch's own data.pkl (BINPUT memo, BUILD of _metadata, shared storages) besides one of ours.
  seeds: () => [torchZip(tinyTensors().slice(0, 4)), readFileSync(path.join(packageRoot, 'fixtures', 'checkpoints', 'bert-cls', 'pytorch_model.bin'))],
  mutate: (seed, rng, corpus) => {
    const entries = zipEntries(seed)!;
    const pkl = entries.find((e) => e.name.endsWith('data.pkl'))!;
    let b = pkl.data;
    for (let k = 1 + rng.int(3); k > 0; k--) {
      const starts = opcodeStarts(b);
      const stop = starts[starts.length - 1] ?? b.length;
      const r = rng.next();
      if (r < 0.25) {
        b = mutateBytes(b, rng, rng.pick(corpus));
      } else if (r < 0.45) { // the snippet becomes the whole result: what the state-dict checks must survive
        b = Buffer.concat([b.subarray(0, stop), POP, snippet(rng), b.subarray(stop)]);
      } else if (r < 0.85) { // at an opcode boundary, stack kept balanced: the rest of the pickle still parses
        const at = rng.pick(starts);
        b = Buffer.concat([b.subarray(0, at), snippet(rng), rng.chance(0.8) ? POP : Buffer.alloc(0), b.subarray(at)]);
      } else { // anywhere, possibly cutting an opcode
        const at = rng.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), snippet(rng), b.subarray(at + (rng.chance(0.3) ? rng.int(8) : 0))]);
      }
    }
    return zipArchive(entries.map((e) => (e === pkl ? { ...e, data: b } : e)));
  },
  run: (input) => {
    // As the loader does: only floating-point tensors are decoded (integer ones are buffers it skips).
    for (const [name, t] of parseTorchCheckpoint(input, FILE, LIMITS)) {
      if (isFloatDType(t.dtype)) assertFinite(t.toFloat32(), `${FILE}: tensor ${name}`);
    }
  },
};
