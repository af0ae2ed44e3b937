// Branch-free fp32 exp / tanh / erfc that GCC vectorises inside `#pragma omp simd` loops (glibc's expf/erff/tanhf
// are scalar calls unless -ffast-math, which we avoid because it breaks NaN/Inf handling elsewhere).
// Vectorising them needs -fno-trapping-math (binding.gyp): otherwise GCC may not speculate the float -> int
// conversion of vexp past its clamps, turns the selects into branches and leaves every loop that calls these scalar
// (GCC 12: GELU ran at ~25 ns per element, 20x slower than vectorised). Clamps are std::min / std::max and the floor
// is std::floor (one vrndscaleps) for the same reason: no data-dependent control flow for jump threading to split.
// Accuracy (checked against float64 references in test/native-kernels.test.ts): exp ~1 ulp, tanh ~2 ulp, erfc
// 1.2e-7 relative.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bertfit {

// Cephes expf: e^x = 2^n * e^r, |r| <= ln2/2, degree-6 polynomial for e^r; ~1 ulp.
#pragma omp declare simd
inline float vexp(float x) {
  x = std::min(x, 88.3762626647949f);   // NaN passes through both clamps (std::min(NaN, c) is NaN)
  x = std::max(x, -87.3365447505531f);  // keeps 2^n normal; e^-87.3 ~ 1.2e-38
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;  // ln2 split in two for an exact reduction
  r = r + n * 2.12194440e-4f;
  float r2 = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return y * scale;
}

// Cephes tanhf: odd polynomial for |x| < 0.625 (no cancellation near 0), 1 - 2/(e^{2|x|}+1) above.
#pragma omp declare simd
inline float vtanh(float x) {
  float ax = x < 0.0f ? -x : x;
  float z = x * x;
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                 3.33332819422e-1f) * z * x + x;
  float e = vexp(2.0f * (ax > 10.0f ? 10.0f : ax));  // tanh(x > 9.1) rounds to 1 in fp32
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;
}

// erfc with fractional error < 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit, "erfcc"). Relative accuracy in
// the tail matters for GELU: gelu(x) = 0.5 x erfc(-x / sqrt2) stays accurate for very negative x, where the
// textbook 0.5 x (1 + erf(x / sqrt2)) cancels to noise.
#pragma omp declare simd
inline float verfc(float x) {
  float z = x < 0.0f ? -x : x;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float r = t * vexp(-z * z + p);
  r = z > 9.3f ? 0.0f : r;  // erfc(9.3) ~ 1e-39 is subnormal; vexp's clamp would not reach it
  return x < 0.0f ? 2.0f - r : r;
}

}  // namespace bertfit
