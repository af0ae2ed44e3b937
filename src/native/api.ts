// The contract between TypeScript and the native compute core (native/*.cc).
//
// Every function works in place on caller-owned typed arrays (zero copy): Float32Array for fp32,
// Uint16Array for bf16 storage, Int32Array for ids / labels / lengths. Matrices are row-major.
// Sizes are element counts. Views (`buf.subarray(off, off + n)`) are the way to address a slice.
// Every function validates its arguments and throws a TypeError / RangeError naming the argument
// (e.g. "gemm: c is too short: needs 4096 elements, has 4000") instead of reading out of bounds.
//
// Dimension legend used in comments: B batch, S sequence length, H hidden, NH heads, D head dim,
// F intermediate size, V vocab, C classes, N a flat element count.

export type F32 = Float32Array;
export type BF16 = Uint16Array;
export type GemmOperand = Float32Array | Uint16Array;

export interface NativeInfo {
  /** 'onednn' or 'builtin' (the backend GEMMs use right now; BERTFIT_GEMM=builtin forces the latter). */
  backend: 'onednn' | 'builtin';
  /** oneDNN version string, or 'builtin' */
  version: string;
  /** true when the addon was compiled with oneDNN available */
  onednnCompiled: boolean;
  /** true when the addon was compiled against MPI (mpi.h found at build time): the mpi* functions work */
  mpiCompiled: boolean;
  threads: number;
  /** CPU features detected at runtime and used by our kernels / oneDNN, e.g. ['avx2','avx512f','avx512_bf16','amx_bf16'] */
  cpuFeatures: string[];
  /** oneDNN's chosen ISA (e.g. 'avx512_core_amx'), or '' */
  isa: string;
}

export interface GemmParams {
  /** op(A) = A^T when true; A is then stored [K, M] */
  transA?: boolean;
  /** op(B) = B^T when true; B is then stored [N, K] */
  transB?: boolean;
  m: number;
  n: number;
  k: number;
  /** default 1 */
  alpha?: number;
  /** default 0; C = alpha * op(A) op(B) + beta * C */
  beta?: number;
  /** Float32Array, or Uint16Array holding bf16 (then b must be bf16 too); accumulation and C are fp32 */
  a: GemmOperand;
  b: GemmOperand;
  c: F32;
  /** leading dimensions (row strides), default: dense (lda = transA ? m : k, ldb = transB ? k : n, ldc = n) */
  lda?: number;
  ldb?: number;
  ldc?: number;
  /** Strided batch (for attention heads without copies): batch = batchOuter * batchInner matrices.
   *  Matrix i of X starts at floor(i / batchInner) * strideXOuter + (i % batchInner) * strideXInner.
   *  Defaults: strideXInner = the dense size of one stored matrix (rows * ldX), strideXOuter = batchInner * strideXInner.
   *  A and B strides may be 0 (one matrix shared by the batch); C strides must be > 0 where that batch dim is > 1.
   *  C must not overlap A or B (checked: RangeError "gemm: c must not overlap a"). */
  batchOuter?: number;
  batchInner?: number;
  strideAOuter?: number;
  strideAInner?: number;
  strideBOuter?: number;
  strideBInner?: number;
  strideCOuter?: number;
  strideCInner?: number;
}

/** Where this process sits in the MPI job (mpiInit). */
export interface MpiWorld {
  /** 0 .. size-1 in MPI_COMM_WORLD */
  rank: number;
  size: number;
  /** rank among the processes on this machine, and how many there are */
  localRank: number;
  localSize: number;
  /** MPI_Get_processor_name (the host name) */
  host: string;
  /** e.g. "Open MPI v4.1.4" */
  library: string;
}

export type GeluKind = 'erf' | 'tanh';

export interface NativeCore {
  info(): NativeInfo;
  /** Threads for all kernels and oneDNN. Default: BERTFIT_THREADS, else all cores. */
  setThreads(n: number): void;
  /** Extension: switch the GEMM backend at run time (same effect as BERTFIT_GEMM at load time).
   *  'onednn' throws a RangeError when the addon was built without oneDNN. */
  setGemmBackend(backend: 'onednn' | 'builtin'): void;

  /** C = alpha * op(A) @ op(B) + beta * C (optionally strided-batched, see GemmParams). */
  gemm(p: GemmParams): void;

  /** x[r, c] += bias[c]   x: [rows, cols], bias: [cols] */
  biasAdd(x: F32, bias: F32, rows: number, cols: number): void;
  /** dbias[c] += sum_r dy[r, c]   (accumulates) */
  biasBackward(dy: F32, dbias: F32, rows: number, cols: number): void;

  /** pre[r,c] += bias[c] (kept for backward), out = gelu(pre).  pre, out: [rows, cols] */
  biasGeluForward(pre: F32, bias: F32, out: F32, rows: number, cols: number, kind: GeluKind): void;
  /** dpre = dout * gelu'(pre); dpre may alias dout.  [n] */
  geluBackward(pre: F32, dout: F32, dpre: F32, n: number, kind: GeluKind): void;

  /** out = (x - mean) * rstd * gamma + beta per row; saves mean[rows], rstd[rows] for backward. out may alias x. */
  layerNormForward(x: F32, gamma: F32, beta: F32, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  /** dx = LN'(dout) (overwritten, or added to dx when accumulate), dgamma += ..., dbeta += ... ; x is the LN input.
   *  dx must not overlap dout or x (dgamma/dbeta are summed from them after dx is written). */
  layerNormBackward(dout: F32, x: F32, gamma: F32, mean: F32, rstd: F32, dx: F32, dgamma: F32, dbeta: F32,
    rows: number, cols: number, accumulate: boolean): void;

  /** Attention softmax over scores [B, NH, Sq, Sk] in place -> probs:
   *  probs = softmax(scale * scores + mask), keys j >= validLen[b] get probability 0 (validLen: Int32Array [B],
   *  each in [0, Sk]; a row with validLen 0 is all zeros). dropped must not overlap scores.
   *  When dropoutP > 0, also writes dropped = probs * keep / (1 - p) with the mask of dropout(seed, offset)
   *  over the flat index of probs (the same mask dropoutForward would make for that seed/offset). */
  softmaxForward(scores: F32, validLen: Int32Array, B: number, NH: number, Sq: number, Sk: number, scale: number,
    dropoutP: number, seed: number, offset: number, dropped: F32 | null): void;
  /** dscores = scale * probs * (dprobs - sum_j dprobs * probs), per row.  dscores may alias dprobs.
   *  When dropoutP > 0, dprobs is the gradient w.r.t. the dropped probs and the mask is regenerated first. */
  softmaxBackward(probs: F32, dprobs: F32, dscores: F32, rows: number, cols: number, scale: number,
    dropoutP: number, seed: number, offset: number): void;

  /** out[i] = x[i] * keep(i) / (1 - p); keep(i) = philox(seed, offset + i) >= p. Same seed/offset => same mask, any thread count. out may alias x.
   *  Exactly: element c of the stream of `seed` is word (c mod 4) of Philox4x32-10 with counter
   *  {lo32(c / 4), hi32(c / 4), 0, 0} and key {lo32(seed), hi32(seed)}; keep(i) = (bits(offset + i) >> 8) * 2^-24 >= p.
   *  p in [0, 1] (p = 1 drops everything); seed and offset are integers in [0, 2^53). A layer that draws n masks
   *  per step should advance offset by n so masks never repeat. */
  dropoutForward(x: F32, out: F32, n: number, p: number, seed: number, offset: number): void;
  /** dx[i] = dout[i] * keep(i) / (1 - p) (regenerates the mask). dx may alias dout. */
  dropoutBackward(dout: F32, dx: F32, n: number, p: number, seed: number, offset: number): void;

  /** out[i, :] (= or += when accumulate) table[ids[i], :]   ids: [n], table: [V, dim], out: [n, dim]; ids out of range throw. */
  embeddingForward(ids: Int32Array, table: F32, out: F32, n: number, dim: number, accumulate: boolean): void;
  /** dtable[ids[i], :] += dout[i, :]  (deterministic scatter-add) */
  embeddingBackward(ids: Int32Array, dout: F32, dtable: F32, n: number, dim: number): void;

  /** out = tanh(x) */
  tanhForward(x: F32, out: F32, n: number): void;
  /** dx = dy * (1 - y^2), y = tanh output. dx may alias dy. */
  tanhBackward(y: F32, dy: F32, dx: F32, n: number): void;

  /** Softmax cross-entropy with mean reduction. logits [B, C], labels Int32Array [B]; writes probs [B, C]; returns mean loss. */
  crossEntropyForward(logits: F32, labels: Int32Array, probs: F32, B: number, C: number): number;
  /** dlogits = scale * (probs - onehot(labels)) / B   (scale default 1; overwritten) */
  crossEntropyBackward(probs: F32, labels: Int32Array, dlogits: F32, B: number, C: number, scale: number): void;

  /** sqrt(sum x^2) with fp64 accumulation, deterministic for a given thread count. */
  globalNorm(x: F32): number;
  /** A 64-bit checksum of x's bit patterns and positions as 16 hex digits; the same for any thread count
   *  (data-parallel ranks compare their parameters with it). */
  checksum(x: F32): string;
  /** x *= s */
  scale(x: F32, s: number): void;
  /** y += alpha * x */
  axpy(alpha: number, x: F32, y: F32): void;
  /** If ||g|| > maxNorm, g *= maxNorm / (||g|| + 1e-6) (PyTorch clip_grad_norm_); returns the norm before clipping. */
  clipByGlobalNorm(g: F32, maxNorm: number): number;

  /** One Adam / AdamW step over a flat slice (PyTorch semantics):
   *  decoupled=false (Adam, L2): g += wd * p;  decoupled=true (AdamW): p *= 1 - lr * wd.
   *  m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps). */
  adamUpdate(param: F32, grad: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number, decoupled: boolean): void;

  /** Round-to-nearest-even fp32 -> bf16 (NaN stays NaN). */
  f32ToBf16(src: F32, dst: BF16, n: number): void;
  bf16ToF32(src: BF16, dst: F32, n: number): void;

  /** Extension (bf16 attention): dst[b, h, s, :] = bf16(src[b*S + s, h*D .. h*D+D-1]).
   *  src: token-major [B*S rows, ld apart] (ld >= NH*D, e.g. 3H for one third of a fused QKV buffer);
   *  dst: head-major [B, NH, S, D], dense. */
  toHeadsBf16(src: F32, ld: number, dst: BF16, B: number, S: number, NH: number, D: number): void;
  /** Extension, the inverse layout move in fp32: dst[b*S + s, h*D .. h*D+D-1] = src[b, h, s, :] (other columns of
   *  dst untouched). src: [B, NH, S, D] dense; dst: [B*S rows, ld apart]; they must not overlap. */
  fromHeads(src: F32, dst: F32, ld: number, B: number, S: number, NH: number, D: number): void;

  // ---- MPI (data-parallel training, src/parallel/). Without an MPI build (info().mpiCompiled false) each throws an
  // Error saying so. All are collective over MPI_COMM_WORLD (every rank must call them in the same order) and
  // block until done; the Node main thread only. ----

  /** MPI_Init_thread (once; later calls return the same world). Makes libmpi's symbols global first (Open MPI's
   *  plugins need them; Node loads addons RTLD_LOCAL). */
  mpiInit(): MpiWorld;
  /** MPI_Finalize (no-op when not initialised or already finalised); MPI cannot start again afterwards. */
  mpiFinalize(): void;
  /** The bytes of buf on `root` copied into buf on every rank (same byte length everywhere). */
  mpiBroadcast(buf: ArrayBufferView, root: number): void;
  /** buf = sum / max / min over the ranks, element-wise, in place (fp32 sums: the gradients; fp64: statistics). */
  mpiAllreduce(buf: Float32Array | Float64Array, op: 'sum' | 'max' | 'min'): void;
  mpiBarrier(): void;
  /** MPI_Abort: every rank of the job ends (mpirun kills them) with exit status `code`. Does not return. */
  mpiAbort(code: number): never;
}
