// Implementation of the argument checks declared in args.h.
#include "args.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace bertfit {

namespace {
constexpr double kMaxSafeInt = 9007199254740991.0;  // 2^53 - 1, Number.MAX_SAFE_INTEGER
}

std::string describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "the number " + v.ToString().Utf8Value();
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    case napi_object:
      if (v.IsTypedArray()) {
        switch (v.As<Napi::TypedArray>().TypedArrayType()) {
          case napi_float32_array: return "a Float32Array";
          case napi_float64_array: return "a Float64Array";
          case napi_uint16_array: return "a Uint16Array";
          case napi_int32_array: return "an Int32Array";
          case napi_uint32_array: return "a Uint32Array";
          case napi_uint8_array: return "a Uint8Array";
          default: return "another TypedArray";
        }
      }
      if (v.IsArray()) return "an Array";
      return "an object";
    default: return "an unknown value";
  }
}

int64_t checked_mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a > std::numeric_limits<int64_t>::max() / b) return std::numeric_limits<int64_t>::max();
  return a * b;
}

int64_t checked_add(int64_t a, int64_t b) {
  if (a > std::numeric_limits<int64_t>::max() - b) return std::numeric_limits<int64_t>::max();
  return a + b;
}

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t min_count, size_t max_count)
    : info_(info), fn_(fn) {
  if (info.Length() < min_count || info.Length() > max_count) {
    std::string want = min_count == max_count ? std::to_string(min_count)
                                              : std::to_string(min_count) + " to " + std::to_string(max_count);
    type_error("expected " + want + " arguments, got " + std::to_string(info.Length()));
  }
}

void Args::type_error(const std::string& msg) const { throw Napi::TypeError::New(env(), std::string(fn_) + ": " + msg); }

void Args::range_error(const std::string& msg) const {
  throw Napi::RangeError::New(env(), std::string(fn_) + ": " + msg);
}

template <typename T>
static View<T> typed(const Args& a, size_t i, const char* name, napi_typedarray_type want, const char* want_name,
                     bool nullable) {
  Napi::Value v = a.info()[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return {nullptr, 0};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want) {
    a.type_error(std::string(name) + " must be " + want_name + ", got " + describe(v));
  }
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  return {arr.Data(), static_cast<int64_t>(arr.ElementLength())};
}

View<float> Args::f32(size_t i, const char* name, bool nullable) const {
  return typed<float>(*this, i, name, napi_float32_array, nullable ? "a Float32Array or null" : "a Float32Array",
                      nullable);
}

View<uint16_t> Args::bf16(size_t i, const char* name) const {
  return typed<uint16_t>(*this, i, name, napi_uint16_array, "a Uint16Array (bf16)", false);
}

View<int32_t> Args::i32(size_t i, const char* name) const {
  return typed<int32_t>(*this, i, name, napi_int32_array, "an Int32Array", false);
}

int64_t Args::size(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(std::string(name) + " must be a non-negative integer, got " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > kMaxSafeInt) {
    range_error(std::string(name) + " must be a non-negative integer, got " + describe(v));
  }
  return static_cast<int64_t>(d);
}

double Args::number(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(std::string(name) + " must be a number, got " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) range_error(std::string(name) + " must be finite, got " + describe(v));
  return d;
}

bool Args::boolean(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsBoolean()) type_error(std::string(name) + " must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsString()) type_error(std::string(name) + " must be a string, got " + describe(v));
  return v.As<Napi::String>().Utf8Value();
}

void Args::need(const char* name, int64_t len, int64_t need) const {
  if (len < need) {
    range_error(std::string(name) + " is too short: needs " + std::to_string(need) + " elements, has " +
                std::to_string(len));
  }
}

void Args::overlap_check(const char* name_a, const void* a, int64_t bytes_a, const char* name_b, const void* b,
                         int64_t bytes_b) const {
  if (bytes_a <= 0 || bytes_b <= 0 || !a || !b) return;
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  if (pa < pb + static_cast<uintptr_t>(bytes_b) && pb < pa + static_cast<uintptr_t>(bytes_a)) {
    range_error(std::string(name_a) + " must not overlap " + name_b);
  }
}

void Args::in_range(const char* name, double v, double lo, double hi) const {
  if (!(v >= lo && v <= hi)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s must be in [%g, %g], got %g", name, lo, hi, v);
    range_error(buf);
  }
}

}  // namespace bertfit
