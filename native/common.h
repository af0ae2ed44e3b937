// Small helpers shared by every native source: bf16 bit conversions and a 64-byte aligned scratch buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace bertfit {

// bf16 is the top half of an fp32, so widening is a shift (exact).
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even; NaN becomes the canonical quiet NaN 0x7FC0 like torch's c10::BFloat16.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Grow-only 64-byte aligned buffer; used thread_local so hot loops never hit malloc in steady state.
template <typename T>
struct AlignedBuf {
  T* ptr = nullptr;
  size_t cap = 0;
  AlignedBuf() = default;
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
  ~AlignedBuf() { std::free(ptr); }
  T* get(size_t n) {
    if (n > cap) {
      std::free(ptr);
      size_t bytes = ((n * sizeof(T)) + 63) / 64 * 64;
      ptr = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (!ptr) throw std::bad_alloc();
      cap = n;
    }
    return ptr;
  }
};

}  // namespace bertfit
