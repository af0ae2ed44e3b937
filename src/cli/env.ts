// The environment variables bertfit reads, checked before anything uses them, so a bad value is a usage error
// (exit 2) with a one-line message instead of a stack trace from the native core's loader.
import { UsageError } from '../errors.js';
import { parseMemoryLimit } from '../util/memory.js';

/** The native core's limit on BERTFIT_THREADS (native/addon.cc kMaxThreads). */
const MAX_THREADS = 1024;

/** Throws UsageError naming the first variable with a bad value. */
export function checkEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const threads = env.BERTFIT_THREADS;
  if (threads !== undefined && threads !== '') {
    const n = /^\d+$/.test(threads) ? Number(threads) : NaN;
    if (!(Number.isInteger(n) && n >= 1 && n <= MAX_THREADS)) {
      throw new UsageError(`BERTFIT_THREADS must be an integer in [1, ${MAX_THREADS}], got ${JSON.stringify(threads)}`);
    }
  }
  const gemm = env.BERTFIT_GEMM;
  if (gemm !== undefined && gemm !== '' && gemm !== 'onednn' && gemm !== 'builtin') {
    throw new UsageError(`BERTFIT_GEMM must be onednn or builtin, got ${JSON.stringify(gemm)}`);
  }
  const memory = env.BERTFIT_MEMORY_LIMIT;
  if (memory !== undefined && memory !== '') parseMemoryLimit(memory);
}
