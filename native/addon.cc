// N-API entry point: registers every function of NativeCore (src/native/api.ts). Each binding validates its
// arguments (args.h) and then calls the pure C++ kernel (kernels.h, gemm.h); nothing below touches memory that a
// check has not proven to be inside the caller's typed arrays.
#include <napi.h>
#include <omp.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "args.h"
#include "cpuinfo.h"
#include "gemm.h"
#include "kernels.h"
#include "mpi_api.h"

namespace bertfit {

Napi::Value Gemm(const Napi::CallbackInfo& info);  // gemm_api.cc

namespace {

constexpr int kMaxThreads = 1024;

// omp_set_num_threads only sets the calling thread's ICV; keeping the wanted count here lets every entry point
// (also from worker_threads) run with it.
std::atomic<int> wanted_threads{1};

void sync_threads() {
  const int t = wanted_threads.load(std::memory_order_relaxed);
  if (omp_get_max_threads() != t) omp_set_num_threads(t);
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value entry(const Napi::CallbackInfo& info) {
  sync_threads();
  return F(info);
}

Gelu gelu_kind(const Args& a, size_t i) {
  const std::string k = a.string(i, "kind");
  if (k == "erf") return Gelu::Erf;
  if (k == "tanh") return Gelu::Tanh;
  a.range_error("kind must be 'erf' or 'tanh', got '" + k + "'");
}

uint64_t u53(const Args& a, size_t i, const char* name) { return static_cast<uint64_t>(a.size(i, name)); }

double dropout_p(const Args& a, size_t i) {
  const double p = a.number(i, "dropoutP");
  a.in_range("dropoutP", p, 0.0, 1.0);
  return p;
}

// ---- info / threads / backend ----

Napi::Value Info(const Napi::CallbackInfo& info) {
  Args a(info, "info", 0, 0);
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  const bool dnnl_active = gemm_backend() == GemmBackend::OneDnn;
  o.Set("backend", dnnl_active ? "onednn" : "builtin");
#ifdef BERTFIT_HAVE_DNNL
  o.Set("version", dnnl_active ? onednn_version() : std::string("builtin"));
  o.Set("isa", onednn_isa());
#else
  o.Set("version", "builtin");
  o.Set("isa", "");
#endif
  o.Set("onednnCompiled", onednn_compiled());
  o.Set("mpiCompiled", mpi_compiled());
  o.Set("threads", omp_get_max_threads());
  const auto feats = cpu_features();
  Napi::Array arr = Napi::Array::New(env, feats.size());
  for (size_t i = 0; i < feats.size(); i++) arr.Set(static_cast<uint32_t>(i), feats[i]);
  o.Set("cpuFeatures", arr);
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setThreads", 1, 1);
  const int64_t n = a.size(0, "n");
  a.in_range("n", static_cast<double>(n), 1, kMaxThreads);
  wanted_threads.store(static_cast<int>(n));
  omp_set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value SetGemmBackend(const Napi::CallbackInfo& info) {
  Args a(info, "setGemmBackend", 1, 1);
  const std::string b = a.string(0, "backend");
  if (b == "builtin") {
    set_gemm_backend(GemmBackend::Builtin);
  } else if (b == "onednn") {
    if (!onednn_compiled()) a.range_error("backend 'onednn' is unavailable: the addon was built without oneDNN");
    set_gemm_backend(GemmBackend::OneDnn);
  } else {
    a.range_error("backend must be 'onednn' or 'builtin', got '" + b + "'");
  }
  return info.Env().Undefined();
}

// ---- bias / GELU ----

Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  Args a(info, "biasAdd", 4, 4);
  auto x = a.f32(0, "x");
  auto bias = a.f32(1, "bias");
  const int64_t rows = a.size(2, "rows"), cols = a.size(3, "cols");
  a.need("x", x.len, checked_mul(rows, cols));
  a.need("bias", bias.len, cols);
  bias_add(x.data, bias.data, rows, cols);
  return info.Env().Undefined();
}

Napi::Value BiasBackward(const Napi::CallbackInfo& info) {
  Args a(info, "biasBackward", 4, 4);
  auto dy = a.f32(0, "dy");
  auto dbias = a.f32(1, "dbias");
  const int64_t rows = a.size(2, "rows"), cols = a.size(3, "cols");
  a.need("dy", dy.len, checked_mul(rows, cols));
  a.need("dbias", dbias.len, cols);
  a.no_overlap("dbias", dbias.data, cols, "dy", dy.data, rows * cols);
  bias_backward(dy.data, dbias.data, rows, cols);
  return info.Env().Undefined();
}

Napi::Value BiasGeluForward(const Napi::CallbackInfo& info) {
  Args a(info, "biasGeluForward", 6, 6);
  auto pre = a.f32(0, "pre");
  auto bias = a.f32(1, "bias");
  auto out = a.f32(2, "out");
  const int64_t rows = a.size(3, "rows"), cols = a.size(4, "cols");
  const Gelu kind = gelu_kind(a, 5);
  const int64_t n = checked_mul(rows, cols);
  a.need("pre", pre.len, n);
  a.need("bias", bias.len, cols);
  a.need("out", out.len, n);
  a.no_overlap("out", out.data, n, "bias", bias.data, cols);
  bias_gelu_forward(pre.data, bias.data, out.data, rows, cols, kind);
  return info.Env().Undefined();
}

Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "geluBackward", 5, 5);
  auto pre = a.f32(0, "pre");
  auto dout = a.f32(1, "dout");
  auto dpre = a.f32(2, "dpre");
  const int64_t n = a.size(3, "n");
  const Gelu kind = gelu_kind(a, 4);
  a.need("pre", pre.len, n);
  a.need("dout", dout.len, n);
  a.need("dpre", dpre.len, n);
  gelu_backward(pre.data, dout.data, dpre.data, n, kind);
  return info.Env().Undefined();
}

// ---- LayerNorm ----

Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormForward", 9, 9);
  auto x = a.f32(0, "x");
  auto gamma = a.f32(1, "gamma");
  auto beta = a.f32(2, "beta");
  auto out = a.f32(3, "out");
  auto mean = a.f32(4, "mean");
  auto rstd = a.f32(5, "rstd");
  const int64_t rows = a.size(6, "rows"), cols = a.size(7, "cols");
  const double eps = a.number(8, "eps");
  a.in_range("eps", eps, 0.0, 1.0);
  if (rows > 0 && cols == 0) a.range_error("cols must be > 0");
  const int64_t n = checked_mul(rows, cols);
  a.need("x", x.len, n);
  a.need("gamma", gamma.len, cols);
  a.need("beta", beta.len, cols);
  a.need("out", out.len, n);
  a.need("mean", mean.len, rows);
  a.need("rstd", rstd.len, rows);
  a.no_overlap("mean", mean.data, rows, "rstd", rstd.data, rows);
  a.no_overlap("mean", mean.data, rows, "x", x.data, n);
  a.no_overlap("rstd", rstd.data, rows, "x", x.data, n);
  layer_norm_forward(x.data, gamma.data, beta.data, out.data, mean.data, rstd.data, rows, cols,
                     static_cast<float>(eps));
  return info.Env().Undefined();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormBackward", 11, 11);
  auto dout = a.f32(0, "dout");
  auto x = a.f32(1, "x");
  auto gamma = a.f32(2, "gamma");
  auto mean = a.f32(3, "mean");
  auto rstd = a.f32(4, "rstd");
  auto dx = a.f32(5, "dx");
  auto dgamma = a.f32(6, "dgamma");
  auto dbeta = a.f32(7, "dbeta");
  const int64_t rows = a.size(8, "rows"), cols = a.size(9, "cols");
  const bool accumulate = a.boolean(10, "accumulate");
  const int64_t n = checked_mul(rows, cols);
  a.need("dout", dout.len, n);
  a.need("x", x.len, n);
  a.need("gamma", gamma.len, cols);
  a.need("mean", mean.len, rows);
  a.need("rstd", rstd.len, rows);
  a.need("dx", dx.len, n);
  a.need("dgamma", dgamma.len, cols);
  a.need("dbeta", dbeta.len, cols);
  // dgamma/dbeta are summed from dout and x after dx is written, so dx must not alias them.
  a.no_overlap("dx", dx.data, n, "dout", dout.data, n);
  a.no_overlap("dx", dx.data, n, "x", x.data, n);
  a.no_overlap("dgamma", dgamma.data, cols, "dbeta", dbeta.data, cols);
  layer_norm_backward(dout.data, x.data, gamma.data, mean.data, rstd.data, dx.data, dgamma.data, dbeta.data, rows,
                      cols, accumulate);
  return info.Env().Undefined();
}

// ---- attention softmax ----

Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxForward", 11, 11);
  auto scores = a.f32(0, "scores");
  auto valid = a.i32(1, "validLen");
  const int64_t B = a.size(2, "B"), NH = a.size(3, "NH"), Sq = a.size(4, "Sq"), Sk = a.size(5, "Sk");
  const double scale = a.number(6, "scale");
  const double p = dropout_p(a, 7);
  const uint64_t seed = u53(a, 8, "seed"), offset = u53(a, 9, "offset");
  auto dropped = a.f32(10, "dropped", true);
  const int64_t n = checked_mul(checked_mul(B, NH), checked_mul(Sq, Sk));
  a.need("scores", scores.len, n);
  a.need("validLen", valid.len, B);
  for (int64_t b = 0; b < B; b++) {
    if (valid.data[b] < 0 || valid.data[b] > Sk) {
      a.range_error("validLen[" + std::to_string(b) + "] = " + std::to_string(valid.data[b]) + " is outside [0, Sk=" +
                    std::to_string(Sk) + "]");
    }
  }
  if (p > 0) {
    if (!dropped.data && n > 0) a.type_error("dropped must be a Float32Array when dropoutP > 0, got null");
    a.need("dropped", dropped.len, n);
    a.no_overlap("dropped", dropped.data, n, "scores", scores.data, n);
  }
  softmax_forward(scores.data, valid.data, B, NH, Sq, Sk, static_cast<float>(scale), p, seed, offset,
                  p > 0 ? dropped.data : nullptr);
  return info.Env().Undefined();
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward", 9, 9);
  auto probs = a.f32(0, "probs");
  auto dprobs = a.f32(1, "dprobs");
  auto dscores = a.f32(2, "dscores");
  const int64_t rows = a.size(3, "rows"), cols = a.size(4, "cols");
  const double scale = a.number(5, "scale");
  const double p = dropout_p(a, 6);
  const uint64_t seed = u53(a, 7, "seed"), offset = u53(a, 8, "offset");
  const int64_t n = checked_mul(rows, cols);
  a.need("probs", probs.len, n);
  a.need("dprobs", dprobs.len, n);
  a.need("dscores", dscores.len, n);
  a.no_overlap("dscores", dscores.data, n, "probs", probs.data, n);
  softmax_backward(probs.data, dprobs.data, dscores.data, rows, cols, static_cast<float>(scale), p, seed, offset);
  return info.Env().Undefined();
}

// ---- dropout ----

template <bool Backward>
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  Args a(info, Backward ? "dropoutBackward" : "dropoutForward", 6, 6);
  auto x = a.f32(0, Backward ? "dout" : "x");
  auto out = a.f32(1, Backward ? "dx" : "out");
  const int64_t n = a.size(2, "n");
  const double p = a.number(3, "p");
  a.in_range("p", p, 0.0, 1.0);
  const uint64_t seed = u53(a, 4, "seed"), offset = u53(a, 5, "offset");
  a.need(Backward ? "dout" : "x", x.len, n);
  a.need(Backward ? "dx" : "out", out.len, n);
  dropout_apply(x.data, out.data, n, p, seed, offset);
  return info.Env().Undefined();
}

// ---- embedding ----

// Every id must index a row of the table: checked before anything is written.
void check_ids(const Args& a, View<int32_t> ids, int64_t n, View<float> table, const char* table_name, int64_t dim) {
  a.need("ids", ids.len, n);
  const int64_t vocab = dim > 0 ? table.len / dim : 0;
  for (int64_t i = 0; i < n; i++) {
    if (ids.data[i] < 0 || ids.data[i] >= vocab) {
      a.range_error("ids[" + std::to_string(i) + "] = " + std::to_string(ids.data[i]) + " is out of range for " +
                    table_name + " with " + std::to_string(vocab) + " rows of dim " + std::to_string(dim));
    }
  }
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward", 6, 6);
  auto ids = a.i32(0, "ids");
  auto table = a.f32(1, "table");
  auto out = a.f32(2, "out");
  const int64_t n = a.size(3, "n"), dim = a.size(4, "dim");
  const bool accumulate = a.boolean(5, "accumulate");
  a.need("out", out.len, checked_mul(n, dim));
  if (dim > 0) check_ids(a, ids, n, table, "table", dim);
  a.no_overlap("out", out.data, n * dim, "table", table.data, table.len);
  embedding_forward(ids.data, table.data, out.data, n, dim, accumulate);
  return info.Env().Undefined();
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward", 5, 5);
  auto ids = a.i32(0, "ids");
  auto dout = a.f32(1, "dout");
  auto dtable = a.f32(2, "dtable");
  const int64_t n = a.size(3, "n"), dim = a.size(4, "dim");
  a.need("dout", dout.len, checked_mul(n, dim));
  if (dim > 0) check_ids(a, ids, n, dtable, "dtable", dim);
  a.no_overlap("dtable", dtable.data, dtable.len, "dout", dout.data, n * dim);
  embedding_backward(ids.data, dout.data, dtable.data, n, dim);
  return info.Env().Undefined();
}

// ---- tanh ----

Napi::Value TanhForward(const Napi::CallbackInfo& info) {
  Args a(info, "tanhForward", 3, 3);
  auto x = a.f32(0, "x");
  auto out = a.f32(1, "out");
  const int64_t n = a.size(2, "n");
  a.need("x", x.len, n);
  a.need("out", out.len, n);
  tanh_forward(x.data, out.data, n);
  return info.Env().Undefined();
}

Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  Args a(info, "tanhBackward", 4, 4);
  auto y = a.f32(0, "y");
  auto dy = a.f32(1, "dy");
  auto dx = a.f32(2, "dx");
  const int64_t n = a.size(3, "n");
  a.need("y", y.len, n);
  a.need("dy", dy.len, n);
  a.need("dx", dx.len, n);
  tanh_backward(y.data, dy.data, dx.data, n);
  return info.Env().Undefined();
}

// ---- cross-entropy ----

void check_labels(const Args& a, View<int32_t> labels, int64_t B, int64_t C) {
  a.need("labels", labels.len, B);
  for (int64_t b = 0; b < B; b++) {
    if (labels.data[b] < 0 || labels.data[b] >= C) {
      a.range_error("labels[" + std::to_string(b) + "] = " + std::to_string(labels.data[b]) + " is outside [0, C=" +
                    std::to_string(C) + ")");
    }
  }
}

Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyForward", 5, 5);
  auto logits = a.f32(0, "logits");
  auto labels = a.i32(1, "labels");
  auto probs = a.f32(2, "probs");
  const int64_t B = a.size(3, "B"), C = a.size(4, "C");
  const int64_t n = checked_mul(B, C);
  a.need("logits", logits.len, n);
  a.need("probs", probs.len, n);
  check_labels(a, labels, B, C);
  a.no_overlap("probs", probs.data, n, "logits", logits.data, n);
  return Napi::Number::New(info.Env(), cross_entropy_forward(logits.data, labels.data, probs.data, B, C));
}

Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyBackward", 5, 6);
  auto probs = a.f32(0, "probs");
  auto labels = a.i32(1, "labels");
  auto dlogits = a.f32(2, "dlogits");
  const int64_t B = a.size(3, "B"), C = a.size(4, "C");
  const double scale = info.Length() > 5 && !info[5].IsUndefined() ? a.number(5, "scale") : 1.0;
  const int64_t n = checked_mul(B, C);
  a.need("probs", probs.len, n);
  a.need("dlogits", dlogits.len, n);
  check_labels(a, labels, B, C);
  cross_entropy_backward(probs.data, labels.data, dlogits.data, B, C, static_cast<float>(scale));
  return info.Env().Undefined();
}

// ---- vector ops / optimizer ----

Napi::Value GlobalNorm(const Napi::CallbackInfo& info) {
  Args a(info, "globalNorm", 1, 1);
  auto x = a.f32(0, "x");
  return Napi::Number::New(info.Env(), global_norm(x.data, x.len));
}

// checksum(x): the 64-bit checksum_f32 as 16 hex digits (a Number cannot hold 64 bits).
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Args a(info, "checksum", 1, 1);
  auto x = a.f32(0, "x");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(checksum_f32(x.data, x.len)));
  return Napi::String::New(info.Env(), hex);
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 2, 2);
  auto x = a.f32(0, "x");
  const double s = a.number(1, "s");
  scale(x.data, x.len, static_cast<float>(s));
  return info.Env().Undefined();
}

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy", 3, 3);
  const double alpha = a.number(0, "alpha");
  auto x = a.f32(1, "x");
  auto y = a.f32(2, "y");
  if (x.len != y.len) {
    a.range_error("x and y must have the same length, got " + std::to_string(x.len) + " and " + std::to_string(y.len));
  }
  axpy(static_cast<float>(alpha), x.data, y.data, x.len);
  return info.Env().Undefined();
}

Napi::Value ClipByGlobalNorm(const Napi::CallbackInfo& info) {
  Args a(info, "clipByGlobalNorm", 2, 2);
  auto g = a.f32(0, "g");
  const double max_norm = a.number(1, "maxNorm");
  a.in_range("maxNorm", max_norm, 0.0, 1.7976931348623157e308);
  return Napi::Number::New(info.Env(), clip_by_global_norm(g.data, g.len, max_norm));
}

Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adamUpdate", 11, 11);
  auto param = a.f32(0, "param");
  auto grad = a.f32(1, "grad");
  auto m = a.f32(2, "m");
  auto v = a.f32(3, "v");
  AdamHyper h;
  h.lr = a.number(4, "lr");
  h.beta1 = a.number(5, "beta1");
  h.beta2 = a.number(6, "beta2");
  h.eps = a.number(7, "eps");
  h.weight_decay = a.number(8, "weightDecay");
  h.step = a.size(9, "step");
  h.decoupled = a.boolean(10, "decoupled");
  // The same bounds torch.optim.Adam checks.
  a.in_range("lr", h.lr, 0.0, 1e300);
  a.in_range("beta1", h.beta1, 0.0, 0.9999999999999999);
  a.in_range("beta2", h.beta2, 0.0, 0.9999999999999999);
  a.in_range("eps", h.eps, 0.0, 1e300);
  a.in_range("weightDecay", h.weight_decay, 0.0, 1e300);
  if (h.step < 1) a.range_error("step must be >= 1 (the 1-based step count after this update), got 0");
  const int64_t n = param.len;
  for (auto [name, len] : {std::pair<const char*, int64_t>{"grad", grad.len}, {"m", m.len}, {"v", v.len}}) {
    if (len != n) {
      a.range_error(std::string(name) + " must have the same length as param (" + std::to_string(n) + "), has " +
                    std::to_string(len));
    }
  }
  a.no_overlap("m", m.data, n, "v", v.data, n);
  a.no_overlap("param", param.data, n, "m", m.data, n);
  a.no_overlap("param", param.data, n, "v", v.data, n);
  a.no_overlap("param", param.data, n, "grad", grad.data, n);
  adam_update(param.data, grad.data, m.data, v.data, n, h);
  return info.Env().Undefined();
}

// ---- bf16 ----

Napi::Value F32ToBf16(const Napi::CallbackInfo& info) {
  Args a(info, "f32ToBf16", 3, 3);
  auto src = a.f32(0, "src");
  auto dst = a.bf16(1, "dst");
  const int64_t n = a.size(2, "n");
  a.need("src", src.len, n);
  a.need("dst", dst.len, n);
  f32_to_bf16_n(src.data, dst.data, n);
  return info.Env().Undefined();
}

// Sizes of a head layout call: B, S, NH, D at args [i .. i+3]; ld (the token row stride) must hold NH*D values.
struct HeadDims {
  int64_t B, S, NH, D, ld;
  int64_t token_extent() const { return B * S == 0 ? 0 : checked_add(checked_mul(B * S - 1, ld), NH * D); }
  int64_t head_size() const { return checked_mul(checked_mul(B, S), checked_mul(NH, D)); }
};

HeadDims head_dims(const Args& a, size_t ld_index, size_t i) {
  HeadDims h{a.size(i, "B"), a.size(i + 1, "S"), a.size(i + 2, "NH"), a.size(i + 3, "D"), a.size(ld_index, "ld")};
  const int64_t width = checked_mul(h.NH, h.D);
  if (h.ld < width) a.range_error("ld must be >= NH * D = " + std::to_string(width) + ", got " + std::to_string(h.ld));
  return h;
}

Napi::Value ToHeadsBf16(const Napi::CallbackInfo& info) {
  Args a(info, "toHeadsBf16", 7, 7);
  auto src = a.f32(0, "src");
  auto dst = a.bf16(2, "dst");
  const HeadDims h = head_dims(a, 1, 3);
  a.need("src", src.len, h.token_extent());
  a.need("dst", dst.len, h.head_size());
  tokens_to_heads_bf16(src.data, h.ld, dst.data, h.B, h.S, h.NH, h.D);
  return info.Env().Undefined();
}

Napi::Value FromHeads(const Napi::CallbackInfo& info) {
  Args a(info, "fromHeads", 7, 7);
  auto src = a.f32(0, "src");
  auto dst = a.f32(1, "dst");
  const HeadDims h = head_dims(a, 2, 3);
  a.need("src", src.len, h.head_size());
  a.need("dst", dst.len, h.token_extent());
  a.no_overlap("dst", dst.data, h.token_extent(), "src", src.data, h.head_size());
  heads_to_tokens(src.data, dst.data, h.ld, h.B, h.S, h.NH, h.D);
  return info.Env().Undefined();
}

Napi::Value Bf16ToF32(const Napi::CallbackInfo& info) {
  Args a(info, "bf16ToF32", 3, 3);
  auto src = a.bf16(0, "src");
  auto dst = a.f32(1, "dst");
  const int64_t n = a.size(2, "n");
  a.need("src", src.len, n);
  a.need("dst", dst.len, n);
  a.no_overlap("dst", dst.data, n, "src", src.data, n);
  bf16_to_f32_n(src.data, dst.data, n);
  return info.Env().Undefined();
}

// ---- module init: environment knobs are validated here so a typo fails loudly at load time ----

int threads_from_env(Napi::Env env) {
  const char* v = std::getenv("BERTFIT_THREADS");
  if (!v || !*v) return omp_get_num_procs();
  char* end = nullptr;
  const long t = std::strtol(v, &end, 10);
  if (*end != '\0' || t < 1 || t > kMaxThreads) {
    throw Napi::RangeError::New(env, std::string("BERTFIT_THREADS must be an integer in [1, ") +
                                         std::to_string(kMaxThreads) + "], got '" + v + "'");
  }
  return static_cast<int>(t);
}

GemmBackend backend_from_env(Napi::Env env) {
  const char* v = std::getenv("BERTFIT_GEMM");
  const GemmBackend dflt = onednn_compiled() ? GemmBackend::OneDnn : GemmBackend::Builtin;
  if (!v || !*v) return dflt;
  const std::string s(v);
  if (s == "builtin") return GemmBackend::Builtin;
  if (s == "onednn") {
    if (!onednn_compiled()) throw Napi::Error::New(env, "BERTFIT_GEMM=onednn, but the addon was built without oneDNN");
    return GemmBackend::OneDnn;
  }
  throw Napi::RangeError::New(env, "BERTFIT_GEMM must be 'onednn' or 'builtin', got '" + s + "'");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  wanted_threads.store(threads_from_env(env));
  omp_set_num_threads(wanted_threads.load());
  set_gemm_backend(backend_from_env(env));

  auto def = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name)); };
  def("info", entry<Info>);
  def("setThreads", entry<SetThreads>);
  def("setGemmBackend", entry<SetGemmBackend>);
  def("gemm", entry<Gemm>);
  def("biasAdd", entry<BiasAdd>);
  def("biasBackward", entry<BiasBackward>);
  def("biasGeluForward", entry<BiasGeluForward>);
  def("geluBackward", entry<GeluBackward>);
  def("layerNormForward", entry<LayerNormForward>);
  def("layerNormBackward", entry<LayerNormBackward>);
  def("softmaxForward", entry<SoftmaxForward>);
  def("softmaxBackward", entry<SoftmaxBackward>);
  def("dropoutForward", entry<Dropout<false>>);
  def("dropoutBackward", entry<Dropout<true>>);
  def("embeddingForward", entry<EmbeddingForward>);
  def("embeddingBackward", entry<EmbeddingBackward>);
  def("tanhForward", entry<TanhForward>);
  def("tanhBackward", entry<TanhBackward>);
  def("crossEntropyForward", entry<CrossEntropyForward>);
  def("crossEntropyBackward", entry<CrossEntropyBackward>);
  def("globalNorm", entry<GlobalNorm>);
  def("checksum", entry<Checksum>);
  def("scale", entry<Scale>);
  def("axpy", entry<Axpy>);
  def("clipByGlobalNorm", entry<ClipByGlobalNorm>);
  def("adamUpdate", entry<AdamUpdate>);
  def("f32ToBf16", entry<F32ToBf16>);
  def("bf16ToF32", entry<Bf16ToF32>);
  def("toHeadsBf16", entry<ToHeadsBf16>);
  def("fromHeads", entry<FromHeads>);
  register_mpi(env, exports);
  return exports;
}

}  // namespace

}  // namespace bertfit

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return bertfit::Init(env, exports); }

NODE_API_MODULE(bertfit_native, InitModule)
