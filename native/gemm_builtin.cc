// Built-in GEMM: a BLIS-style cache-blocked SGEMM (used without oneDNN, or with BERTFIT_GEMM=builtin).
//
// Loop nest for one matrix (C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C):
//   parallel for tile (ic, jc) of C:         MC x nc block, owned by one thread
//     for pc in K by KC:                     pack op(A)[ic:+MC, pc:+KC] into MR-high panels (L2),
//                                            pack op(B)[pc:+KC, jc:+nc] into NR-wide panels (L2)
//       for jr by NR, ir by MR:              MR x NR register tile, KC rank-1 updates (B panel stays in L1)
// Packing absorbs transposes, leading dimensions and bf16 -> fp32 conversion, so the micro-kernel sees one layout.
// Each C element is produced by one thread with a fixed summation order: results do not depend on thread count.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "common.h"
#include "gemm.h"

namespace bertfit {

namespace {

constexpr int MR = 8;    // register tile rows: 8 x 2 zmm accumulators
constexpr int NR = 32;   // register tile cols: two 16-float vectors
constexpr int64_t KC = 256;  // depth of a packed block: B micro-panel KC*NR*4 = 32 KiB fits L1
constexpr int64_t MC = 128;  // rows of a packed A block: MC*KC*4 = 128 KiB, L2-resident
constexpr int64_t NC_MAX = 1024;

// GCC vector extension: lowers to one zmm on AVX-512, two ymm on AVX2, and so on (no intrinsics to maintain).
typedef float v16 __attribute__((vector_size(64)));

inline v16 loadu(const float* p) { v16 v; std::memcpy(&v, p, sizeof v); return v; }
inline void storeu(float* p, v16 v) { std::memcpy(p, &v, sizeof v); }

inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t x) { return bf16_to_f32(x); }

// Ap[ip][k][r] = op(A)(i0 + ip*MR + r, p0 + k), zero rows past mc.
template <typename T>
void pack_a(const T* a, int64_t lda, bool trans, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* ap) {
  for (int64_t ip = 0; ip * MR < mc; ip++) {
    float* dst = ap + ip * MR * kc;
    const int64_t rows = std::min<int64_t>(MR, mc - ip * MR);
    const int64_t ib = i0 + ip * MR;
    if (trans) {  // A stored [K, M]: row k of the panel is contiguous in memory
      for (int64_t k = 0; k < kc; k++) {
        const T* src = a + (p0 + k) * lda + ib;
        for (int64_t r = 0; r < rows; r++) dst[k * MR + r] = to_f32(src[r]);
        for (int64_t r = rows; r < MR; r++) dst[k * MR + r] = 0.0f;
      }
    } else {  // A stored [M, K]
      for (int64_t r = 0; r < rows; r++) {
        const T* src = a + (ib + r) * lda + p0;
        for (int64_t k = 0; k < kc; k++) dst[k * MR + r] = to_f32(src[k]);
      }
      for (int64_t r = rows; r < MR; r++)
        for (int64_t k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
    }
  }
}

// dst[k][c] = op(B)(p0 + k, j0 + c) for one NR-wide panel, zero columns past n.
template <typename T>
void pack_b_panel(const T* b, int64_t ldb, bool trans, int64_t p0, int64_t kc, int64_t n, int64_t j0, float* dst) {
  const int64_t cols = std::min<int64_t>(NR, n - j0);
  if (trans) {  // B stored [N, K]
    for (int64_t c = 0; c < cols; c++) {
      const T* src = b + (j0 + c) * ldb + p0;
      for (int64_t k = 0; k < kc; k++) dst[k * NR + c] = to_f32(src[k]);
    }
    for (int64_t c = cols; c < NR; c++)
      for (int64_t k = 0; k < kc; k++) dst[k * NR + c] = 0.0f;
  } else {  // B stored [K, N]
    for (int64_t k = 0; k < kc; k++) {
      const T* src = b + (p0 + k) * ldb + j0;
      for (int64_t c = 0; c < cols; c++) dst[k * NR + c] = to_f32(src[c]);
      for (int64_t c = cols; c < NR; c++) dst[k * NR + c] = 0.0f;
    }
  }
}

// C[0:mr, 0:nr] = alpha * (Ap Bp) + beta * C   (beta == 0: C is not read)
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc, int mr,
                  int nr, float alpha, float beta) {
  v16 acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = v16{};
  for (int64_t k = 0; k < kc; k++) {
    const v16 b0 = *reinterpret_cast<const v16*>(bp + k * NR);
    const v16 b1 = *reinterpret_cast<const v16*>(bp + k * NR + 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      const float a = ap[k * MR + r];
      acc[r][0] += a * b0;
      acc[r][1] += a * b1;
    }
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      float* cr = c + r * ldc;
      v16 c0 = alpha * acc[r][0], c1 = alpha * acc[r][1];
      if (beta != 0.0f) {
        c0 += beta * loadu(cr);
        c1 += beta * loadu(cr + 16);
      }
      storeu(cr, c0);
      storeu(cr + 16, c1);
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int r = 0; r < MR; r++) {
    storeu(&tile[r][0], acc[r][0]);
    storeu(&tile[r][16], acc[r][1]);
  }
  for (int r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    for (int j = 0; j < nr; j++) cr[j] = alpha * tile[r][j] + (beta != 0.0f ? beta * cr[j] : 0.0f);
  }
}

// One matrix product. parallel=false when the caller already parallelises over the batch.
// C is cut into (MC x nc) tiles; a thread owns whole tiles and runs the full K loop for each, packing its own A and
// B blocks. Re-packing B per row block costs K*N per MC rows (< 1% of the MC*N*K flops) and buys a loop with no
// barrier until the end, which matters on a shared machine where any thread can be descheduled.
template <typename T>
void gemm_one(const GemmCall& g, const T* a, const T* b, float* c, bool parallel) {
  const int64_t M = g.m, N = g.n, K = g.k;
  const int nthr = parallel ? omp_get_max_threads() : 1;
  const int64_t n_panels = (N + NR - 1) / NR;
  const int64_t row_blocks = (M + MC - 1) / MC;
  // Split N into column tiles when there are too few row blocks to keep every thread busy.
  int64_t nc = std::min<int64_t>(NC_MAX, n_panels * NR);
  if (row_blocks < 2 * nthr) {
    const int64_t want = (2 * nthr + row_blocks - 1) / row_blocks;
    nc = std::max<int64_t>(NR, ((n_panels + want - 1) / want) * NR);
  }
  const int64_t col_tiles = (N + nc - 1) / nc;
  const int64_t tiles = row_blocks * col_tiles;
#pragma omp parallel for schedule(static) num_threads(nthr) if (nthr > 1 && tiles > 1 && M * N * K >= (1 << 18))
  for (int64_t t = 0; t < tiles; t++) {
    static thread_local AlignedBuf<float> a_buf, b_buf;
    const int64_t i0 = (t / col_tiles) * MC, j0 = (t % col_tiles) * nc;
    const int64_t mc = std::min(MC, M - i0), ncur = std::min(nc, N - j0);
    float* ap = a_buf.get(static_cast<size_t>(MC * KC));
    float* bp = b_buf.get(static_cast<size_t>(nc * KC));
    for (int64_t p0 = 0; p0 < K; p0 += KC) {
      const int64_t kc = std::min(KC, K - p0);
      const float beta = p0 == 0 ? g.beta : 1.0f;  // later K blocks accumulate into C
      pack_a(a, g.lda, g.trans_a, i0, mc, p0, kc, ap);
      for (int64_t jr = 0; jr < ncur; jr += NR) pack_b_panel(b, g.ldb, g.trans_b, p0, kc, N, j0 + jr, bp + jr * kc);
      for (int64_t jr = 0; jr < ncur; jr += NR) {
        for (int64_t ir = 0; ir < mc; ir += MR) {
          micro_kernel(kc, ap + (ir / MR) * MR * kc, bp + jr * kc, c + (i0 + ir) * g.ldc + j0 + jr, g.ldc,
                       static_cast<int>(std::min<int64_t>(MR, mc - ir)),
                       static_cast<int>(std::min<int64_t>(NR, ncur - jr)), g.alpha, beta);
        }
      }
    }
  }
}

template <typename T>
void gemm_batched(const GemmCall& g) {
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  const int64_t batch = g.batch_outer * g.batch_inner;
  auto run = [&](int64_t i, bool parallel) {
    const int64_t o = i / g.batch_inner, in = i % g.batch_inner;
    gemm_one<T>(g, a + o * g.stride_a_outer + in * g.stride_a_inner, b + o * g.stride_b_outer + in * g.stride_b_inner,
                g.c + o * g.stride_c_outer + in * g.stride_c_inner, parallel);
  };
  const int nthr = omp_get_max_threads();
  if (batch >= 2 * nthr || (batch >= nthr && g.m * g.n < 256 * 256)) {
    // Many small products (attention heads): one whole matrix per thread, no synchronisation inside.
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; i++) run(i, false);
  } else {
    for (int64_t i = 0; i < batch; i++) run(i, true);
  }
}

}  // namespace

void gemm_builtin(const GemmCall& g) {
  if (g.bf16) {
    gemm_batched<uint16_t>(g);
  } else {
    gemm_batched<float>(g);
  }
}

}  // namespace bertfit
