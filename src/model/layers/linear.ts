// Fully connected layer y = x W^T + b with W stored [out, in] (torch.nn.Linear), on the native GEMM.
import { native } from '../../native/index.js';

type F32 = Float32Array;

/**
 * y = x @ W^T (+ b), or y += x @ W^T when accumulate.
 *
 * Args:
 *   y: [N, out] (rows ldy apart, default out)
 *   x: [N, in] (rows ldx apart, default in: a larger ldx reads every k-th row, e.g. the [CLS] rows)
 *   W: [out, in];  b: [out] or null
 */
export function linearForward(y: F32, x: F32, W: F32, b: F32 | null, N: number, inDim: number, outDim: number,
  opts: { ldx?: number; accumulate?: boolean } = {}): void {
  native.gemm({ transB: true, m: N, n: outDim, k: inDim, a: x, b: W, c: y, lda: opts.ldx ?? inDim, beta: opts.accumulate ? 1 : 0 });
  if (b) native.biasAdd(y, b, N, outDim);
}

/**
 * Gradients of linearForward. Parameter gradients accumulate (dW += dy^T x, db += sum_rows dy).
 *
 * Args:
 *   dx: [N, in] (rows ldx apart) or null when the input needs no gradient; overwritten, or added to when accumulateDx
 *   dy: [N, out];  x: [N, in] (rows ldx apart);  W: [out, in]
 *   dW: [out, in];  db: [out] or null
 */
export function linearBackward(dx: F32 | null, dy: F32, x: F32, W: F32, dW: F32, db: F32 | null, N: number,
  inDim: number, outDim: number, opts: { ldx?: number; accumulateDx?: boolean } = {}): void {
  const ldx = opts.ldx ?? inDim;
  // dW[out, in] += dy^T[out, N] @ x[N, in]
  native.gemm({ transA: true, m: outDim, n: inDim, k: N, a: dy, b: x, c: dW, ldb: ldx, beta: 1 });
  if (db) native.biasBackward(dy, db, N, outDim);
  // dx[N, in] = dy[N, out] @ W[out, in]
  if (dx) native.gemm({ m: N, n: inDim, k: outDim, a: dy, b: W, c: dx, ldc: ldx, beta: opts.accumulateDx ? 1 : 0 });
}
