// Binding for gemm(p: GemmParams): validates the parameter object into a GemmCall and runs it on the current backend.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "args.h"
#include "gemm.h"

namespace bertfit {

namespace {

#ifdef BERTFIT_HAVE_DNNL
std::atomic<GemmBackend> backend{GemmBackend::OneDnn};
#else
std::atomic<GemmBackend> backend{GemmBackend::Builtin};
#endif

// Reads GemmParams fields with the same error conventions as Args ("gemm: <field> ...").
class Fields {
 public:
  Fields(const Args& args, Napi::Object obj) : args_(args), obj_(obj) {}

  Napi::Value raw(const char* name) const { return obj_.Get(name); }

  int64_t size(const char* name, bool required, int64_t dflt) const {
    Napi::Value v = raw(name);
    if (v.IsUndefined() && !required) return dflt;
    if (!v.IsNumber()) args_.type_error(std::string(name) + " must be a non-negative integer, got " + describe(v));
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d > 9007199254740991.0 || d != std::floor(d)) {
      args_.range_error(std::string(name) + " must be a non-negative integer, got " + describe(v));
    }
    return static_cast<int64_t>(d);
  }

  float number(const char* name, float dflt) const {
    Napi::Value v = raw(name);
    if (v.IsUndefined()) return dflt;
    if (!v.IsNumber()) args_.type_error(std::string(name) + " must be a number, got " + describe(v));
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) args_.range_error(std::string(name) + " must be finite, got " + describe(v));
    return static_cast<float>(d);
  }

  bool flag(const char* name) const {
    Napi::Value v = raw(name);
    if (v.IsUndefined()) return false;
    if (!v.IsBoolean()) args_.type_error(std::string(name) + " must be a boolean, got " + describe(v));
    return v.As<Napi::Boolean>().Value();
  }

 private:
  const Args& args_;
  Napi::Object obj_;
};

// Elements spanned by a batch of stored [rows, cols] matrices with leading dimension ld.
int64_t batch_extent(int64_t rows, int64_t cols, int64_t ld, int64_t bo, int64_t bi, int64_t so, int64_t si) {
  if (rows == 0 || cols == 0 || bo == 0 || bi == 0) return 0;
  return checked_add(checked_add(checked_mul(bo - 1, so), checked_mul(bi - 1, si)),
                     checked_add(checked_mul(rows - 1, ld), cols));
}

struct Operand {
  const void* data;
  int64_t len;
  bool bf16;
};

Operand operand(const Args& args, Napi::Value v, const char* name) {
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>();
    if (t.TypedArrayType() == napi_float32_array) {
      auto f = t.As<Napi::Float32Array>();
      return {f.Data(), static_cast<int64_t>(f.ElementLength()), false};
    }
    if (t.TypedArrayType() == napi_uint16_array) {
      auto h = t.As<Napi::Uint16Array>();
      return {h.Data(), static_cast<int64_t>(h.ElementLength()), true};
    }
  }
  args.type_error(std::string(name) + " must be a Float32Array or a Uint16Array (bf16), got " + describe(v));
}

// Checks ld >= the stored row length, then that the buffer covers every batch matrix.
void check_operand(const Args& args, const char* name, const char* ld_name, int64_t len, int64_t rows, int64_t cols,
                   int64_t ld, int64_t bo, int64_t bi, int64_t so, int64_t si) {
  if (ld < std::max<int64_t>(1, cols)) {
    args.range_error(std::string(ld_name) + " must be >= " + std::to_string(std::max<int64_t>(1, cols)) +
                     " (the stored row length of " + name + "), got " + std::to_string(ld));
  }
  args.need(name, len, batch_extent(rows, cols, ld, bo, bi, so, si));
}

}  // namespace

GemmBackend gemm_backend() { return backend.load(); }
void set_gemm_backend(GemmBackend b) { backend.store(b); }
bool onednn_compiled() {
#ifdef BERTFIT_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args args(info, "gemm", 1, 1);
  if (!info[0].IsObject() || info[0].IsTypedArray() || info[0].IsArray()) {
    args.type_error("p must be a GemmParams object, got " + describe(info[0]));
  }
  Fields f(args, info[0].As<Napi::Object>());
  GemmCall g;
  g.trans_a = f.flag("transA");
  g.trans_b = f.flag("transB");
  g.m = f.size("m", true, 0);
  g.n = f.size("n", true, 0);
  g.k = f.size("k", true, 0);
  g.alpha = f.number("alpha", 1.0f);
  g.beta = f.number("beta", 0.0f);
  const Operand a = operand(args, f.raw("a"), "a");
  const Operand b = operand(args, f.raw("b"), "b");
  if (a.bf16 != b.bf16) {
    args.type_error(std::string("a and b must have the same dtype (both Float32Array or both Uint16Array bf16), got ") +
                    (a.bf16 ? "a Uint16Array and a Float32Array" : "a Float32Array and a Uint16Array"));
  }
  Napi::Value cv = f.raw("c");
  if (!cv.IsTypedArray() || cv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    args.type_error("c must be a Float32Array (C is fp32 for both dtypes), got " + describe(cv));
  }
  auto c = cv.As<Napi::Float32Array>();
  g.bf16 = a.bf16;
  g.a = a.data;
  g.b = b.data;
  g.c = c.Data();

  // Stored shapes: A is [M, K] or [K, M] (transA), B is [K, N] or [N, K] (transB), C is [M, N].
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  g.lda = f.size("lda", false, std::max<int64_t>(1, a_cols));
  g.ldb = f.size("ldb", false, std::max<int64_t>(1, b_cols));
  g.ldc = f.size("ldc", false, std::max<int64_t>(1, g.n));
  g.batch_outer = f.size("batchOuter", false, 1);
  g.batch_inner = f.size("batchInner", false, 1);
  // Default strides: matrices packed back to back.
  g.stride_a_inner = f.size("strideAInner", false, checked_mul(a_rows, g.lda));
  g.stride_b_inner = f.size("strideBInner", false, checked_mul(b_rows, g.ldb));
  g.stride_c_inner = f.size("strideCInner", false, checked_mul(g.m, g.ldc));
  g.stride_a_outer = f.size("strideAOuter", false, checked_mul(g.batch_inner, g.stride_a_inner));
  g.stride_b_outer = f.size("strideBOuter", false, checked_mul(g.batch_inner, g.stride_b_inner));
  g.stride_c_outer = f.size("strideCOuter", false, checked_mul(g.batch_inner, g.stride_c_inner));

  check_operand(args, "a", "lda", a.len, a_rows, a_cols, g.lda, g.batch_outer, g.batch_inner, g.stride_a_outer,
                g.stride_a_inner);
  check_operand(args, "b", "ldb", b.len, b_rows, b_cols, g.ldb, g.batch_outer, g.batch_inner, g.stride_b_outer,
                g.stride_b_inner);
  check_operand(args, "c", "ldc", static_cast<int64_t>(c.ElementLength()), g.m, g.n, g.ldc, g.batch_outer,
                g.batch_inner, g.stride_c_outer, g.stride_c_inner);
  // C is written while A and B are read (possibly by other threads): they must be disjoint.
  const int64_t c_extent = batch_extent(g.m, g.n, g.ldc, g.batch_outer, g.batch_inner, g.stride_c_outer, g.stride_c_inner);
  const int64_t es = a.bf16 ? 2 : 4;
  args.no_overlap("c", g.c, c_extent, "a", static_cast<const char*>(a.data),
                  es * batch_extent(a_rows, a_cols, g.lda, g.batch_outer, g.batch_inner, g.stride_a_outer, g.stride_a_inner));
  args.no_overlap("c", g.c, c_extent, "b", static_cast<const char*>(b.data),
                  es * batch_extent(b_rows, b_cols, g.ldb, g.batch_outer, g.batch_inner, g.stride_b_outer, g.stride_b_inner));
  // Two batch entries writing the same C would race; A and B may be shared (stride 0).
  if (g.m > 0 && g.n > 0) {
    if (g.batch_inner > 1 && g.stride_c_inner == 0) args.range_error("strideCInner must be > 0 when batchInner > 1");
    if (g.batch_outer > 1 && g.stride_c_outer == 0) args.range_error("strideCOuter must be > 0 when batchOuter > 1");
  }

  const int64_t batch = g.batch_outer * g.batch_inner;
  if (batch == 0 || g.m == 0 || g.n == 0) return info.Env().Undefined();
  if (g.k == 0) {  // empty sum: C = beta C, and beta == 0 must not read C
    for (int64_t i = 0; i < batch; i++) {
      float* ci = g.c + (i / g.batch_inner) * g.stride_c_outer + (i % g.batch_inner) * g.stride_c_inner;
      for (int64_t r = 0; r < g.m; r++)
        for (int64_t j = 0; j < g.n; j++) ci[r * g.ldc + j] = g.beta == 0.0f ? 0.0f : g.beta * ci[r * g.ldc + j];
    }
    return info.Env().Undefined();
  }
#ifdef BERTFIT_HAVE_DNNL
  if (gemm_backend() == GemmBackend::OneDnn) {
    gemm_onednn(g);
    return info.Env().Undefined();
  }
#endif
  gemm_builtin(g);
  return info.Env().Undefined();
}

}  // namespace bertfit
