// Non-GEMM kernels of the BERT forward/backward pass and the optimizer. Pure C++ over raw pointers: arguments are
// already validated by the bindings in addon.cc. Semantics are documented in src/native/api.ts.
#pragma once
#include <cstdint>

namespace bertfit {

enum class Gelu { Erf, Tanh };

// ---- bias ----
void bias_add(float* x, const float* bias, int64_t rows, int64_t cols);
void bias_backward(const float* dy, float* dbias, int64_t rows, int64_t cols);

// ---- GELU ----
void bias_gelu_forward(float* pre, const float* bias, float* out, int64_t rows, int64_t cols, Gelu kind);
void gelu_backward(const float* pre, const float* dout, float* dpre, int64_t n, Gelu kind);

// ---- LayerNorm ----
void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* out, float* mean, float* rstd,
                        int64_t rows, int64_t cols, float eps);
void layer_norm_backward(const float* dout, const float* x, const float* gamma, const float* mean, const float* rstd,
                         float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, bool accumulate);

// ---- attention softmax (+ fused dropout) ----
void softmax_forward(float* scores, const int32_t* valid_len, int64_t B, int64_t NH, int64_t Sq, int64_t Sk,
                     float scale, double p, uint64_t seed, uint64_t offset, float* dropped);
void softmax_backward(const float* probs, const float* dprobs, float* dscores, int64_t rows, int64_t cols, float scale,
                      double p, uint64_t seed, uint64_t offset);

// ---- dropout: out[i] = x[i] * keep(offset + i) / (1 - p); forward and backward are the same map ----
void dropout_apply(const float* x, float* out, int64_t n, double p, uint64_t seed, uint64_t offset);

// ---- embedding ----
void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim, bool accumulate);
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim);

// ---- tanh ----
void tanh_forward(const float* x, float* out, int64_t n);
void tanh_backward(const float* y, const float* dy, float* dx, int64_t n);

// ---- softmax cross-entropy (mean over B) ----
double cross_entropy_forward(const float* logits, const int32_t* labels, float* probs, int64_t B, int64_t C);
void cross_entropy_backward(const float* probs, const int32_t* labels, float* dlogits, int64_t B, int64_t C,
                            float scale);

// ---- vector ops / optimizer ----
double global_norm(const float* x, int64_t n);
// A 64-bit hash of the bit patterns of x[0, n) and their positions; the same for any thread count.
uint64_t checksum_f32(const float* x, int64_t n);
void scale(float* x, int64_t n, float s);
void axpy(float alpha, const float* x, float* y, int64_t n);
double clip_by_global_norm(float* g, int64_t n, double max_norm);

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;
  bool decoupled;
};
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h);

// ---- bf16 ----
void f32_to_bf16_n(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32_n(const uint16_t* src, float* dst, int64_t n);

// ---- attention head layouts: token-major [B, S, NH, D] rows ld apart <-> head-major [B, NH, S, D] dense ----
void tokens_to_heads_bf16(const float* src, int64_t ld, uint16_t* dst, int64_t B, int64_t S, int64_t NH, int64_t D);
void heads_to_tokens(const float* src, float* dst, int64_t ld, int64_t B, int64_t S, int64_t NH, int64_t D);

}  // namespace bertfit
