// Fully connected layer y = x W^T + b with W stored [out, in] (torch.nn.Linear), on the native GEMM.
// The GEMM operands (x, W, and dy in backward) come from `ops` (../mixed.ts): fp32 arrays, or their bf16 copies.
import { native } from '../../native/index.js';
import { FP32, type Operands } from '../mixed.js';

type F32 = Float32Array;

/**
 * y = x @ W^T (+ b), or y += x @ W^T when accumulate.
 *
 * Args:
 *   y: [N, out] (rows ldy apart, default out)
 *   x: [N, in] (rows ldx apart, default in: a larger ldx reads every k-th row, e.g. the [CLS] rows)
 *   W: [out, in];  b: [out] or null
 *   opts.ops: GEMM operand precision (default fp32)
 *   opts.keepX: bf16 only: round x into this [N, in] buffer, for linearBackward's opts.keptX
 */
export function linearForward(y: F32, x: F32, W: F32, b: F32 | null, N: number, inDim: number, outDim: number,
  opts: { ldx?: number; accumulate?: boolean; ops?: Operands; keepX?: Uint16Array | null } = {}): void {
  const ops = opts.ops ?? FP32;
  const xo = ops.act(x, 'a', N, inDim, opts.ldx ?? inDim, opts.keepX);
  native.gemm({ transB: true, m: N, n: outDim, k: inDim, a: xo.data, lda: xo.ld, b: ops.weight(W), c: y, beta: opts.accumulate ? 1 : 0 });
  if (b) native.biasAdd(y, b, N, outDim);
}

/**
 * Gradients of linearForward. Parameter gradients accumulate (dW += dy^T x, db += sum_rows dy).
 *
 * Args:
 *   dx: [N, in] (rows ldx apart) or null when the input needs no gradient; overwritten, or added to when accumulateDx.
 *       dx may be x itself (x is read before dx is written).
 *   dy: [N, out];  x: [N, in] (rows ldx apart);  W: [out, in]
 *   dW: [out, in];  db: [out] or null
 *   opts.ops: GEMM operand precision (default fp32); dW, db and dx are fp32 either way
 *   opts.keptX: bf16 only: x as forward rounded it (x itself is then not read)
 */
export function linearBackward(dx: F32 | null, dy: F32, x: F32, W: F32, dW: F32, db: F32 | null, N: number,
  inDim: number, outDim: number,
  opts: { ldx?: number; accumulateDx?: boolean; ops?: Operands; keptX?: Uint16Array | null } = {}): void {
  const ops = opts.ops ?? FP32;
  const ldx = opts.ldx ?? inDim;
  const dyo = ops.act(dy, 'b', N, outDim);
  const xo = ops.kept(x, opts.keptX, 'a', N, inDim, ldx);
  // dW[out, in] += dy^T[out, N] @ x[N, in]
  native.gemm({ transA: true, m: outDim, n: inDim, k: N, a: dyo.data, lda: dyo.ld, b: xo.data, ldb: xo.ld, c: dW, beta: 1 });
  if (db) native.biasBackward(dy, db, N, outDim);
  // dx[N, in] = dy[N, out] @ W[out, in]
  if (dx) {
    native.gemm({ m: N, n: inDim, k: outDim, a: dyo.data, lda: dyo.ld, b: ops.weight(W), c: dx, ldc: ldx, beta: opts.accumulateDx ? 1 : 0 });
  }
}
