// Philox4x32-10, written so that the 4-words-per-block loop vectorises (independent blocks, 32x32->64 products).
#include "philox.h"

#include <algorithm>

namespace bertfit {

namespace {
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments

inline void philox_block(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
}
}  // namespace

Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  philox_block(ctr.v[0], ctr.v[1], ctr.v[2], ctr.v[3], k0, k1);
  return ctr;
}

void philox_stream(uint64_t seed, uint64_t c0, int64_t n, uint32_t* out) {
  if (n <= 0) return;
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  // Blocks covering [c0, c0 + n): block b holds elements 4b..4b+3.
  const uint64_t b_first = c0 / 4, b_last = (c0 + static_cast<uint64_t>(n) - 1) / 4;
  constexpr int kChunk = 64;  // blocks per vectorised batch
  uint32_t w[4][kChunk];
  for (uint64_t b0 = b_first; b0 <= b_last; b0 += kChunk) {
    const int nb = static_cast<int>(std::min<uint64_t>(kChunk, b_last - b0 + 1));
#pragma omp simd
    for (int j = 0; j < nb; j++) {
      uint64_t b = b0 + static_cast<uint64_t>(j);
      uint32_t x0 = static_cast<uint32_t>(b), x1 = static_cast<uint32_t>(b >> 32), x2 = 0, x3 = 0;
      philox_block(x0, x1, x2, x3, k0, k1);
      w[0][j] = x0; w[1][j] = x1; w[2][j] = x2; w[3][j] = x3;
    }
    // Copy the part of this batch's elements [4*b0, 4*(b0+nb)) that falls inside [c0, c0 + n).
    const uint64_t e_begin = std::max<uint64_t>(b0 * 4, c0);
    const uint64_t e_end = std::min<uint64_t>((b0 + static_cast<uint64_t>(nb)) * 4, c0 + static_cast<uint64_t>(n));
    for (uint64_t e = e_begin; e < e_end; e++) {
      const uint64_t rel = e - b0 * 4;
      out[e - c0] = w[rel & 3][rel >> 2];
    }
  }
}

}  // namespace bertfit
