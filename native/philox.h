// Counter-based RNG for dropout: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
//
// Element c of the random stream for a seed is defined as
//   word (c mod 4) of Philox4x32-10(counter = {lo32(c/4), hi32(c/4), 0, 0}, key = {lo32(seed), hi32(seed)}).
// A dropout element with flat index i uses c = offset + i, so masks depend only on (seed, offset + i): identical
// for any thread count and chunking, and the backward pass regenerates exactly the forward mask.
#pragma once
#include <cstdint>

namespace bertfit {

struct Philox4 { uint32_t v[4]; };

// One Philox4x32-10 block (exposed for known-answer tests).
Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1);

// out[i] = element (c0 + i) of the stream of `seed`, for i in [0, n).
void philox_stream(uint64_t seed, uint64_t c0, int64_t n, uint32_t* out);

// Dropout keeps element c iff uniform(c) >= p with uniform(c) = (bits(c) >> 8) * 2^-24 (24 random bits, exact in
// fp32). Equivalently (bits >> 8) >= ceil(p * 2^24), an exact integer test with no rounding of p.
inline uint32_t dropout_threshold(double p) {
  double t = p * 16777216.0;
  uint32_t ti = static_cast<uint32_t>(t);
  return (static_cast<double>(ti) < t) ? ti + 1 : ti;
}

}  // namespace bertfit
