// GEMM dispatch: C = alpha * op(A) op(B) + beta * C over a strided batch of matrices.
// GemmCall is the validated form of api.ts GemmParams; the bindings in gemm_api.cc build it.
#pragma once
#include <cstdint>
#include <string>

namespace bertfit {

struct GemmCall {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f, beta = 0.0f;
  bool bf16 = false;  // a and b hold bf16 (uint16_t) instead of float
  const void* a = nullptr;
  const void* b = nullptr;
  float* c = nullptr;
  int64_t lda = 0, ldb = 0, ldc = 0;
  // matrix i lives at (i / batch_inner) * stride_outer + (i % batch_inner) * stride_inner (in elements)
  int64_t batch_outer = 1, batch_inner = 1;
  int64_t stride_a_outer = 0, stride_a_inner = 0;
  int64_t stride_b_outer = 0, stride_b_inner = 0;
  int64_t stride_c_outer = 0, stride_c_inner = 0;
};

enum class GemmBackend { OneDnn, Builtin };

// Runs the call on the given backend. m, n, k are all > 0 here (gemm_api.cc handles empty products).
void gemm_builtin(const GemmCall& g);
#ifdef BERTFIT_HAVE_DNNL
void gemm_onednn(const GemmCall& g);
// oneDNN version "2.6.3" and the ISA its kernels dispatch to, e.g. "avx512_core_amx".
std::string onednn_version();
std::string onednn_isa();
#endif

// Backend selection: BERTFIT_GEMM=builtin at load time, or set_gemm_backend() at run time.
GemmBackend gemm_backend();
void set_gemm_backend(GemmBackend b);
bool onednn_compiled();

}  // namespace bertfit
