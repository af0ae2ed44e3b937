// Argument validation for the N-API bindings. Every check throws a JS TypeError / RangeError whose message starts
// with the function name and names the argument, e.g. "gemm: c is too short: needs 4096 elements, has 4000".
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace bertfit {

template <typename T>
struct View {
  T* data;
  int64_t len;
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t min_count, size_t max_count);

  Napi::Env env() const { return info_.Env(); }
  [[noreturn]] void type_error(const std::string& msg) const;
  [[noreturn]] void range_error(const std::string& msg) const;

  // Typed arrays; `nullable` accepts null/undefined and returns {nullptr, 0}.
  View<float> f32(size_t i, const char* name, bool nullable = false) const;
  View<uint16_t> bf16(size_t i, const char* name) const;
  View<int32_t> i32(size_t i, const char* name) const;
  // A non-negative integer count / size (<= 2^53 - 1).
  int64_t size(size_t i, const char* name) const;
  // A finite number.
  double number(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;

  // Throws unless `len >= need`.
  void need(const char* name, int64_t len, int64_t need) const;
  // Throws when the first `na` / `nb` elements of two arrays share memory (for outputs that must not alias inputs).
  template <typename A, typename B>
  void no_overlap(const char* name_a, const A* a, int64_t na, const char* name_b, const B* b, int64_t nb) const {
    overlap_check(name_a, a, na * static_cast<int64_t>(sizeof(A)), name_b, b, nb * static_cast<int64_t>(sizeof(B)));
  }
  // Throws unless lo <= v <= hi.
  void in_range(const char* name, double v, double lo, double hi) const;

  const char* fn() const { return fn_; }
  const Napi::CallbackInfo& info() const { return info_; }

 private:
  void overlap_check(const char* name_a, const void* a, int64_t bytes_a, const char* name_b, const void* b,
                     int64_t bytes_b) const;
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// Shared helpers for values that are not positional arguments (object properties, env vars).
std::string describe(const Napi::Value& v);
// Non-negative arithmetic that saturates at INT64_MAX instead of overflowing (sizes come from JS, up to 2^53).
int64_t checked_mul(int64_t a, int64_t b);
int64_t checked_add(int64_t a, int64_t b);

}  // namespace bertfit
