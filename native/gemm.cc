// oneDNN GEMM path: the matmul primitive (brgemm kernels; AMX tiles for bf16 on Sapphire Rapids).
//
// Creating a primitive costs far more than running a BERT-sized product, so primitives live in a cache keyed by
// everything that shapes them: dtype, transposes (expressed as memory-descriptor strides, no copies), sizes,
// leading dimensions, batch strides, alpha (output scale), beta (sum post-op; beta == 0 adds no post-op, so C is
// never read) and the OpenMP thread count (oneDNN primitives must run with the thread count they were built for).
//
// Strided batches (attention heads) can run two ways:
//   "4d":   one matmul over [batchOuter, batchInner, M, K] descriptors with the caller's strides;
//   "loop": an OpenMP loop over the batch, each thread running a single-threaded 2-D primitive.
// By default a batch runs "4d" when oneDNN gives that primitive its brgemm kernels, which it does when every
// operand's batch is dense (a permutation of a packed tensor, e.g. heads stored [B, NH, S, D], or the context
// written token-major [B, S, NH, D]): one primitive call then covers all B*NH products (bf16 attention at base
// size: ~2-7 ms per product against ~9 ms looping, where per-call overhead dominates 2 MFLOP matrices). Heads read
// in place from a fused [B, S, 3H] QKV buffer are not dense; oneDNN 2.6 runs such 4-D descriptors with its generic
// gemm:jit path, several times slower for bf16 than the loop over dense AMX products, so those loop (at least as
// many matrices as threads) or run one after another on all threads. bench/gemm.ts measures both modes
// (BERTFIT_GEMM_BATCH=4d|loop forces one).
//
// Every primitive uses a caller-provided ("user") scratchpad, one buffer per thread: the "loop" mode runs ONE
// primitive on several threads at once, and with the library-managed scratchpad those threads share the
// primitive's buffer (Debian's oneDNN gives each primitive its own). The AMX bf16 kernels keep packed tiles there,
// so concurrent runs overwrote each other's and returned wrong products now and then; fp32 gemm:jit happened not
// to need a scratchpad.
#include "gemm.h"

#ifdef BERTFIT_HAVE_DNNL

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"

namespace bertfit {

namespace {

using dnnl::memory;
using Dims = memory::dims;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// Streams are not meant to be shared between threads; each thread gets its own.
dnnl::stream& thread_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

enum class BatchMode { Auto, FourD, Loop };

BatchMode batch_mode_from_env() {
  const char* v = std::getenv("BERTFIT_GEMM_BATCH");
  if (!v || !*v) return BatchMode::Auto;
  if (std::strcmp(v, "4d") == 0) return BatchMode::FourD;
  if (std::strcmp(v, "loop") == 0) return BatchMode::Loop;
  throw std::invalid_argument(std::string("BERTFIT_GEMM_BATCH must be '4d' or 'loop', got '") + v + "'");
}

struct Plan {
  dnnl::matmul prim;
  memory::desc a_md, b_md, c_md, scratch_md;
  bool brgemm = false;  // oneDNN picked one of its brgemm implementations ("brg:...")
};

using Key = std::array<int64_t, 21>;

std::mutex cache_mu;
std::map<Key, std::shared_ptr<const Plan>> cache;
// Bound memory if a caller sweeps many shapes; BERT uses a few dozen.
constexpr size_t kCacheMax = 1024;

int64_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Row/col strides of a stored [rows, cols] operand read as op(X) (transposed: swap the strides).
std::array<int64_t, 2> op_strides(bool trans, int64_t ld) { return trans ? std::array<int64_t, 2>{1, ld} : std::array<int64_t, 2>{ld, 1}; }

// Descriptor of `batch` matrices [r, c] (logical, after op) with element strides.
memory::desc make_md(memory::data_type dt, int64_t bo, int64_t bi, int64_t so, int64_t si, int64_t r, int64_t c,
                     std::array<int64_t, 2> rc) {
  if (bo == 1 && bi == 1) return memory::desc(Dims{r, c}, dt, Dims{rc[0], rc[1]});
  // A size-1 batch dim's stride never moves the pointer; give it a harmless non-zero value.
  const int64_t extent = std::max<int64_t>(1, (r - 1) * rc[0] + (c - 1) * rc[1] + 1);
  if (bi == 1) si = extent;
  if (bo == 1) so = std::max<int64_t>(extent, bi * si);
  return memory::desc(Dims{bo, bi, r, c}, dt, Dims{so, si, rc[0], rc[1]});
}

// oneDNN 2.6 picks its brgemm kernel first, but for fp32 with a row-major [K, N] B and a wide N its copy of B falls
// out of cache: 4096x3072x768 NN runs at ~27 GFLOP/s there against ~75 with the gemm:jit (sgemm) implementation of
// the same matmul primitive (bench/gemm.ts, ffn-down dX and dW). Both are exact fp32 GEMMs; the choice is a pure
// function of the shape, so results stay reproducible run to run.
const char* preferred_impl(const GemmCall& g) {
  if (!g.bf16 && !g.trans_b && g.n >= 2048) return "gemm:jit";
  return nullptr;
}

// Gets or builds the primitive for `g` seen as `bo x bi` matrices, built for `nthreads` threads.
std::shared_ptr<const Plan> get_plan(const GemmCall& g, int64_t bo, int64_t bi, int nthreads, int mode_tag) {
  const Key key = {g.bf16, g.trans_a, g.trans_b, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, bo, bi,
                   bo * bi > 1 ? g.stride_a_outer : 0, bo * bi > 1 ? g.stride_a_inner : 0,
                   bo * bi > 1 ? g.stride_b_outer : 0, bo * bi > 1 ? g.stride_b_inner : 0,
                   bo * bi > 1 ? g.stride_c_outer : 0, bo * bi > 1 ? g.stride_c_inner : 0,
                   float_bits(g.alpha), float_bits(g.beta), nthreads, mode_tag};
  {
    std::lock_guard<std::mutex> lock(cache_mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  const auto in_dt = g.bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  auto plan = std::make_shared<Plan>();
  plan->a_md = make_md(in_dt, bo, bi, g.stride_a_outer, g.stride_a_inner, g.m, g.k, op_strides(g.trans_a, g.lda));
  plan->b_md = make_md(in_dt, bo, bi, g.stride_b_outer, g.stride_b_inner, g.k, g.n, op_strides(g.trans_b, g.ldb));
  plan->c_md = make_md(memory::data_type::f32, bo, bi, g.stride_c_outer, g.stride_c_inner, g.m, g.n, {g.ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (g.alpha != 1.0f) attr.set_output_scales(0, {g.alpha});
  if (g.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(g.beta);
    attr.set_post_ops(po);
  }
  // oneDNN sizes its work split by omp_get_max_threads() at creation time.
  const int saved = omp_get_max_threads();
  if (nthreads != saved) omp_set_num_threads(nthreads);
  try {
    dnnl::matmul::desc desc(plan->a_md, plan->b_md, plan->c_md);
    dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
    if (const char* want = preferred_impl(g)) {
      dnnl::matmul::primitive_desc probe = pd;
      do {
        if (std::strncmp(probe.impl_info_str(), want, std::strlen(want)) == 0) {
          pd = probe;
          break;
        }
      } while (probe.next_impl());
    }
    plan->prim = dnnl::matmul(pd);
    plan->scratch_md = pd.scratchpad_desc();
    plan->brgemm = std::strncmp(pd.impl_info_str(), "brg:", 4) == 0;
  } catch (...) {
    if (nthreads != saved) omp_set_num_threads(saved);
    throw;
  }
  if (nthreads != saved) omp_set_num_threads(saved);
  std::lock_guard<std::mutex> lock(cache_mu);
  if (cache.size() >= kCacheMax) cache.clear();
  cache.emplace(key, plan);
  return plan;
}

// The calling thread's scratchpad for plan p (grow-only, so steady state never allocates).
memory thread_scratchpad(const Plan& p) {
  static thread_local AlignedBuf<uint8_t> buf;
  return memory(p.scratch_md, cpu_engine(), buf.get(std::max<size_t>(1, p.scratch_md.get_size())));
}

void execute(const Plan& p, const void* a, const void* b, float* c) {
  auto& eng = cpu_engine();
  memory am(p.a_md, eng, const_cast<void*>(a));
  memory bm(p.b_md, eng, const_cast<void*>(b));
  memory cm(p.c_md, eng, c);
  auto& s = thread_stream();
  p.prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, thread_scratchpad(p)}});
  s.wait();
}

// Per-thread dense copies of strided bf16 operands (run_loop).
struct AlignedScratch {
  AlignedBuf<uint16_t> a, b;
  AlignedBuf<float> c;
};

size_t elem_size(const GemmCall& g) { return g.bf16 ? 2 : 4; }

const void* offset_ptr(const void* base, int64_t elems, size_t esize) {
  return static_cast<const char*>(base) + elems * static_cast<int64_t>(esize);
}

// Copies a stored [rows, cols] matrix with row stride ld into dense rows (or back, with the strides swapped).
template <typename T>
void copy_rows(const T* src, int64_t src_ld, int64_t rows, int64_t cols, T* dst, int64_t dst_ld) {
  for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * dst_ld, src + r * src_ld, static_cast<size_t>(cols) * sizeof(T));
}

// One single-threaded 2-D product per batch matrix, the batch spread over OpenMP threads.
// oneDNN 2.6 only runs its AMX (brgemm) kernels on dense operands; attention heads inside a QKV buffer are strided
// (lda = 3H), which sends bf16 to the much slower gemm:jit path (QK^T 128x128x64: 7 vs ~150 GFLOP/s per thread).
// So for bf16 each thread first copies its strided operands into dense scratch; the copies are O(S*D) next to the
// O(S*S*D) product. fp32 gemm:jit is as fast as brgemm for these shapes and runs in place.
void run_loop(const GemmCall& g) {
  const int64_t batch = g.batch_outer * g.batch_inner;
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  GemmCall d = g;
  if (g.bf16) {
    d.lda = a_cols;
    d.ldb = b_cols;
    d.ldc = g.n;
  }
  const bool copy_a = d.lda != g.lda, copy_b = d.ldb != g.ldb, copy_c = d.ldc != g.ldc;
  auto plan = get_plan(d, 1, 1, 1, 1);
  const size_t es = elem_size(g);
  auto& eng = cpu_engine();
#pragma omp parallel
  {
    // Memory objects are re-pointed per matrix: set_data_handle is cheap, creating memory objects is not.
    memory am(plan->a_md, eng, DNNL_MEMORY_NONE), bm(plan->b_md, eng, DNNL_MEMORY_NONE),
        cm(plan->c_md, eng, DNNL_MEMORY_NONE);
    const memory sm = thread_scratchpad(*plan);
    static thread_local AlignedScratch scratch;
    uint16_t* a_dense = copy_a ? scratch.a.get(static_cast<size_t>(a_rows * a_cols)) : nullptr;
    uint16_t* b_dense = copy_b ? scratch.b.get(static_cast<size_t>(b_rows * b_cols)) : nullptr;
    float* c_dense = copy_c ? scratch.c.get(static_cast<size_t>(g.m * g.n)) : nullptr;
    auto& s = thread_stream();
#pragma omp for schedule(static)
    for (int64_t i = 0; i < batch; i++) {
      const int64_t o = i / g.batch_inner, in = i % g.batch_inner;
      const void* a = offset_ptr(g.a, o * g.stride_a_outer + in * g.stride_a_inner, es);
      const void* b = offset_ptr(g.b, o * g.stride_b_outer + in * g.stride_b_inner, es);
      float* c = g.c + o * g.stride_c_outer + in * g.stride_c_inner;
      if (copy_a) {
        copy_rows(static_cast<const uint16_t*>(a), g.lda, a_rows, a_cols, a_dense, a_cols);
        a = a_dense;
      }
      if (copy_b) {
        copy_rows(static_cast<const uint16_t*>(b), g.ldb, b_rows, b_cols, b_dense, b_cols);
        b = b_dense;
      }
      float* c_run = c;
      if (copy_c) {
        if (g.beta != 0.0f) copy_rows(c, g.ldc, g.m, g.n, c_dense, g.n);
        c_run = c_dense;
      }
      am.set_data_handle(const_cast<void*>(a));
      bm.set_data_handle(const_cast<void*>(b));
      cm.set_data_handle(c_run);
      plan->prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}});
      if (copy_c) {
        s.wait();
        copy_rows(c_dense, g.n, g.m, g.n, c, g.ldc);
      }
    }
    s.wait();
  }
}

}  // namespace

void gemm_onednn(const GemmCall& g) {
  const int nthr = omp_get_max_threads();
  const int64_t batch = g.batch_outer * g.batch_inner;
  // Read per call (getenv is ~50 ns next to a >= 10 us product) so bench/gemm.ts can compare modes in one process.
  const BatchMode mode = batch_mode_from_env();
  // A matrix shared by the whole batch (stride 0) has no 4-D descriptor: those always loop.
  const bool strided = [&] {
    const int64_t so[] = {g.stride_a_outer, g.stride_b_outer, g.stride_c_outer};
    const int64_t si[] = {g.stride_a_inner, g.stride_b_inner, g.stride_c_inner};
    for (int i = 0; i < 3; i++) {
      if ((g.batch_outer > 1 && so[i] == 0) || (g.batch_inner > 1 && si[i] == 0)) return false;
    }
    return true;
  }();
  if (batch > 1 && (mode == BatchMode::FourD || (mode == BatchMode::Auto && strided))) {
    // The 4-D plan is built (and cached) either way: whether oneDNN gives it brgemm decides the mode.
    auto plan = get_plan(g, g.batch_outer, g.batch_inner, nthr, 0);
    if (mode == BatchMode::FourD || plan->brgemm) {
      execute(*plan, g.a, g.b, g.c);
      return;
    }
  }
  if (batch > 1 && (mode == BatchMode::Loop || batch >= nthr)) {
    run_loop(g);
  } else {
    // One big product, or fewer matrices than threads: each runs on all threads.
    auto plan = get_plan(g, 1, 1, nthr, 0);
    const size_t es = elem_size(g);
    for (int64_t i = 0; i < batch; i++) {
      const int64_t o = i / g.batch_inner, in = i % g.batch_inner;
      execute(*plan, offset_ptr(g.a, o * g.stride_a_outer + in * g.stride_a_inner, es),
              offset_ptr(g.b, o * g.stride_b_outer + in * g.stride_b_inner, es),
              g.c + o * g.stride_c_outer + in * g.stride_c_inner);
    }
  }
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string onednn_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::all: return "all";
  }
  return "";
}

}  // namespace bertfit

#endif  // BERTFIT_HAVE_DNNL
