// Philox4x32-10. The AVX-512 path runs 16 blocks per step in the 32-bit lanes of zmm registers, with the
// 32x32 -> 64-bit round products from vpmuludq (_mm512_mul_epu32) on even and odd lanes: GCC vectorises the
// portable loop below with vpmullq (64x64 multiply, 3 uops), which made mask generation the slowest part of
// dropout. Both paths produce the same words (test/native-dropout.test.ts checks the stream bit for bit).
#include "philox.h"

#include <algorithm>

#if defined(__AVX512F__)
// GCC 12 warns about the deliberately undefined vectors inside its own intrinsic headers (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

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

// Elements [e0, e1) of the stream, one block at a time (ends of a range, and CPUs without AVX-512).
void stream_scalar(uint32_t k0, uint32_t k1, uint64_t e0, uint64_t e1, uint32_t* out) {
  for (uint64_t b = e0 / 4; b * 4 < e1; b++) {
    uint32_t x[4] = {static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), 0, 0};
    philox_block(x[0], x[1], x[2], x[3], k0, k1);
    for (int w = 0; w < 4; w++) {
      const uint64_t e = b * 4 + static_cast<uint64_t>(w);
      if (e >= e0 && e < e1) *out++ = x[w];
    }
  }
}

#if defined(__AVX512F__)
// hi/lo 32-bit halves of x * m for the 16 lanes of x.
inline void mulhilo16(__m512i x, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i pe = _mm512_mul_epu32(x, m);                         // lanes 0, 2, ..: 64-bit products
  const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);  // lanes 1, 3, ..
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
  lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

// Blocks b0 .. b0+15 -> out[0 .. 64): the 4 words of block b0 first, then b0+1, ...
inline void philox16(uint64_t b0, uint32_t k0, uint32_t k1, uint32_t* out) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lo_base = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b0)));
  __m512i c0 = _mm512_add_epi32(lo_base, lane);
  // the counter is 64-bit: lanes whose low word wrapped carry into the high word
  const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, lo_base);
  const __m512i hi_base = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b0 >> 32)));
  __m512i c1 = _mm512_mask_add_epi32(hi_base, carry, hi_base, _mm512_set1_epi32(1));
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kM0)), m1 = _mm512_set1_epi32(static_cast<int>(kM1));
  for (int r = 0; r < 10; r++) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(c0, m0, hi0, lo0);
    mulhilo16(c2, m1, hi1, lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  // 4 x 16 words -> 16 x 4 (a 4x4 transpose inside each 128-bit lane, then the lanes put in block order)
  const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
  const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
  const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);  // blocks 4L, 4L+1 of lane L
  const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);  // blocks 4L+2, 4L+3
  constexpr int kEven = 0 | (2 << 2) | (0 << 4) | (2 << 6), kOdd = 1 | (3 << 2) | (1 << 4) | (3 << 6);
  const __m512i p = _mm512_shuffle_i32x4(u0, u1, kEven), q = _mm512_shuffle_i32x4(u2, u3, kEven);
  const __m512i pp = _mm512_shuffle_i32x4(u0, u1, kOdd), qq = _mm512_shuffle_i32x4(u2, u3, kOdd);
  _mm512_storeu_si512(out, _mm512_shuffle_i32x4(p, q, kEven));        // blocks 0..3
  _mm512_storeu_si512(out + 16, _mm512_shuffle_i32x4(pp, qq, kEven));  // blocks 4..7
  _mm512_storeu_si512(out + 32, _mm512_shuffle_i32x4(p, q, kOdd));     // blocks 8..11
  _mm512_storeu_si512(out + 48, _mm512_shuffle_i32x4(pp, qq, kOdd));   // blocks 12..15
}
#endif
}  // namespace

Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  philox_block(ctr.v[0], ctr.v[1], ctr.v[2], ctr.v[3], k0, k1);
  return ctr;
}

void philox_stream(uint64_t seed, uint64_t c0, int64_t n, uint32_t* out) {
  if (n <= 0) return;
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t end = c0 + static_cast<uint64_t>(n);
#if defined(__AVX512F__)
  // Scalar up to a block boundary, 64 elements (16 blocks) at a time, scalar for the rest.
  const uint64_t head = std::min(end, (c0 + 3) / 4 * 4);
  stream_scalar(k0, k1, c0, head, out);
  uint64_t e = head;
  for (; e + 64 <= end; e += 64) philox16(e / 4, k0, k1, out + (e - c0));
  stream_scalar(k0, k1, e, end, out + (e - c0));
#else
  stream_scalar(k0, k1, c0, end, out);
#endif
}

}  // namespace bertfit
