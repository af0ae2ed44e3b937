// Non-GEMM kernels (see kernels.h / src/native/api.ts for semantics). Conventions:
//  - Row-wise ops parallelise over rows; reductions over rows (bias/LN/embedding grads) parallelise over column
//    blocks so every sum runs in a fixed order and results are bit-identical for any thread count.
//  - Inner loops are `omp simd` over contiguous memory using the vectorisable math in vecmath.h.
#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "philox.h"
#include "vecmath.h"

namespace bertfit {

namespace {
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParMin = 1 << 15;
// Column block for reductions over rows: 64 floats = 4 zmm accumulators per row visited.
constexpr int64_t kColBlock = 64;
// Dropout chunk: random bits for one chunk live on the stack.
constexpr int64_t kDropChunk = 4096;

constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluTanhC = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;  // 1/sqrt(2 pi)

inline float dropout_scale(double p) { return p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f; }
}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// bias
// ---------------------------------------------------------------------------------------------------------------

// x: [rows, cols] += bias: [cols]
void bias_add(float* x, const float* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParMin)
  for (int64_t r = 0; r < rows; r++) {
    float* xr = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) xr[c] += bias[c];
  }
}

// dbias: [cols] += sum over rows of dy: [rows, cols]
void bias_backward(const float* dy, float* dbias, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParMin)
  for (int64_t c0 = 0; c0 < cols; c0 += kColBlock) {
    const int64_t nc = std::min(kColBlock, cols - c0);
    float acc[kColBlock] = {};
    for (int64_t r = 0; r < rows; r++) {
      const float* row = dy + r * cols + c0;
#pragma omp simd
      for (int64_t c = 0; c < nc; c++) acc[c] += row[c];
    }
    for (int64_t c = 0; c < nc; c++) dbias[c0 + c] += acc[c];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// GELU: erf form x Phi(x) = 0.5 x erfc(-x / sqrt2); tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// ---------------------------------------------------------------------------------------------------------------

#pragma omp declare simd
static inline float gelu_erf(float x) { return 0.5f * x * verfc(-x * kInvSqrt2); }

#pragma omp declare simd
static inline float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + vtanh(kSqrt2OverPi * (x + kGeluTanhC * x * x * x)));
}

// d/dx gelu_erf = Phi(x) + x phi(x)
#pragma omp declare simd
static inline float dgelu_erf(float x) {
  return 0.5f * verfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * vexp(-0.5f * x * x);
}

// d/dx gelu_tanh = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
#pragma omp declare simd
static inline float dgelu_tanh(float x) {
  float t = vtanh(kSqrt2OverPi * (x + kGeluTanhC * x * x * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhC * x * x);
}

// pre: [rows, cols] += bias: [cols]; out: [rows, cols] = gelu(pre)
void bias_gelu_forward(float* pre, const float* bias, float* out, int64_t rows, int64_t cols, Gelu kind) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParMin)
  for (int64_t r = 0; r < rows; r++) {
    float* p = pre + r * cols;
    float* o = out + r * cols;
    if (kind == Gelu::Erf) {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) {
        float x = p[c] + bias[c];
        p[c] = x;
        o[c] = gelu_erf(x);
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) {
        float x = p[c] + bias[c];
        p[c] = x;
        o[c] = gelu_tanh(x);
      }
    }
  }
}

// dpre: [n] = dout * gelu'(pre); dpre may alias dout
void gelu_backward(const float* pre, const float* dout, float* dpre, int64_t n, Gelu kind) {
  if (kind == Gelu::Erf) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
    for (int64_t i = 0; i < n; i++) dpre[i] = dout[i] * dgelu_erf(pre[i]);
  } else {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
    for (int64_t i = 0; i < n; i++) dpre[i] = dout[i] * dgelu_tanh(pre[i]);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNorm over the last dim (biased variance, like torch.nn.functional.layer_norm)
// ---------------------------------------------------------------------------------------------------------------

// x, out: [rows, cols]; gamma, beta: [cols]; mean, rstd: [rows]. out may alias x.
void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* out, float* mean, float* rstd,
                        int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; c++) sum += xr[c];
    const float m = sum / static_cast<float>(cols);
    float sq = 0.0f;  // two-pass variance: no cancellation for rows with a large mean
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < cols; c++) {
      float d = xr[c] - m;
      sq += d * d;
    }
    const float rs = 1.0f / std::sqrt(sq / static_cast<float>(cols) + eps);
    mean[r] = m;
    rstd[r] = rs;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) o[c] = (xr[c] - m) * rs * gamma[c] + beta[c];
  }
}

// With xhat = (x - mean) rstd and g = dout * gamma:
//   dx = rstd (g - mean(g) - xhat mean(g xhat));  dgamma += sum_rows dout xhat;  dbeta += sum_rows dout.
void layer_norm_backward(const float* dout, const float* x, const float* gamma, const float* mean, const float* rstd,
                         float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, bool accumulate) {
  const float inv_cols = 1.0f / static_cast<float>(cols);
#pragma omp parallel for schedule(static) if (rows * cols >= kParMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* dy = dout + r * cols;
    const float* xr = x + r * cols;
    float* d = dx + r * cols;
    const float m = mean[r], rs = rstd[r];
    float sum_g = 0.0f, sum_gx = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
    for (int64_t c = 0; c < cols; c++) {
      float g = dy[c] * gamma[c];
      sum_g += g;
      sum_gx += g * (xr[c] - m) * rs;
    }
    const float mg = sum_g * inv_cols, mgx = sum_gx * inv_cols;
    if (accumulate) {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) d[c] += rs * (dy[c] * gamma[c] - mg - (xr[c] - m) * rs * mgx);
    } else {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) d[c] = rs * (dy[c] * gamma[c] - mg - (xr[c] - m) * rs * mgx);
    }
  }
#pragma omp parallel for schedule(static) if (rows * cols >= kParMin)
  for (int64_t c0 = 0; c0 < cols; c0 += kColBlock) {
    const int64_t nc = std::min(kColBlock, cols - c0);
    float ag[kColBlock] = {}, ab[kColBlock] = {};
    for (int64_t r = 0; r < rows; r++) {
      const float* dy = dout + r * cols + c0;
      const float* xr = x + r * cols + c0;
      const float m = mean[r], rs = rstd[r];
#pragma omp simd
      for (int64_t c = 0; c < nc; c++) {
        ag[c] += dy[c] * (xr[c] - m) * rs;
        ab[c] += dy[c];
      }
    }
    for (int64_t c = 0; c < nc; c++) {
      dgamma[c0 + c] += ag[c];
      dbeta[c0 + c] += ab[c];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Attention softmax with key-length masking and fused dropout
// ---------------------------------------------------------------------------------------------------------------

// scores: [B, NH, Sq, Sk] -> probs in place; dropped (when p > 0): probs * keep / (1 - p).
void softmax_forward(float* scores, const int32_t* valid_len, int64_t B, int64_t NH, int64_t Sq, int64_t Sk,
                     float scale, double p, uint64_t seed, uint64_t offset, float* dropped) {
  const int64_t rows = B * NH * Sq;
  const int64_t rows_per_batch = NH * Sq;
  const bool drop = p > 0.0 && dropped != nullptr;
  const uint32_t thr = dropout_threshold(p);
  const float keep_scale = dropout_scale(p);
#pragma omp parallel if (rows * Sk >= kParMin)
  {
    static thread_local AlignedBuf<uint32_t> bits_buf;
    uint32_t* bits = drop ? bits_buf.get(static_cast<size_t>(Sk)) : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      float* s = scores + r * Sk;
      const int64_t vl = valid_len[r / rows_per_batch];
      float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
      for (int64_t j = 0; j < vl; j++) mx = std::max(mx, s[j] * scale);
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < vl; j++) {
        float e = vexp(s[j] * scale - mx);
        s[j] = e;
        sum += e;
      }
      const float inv = vl > 0 ? 1.0f / sum : 0.0f;
#pragma omp simd
      for (int64_t j = 0; j < vl; j++) s[j] *= inv;
      for (int64_t j = vl; j < Sk; j++) s[j] = 0.0f;
      if (drop) {
        philox_stream(seed, offset + static_cast<uint64_t>(r * Sk), Sk, bits);
        float* d = dropped + r * Sk;
#pragma omp simd
        for (int64_t j = 0; j < Sk; j++) d[j] = s[j] * ((bits[j] >> 8) >= thr ? keep_scale : 0.0f);
      }
    }
  }
}

// probs, dprobs, dscores: [rows, cols]. dscores = scale * probs * (dp - sum_j dp * probs), where dp = dprobs, or
// dprobs * keep / (1 - p) when dprobs is the gradient of the dropped probs.
void softmax_backward(const float* probs, const float* dprobs, float* dscores, int64_t rows, int64_t cols, float scale,
                      double p, uint64_t seed, uint64_t offset) {
  const bool drop = p > 0.0;
  const uint32_t thr = dropout_threshold(p);
  const float keep_scale = dropout_scale(p);
#pragma omp parallel if (rows * cols >= kParMin)
  {
    static thread_local AlignedBuf<float> mult_buf;
    static thread_local AlignedBuf<uint32_t> bits_buf;
    float* mult = drop ? mult_buf.get(static_cast<size_t>(cols)) : nullptr;
    uint32_t* bits = drop ? bits_buf.get(static_cast<size_t>(cols)) : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* pr = probs + r * cols;
      const float* dp = dprobs + r * cols;
      float* ds = dscores + r * cols;
      float dot = 0.0f;
      if (drop) {
        philox_stream(seed, offset + static_cast<uint64_t>(r * cols), cols, bits);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) mult[j] = (bits[j] >> 8) >= thr ? keep_scale : 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < cols; j++) dot += dp[j] * mult[j] * pr[j];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) ds[j] = scale * pr[j] * (dp[j] * mult[j] - dot);
      } else {
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < cols; j++) dot += dp[j] * pr[j];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) ds[j] = scale * pr[j] * (dp[j] - dot);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Dropout
// ---------------------------------------------------------------------------------------------------------------

// out[i] = x[i] * (keep(offset + i) ? 1/(1-p) : 0). Multiplying (not selecting) keeps torch's NaN propagation.
void dropout_apply(const float* x, float* out, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const uint32_t thr = dropout_threshold(p);
  const float keep_scale = dropout_scale(p);
#pragma omp parallel for schedule(static) if (n >= kParMin)
  for (int64_t c0 = 0; c0 < n; c0 += kDropChunk) {
    const int64_t len = std::min(kDropChunk, n - c0);
    alignas(64) uint32_t bits[kDropChunk];
    philox_stream(seed, offset + static_cast<uint64_t>(c0), len, bits);
#pragma omp simd
    for (int64_t i = 0; i < len; i++) out[c0 + i] = x[c0 + i] * ((bits[i] >> 8) >= thr ? keep_scale : 0.0f);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Embedding
// ---------------------------------------------------------------------------------------------------------------

// out: [n, dim] (= or +=) table[ids[i], :]; ids were range-checked by the caller.
void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim, bool accumulate) {
#pragma omp parallel for schedule(static) if (n * dim >= kParMin)
  for (int64_t i = 0; i < n; i++) {
    const float* src = table + static_cast<int64_t>(ids[i]) * dim;
    float* dst = out + i * dim;
    if (accumulate) {
#pragma omp simd
      for (int64_t c = 0; c < dim; c++) dst[c] += src[c];
    } else {
      std::copy(src, src + dim, dst);
    }
  }
}

// dtable[ids[i], :] += dout[i, :]. Each thread owns a column block and walks i in order: no atomics, and the
// summation order of a repeated id is always i ascending.
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim) {
#pragma omp parallel for schedule(static) if (n * dim >= kParMin)
  for (int64_t c0 = 0; c0 < dim; c0 += kColBlock) {
    const int64_t nc = std::min(kColBlock, dim - c0);
    for (int64_t i = 0; i < n; i++) {
      float* dst = dtable + static_cast<int64_t>(ids[i]) * dim + c0;
      const float* src = dout + i * dim + c0;
#pragma omp simd
      for (int64_t c = 0; c < nc; c++) dst[c] += src[c];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// tanh
// ---------------------------------------------------------------------------------------------------------------

void tanh_forward(const float* x, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) out[i] = vtanh(x[i]);
}

void tanh_backward(const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

// ---------------------------------------------------------------------------------------------------------------
// Softmax cross-entropy, mean over the batch
// ---------------------------------------------------------------------------------------------------------------

// logits, probs: [B, C]; labels: [B] in [0, C). Returns mean_b (logsumexp(logits_b) - logits_b[label_b]).
double cross_entropy_forward(const float* logits, const int32_t* labels, float* probs, int64_t B, int64_t C) {
  std::vector<double> loss(static_cast<size_t>(B));
#pragma omp parallel for schedule(static) if (B * C >= kParMin)
  for (int64_t b = 0; b < B; b++) {
    const float* l = logits + b * C;
    float* pr = probs + b * C;
    float mx = -INFINITY;
    for (int64_t c = 0; c < C; c++) mx = std::max(mx, l[c]);
    double sum = 0.0;
    for (int64_t c = 0; c < C; c++) sum += std::exp(static_cast<double>(l[c]) - mx);
    for (int64_t c = 0; c < C; c++) pr[c] = static_cast<float>(std::exp(static_cast<double>(l[c]) - mx) / sum);
    loss[b] = std::log(sum) + mx - static_cast<double>(l[labels[b]]);
  }
  double total = 0.0;  // summed in batch order: deterministic
  for (int64_t b = 0; b < B; b++) total += loss[b];
  return B > 0 ? total / static_cast<double>(B) : 0.0;
}

// dlogits: [B, C] = scale * (probs - onehot(labels)) / B
void cross_entropy_backward(const float* probs, const int32_t* labels, float* dlogits, int64_t B, int64_t C,
                            float scale) {
  const float s = B > 0 ? scale / static_cast<float>(B) : 0.0f;
#pragma omp parallel for schedule(static) if (B * C >= kParMin)
  for (int64_t b = 0; b < B; b++) {
    const float* pr = probs + b * C;
    float* d = dlogits + b * C;
    for (int64_t c = 0; c < C; c++) d[c] = s * (pr[c] - (c == labels[b] ? 1.0f : 0.0f));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Vector ops and the optimizer
// ---------------------------------------------------------------------------------------------------------------

// Partial sums over fixed 8192-element chunks, added in chunk order: the result does not depend on thread count.
double global_norm(const float* x, int64_t n) {
  constexpr int64_t kChunk = 8192;
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(nchunks));
#pragma omp parallel for schedule(static) if (n >= kParMin)
  for (int64_t ch = 0; ch < nchunks; ch++) {
    const int64_t c0 = ch * kChunk, c1 = std::min(n, c0 + kChunk);
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = c0; i < c1; i++) acc += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    part[ch] = acc;
  }
  double total = 0.0;
  for (double v : part) total += v;
  return std::sqrt(total);
}

// splitmix64's finaliser: a bijection of 64-bit words that spreads every input bit over the output.
static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Sum mod 2^64 of mix64(position, bits): addition is associative and commutative, so any thread split gives the
// same value, while the position inside the mix makes swapped elements change it.
uint64_t checksum_f32(const float* x, int64_t n) {
  uint64_t total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits;
    std::memcpy(&bits, x + i, 4);
    total += mix64((static_cast<uint64_t>(i) << 32) ^ bits);
  }
  return total;
}

void scale(float* x, int64_t n, float s) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

// torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied only when it shrinks.
double clip_by_global_norm(float* g, int64_t n, double max_norm) {
  const double norm = global_norm(g, n);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) scale(g, n, static_cast<float>(coef));
  return norm;
}

// torch.optim.Adam / AdamW (single-tensor path, amsgrad=False, maximize=False). Bias corrections are computed in
// double like torch's Python-side scalars, element math in fp32 like its CPU kernels.
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h) {
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  const float step_size = static_cast<float>(h.lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float b1 = static_cast<float>(h.beta1), b2 = static_cast<float>(h.beta2);
  const float one_minus_b1 = static_cast<float>(1.0 - h.beta1), one_minus_b2 = static_cast<float>(1.0 - h.beta2);
  const float eps = static_cast<float>(h.eps);
  const float wd_l2 = h.decoupled ? 0.0f : static_cast<float>(h.weight_decay);
  const float decay = h.decoupled ? static_cast<float>(1.0 - h.lr * h.weight_decay) : 1.0f;
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) {
    float p = param[i] * decay;
    const float g = grad[i] + wd_l2 * param[i];
    const float mi = b1 * m[i] + one_minus_b1 * g;
    const float vi = b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + eps;
    param[i] = p - step_size * (mi / denom);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// bf16
// ---------------------------------------------------------------------------------------------------------------

void f32_to_bf16_n(const float* src, uint16_t* dst, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

void bf16_to_f32_n(const uint16_t* src, float* dst, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParMin)
  for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

// ---------------------------------------------------------------------------------------------------------------
// Attention head layouts. Row r of the head-major tensor is (b, h, s) = (r / (NH S), (r / S) % NH, r % S); its D
// values are the columns h*D .. h*D+D-1 of token row b*S + s. One pass each way, rounding on the way in, so bf16
// attention can multiply dense per-head matrices (see native/gemm.cc).
// ---------------------------------------------------------------------------------------------------------------

void tokens_to_heads_bf16(const float* src, int64_t ld, uint16_t* dst, int64_t B, int64_t S, int64_t NH, int64_t D) {
  const int64_t rows = B * NH * S;
#pragma omp parallel for schedule(static) if (rows * D >= kParMin)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t b = r / (NH * S), h = (r / S) % NH, s = r % S;
    const float* in = src + (b * S + s) * ld + h * D;
    uint16_t* out = dst + r * D;
#pragma omp simd
    for (int64_t d = 0; d < D; d++) out[d] = f32_to_bf16(in[d]);
  }
}

void heads_to_tokens(const float* src, float* dst, int64_t ld, int64_t B, int64_t S, int64_t NH, int64_t D) {
  const int64_t rows = B * NH * S;
#pragma omp parallel for schedule(static) if (rows * D >= kParMin)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t b = r / (NH * S), h = (r / S) % NH, s = r % S;
    const float* in = src + r * D;
    float* out = dst + (b * S + s) * ld + h * D;
#pragma omp simd
    for (int64_t d = 0; d < D; d++) out[d] = in[d];
  }
}

}  // namespace bertfit
