// Branch-free fp32 exp / tanh / erf that GCC vectorises inside `#pragma omp simd` loops (glibc's expf/erff/tanhf
// are scalar calls unless -ffast-math, which we avoid because it breaks NaN/Inf handling elsewhere).
// Accuracy (checked against float64 references in test/native-kernels.test.ts): a few ulp.
#pragma once
#include <cstdint>
#include <cstring>

namespace bertfit {

// Cephes expf: e^x = 2^n * e^r, |r| <= ln2/2, degree-6 polynomial for e^r; ~1 ulp.
#pragma omp declare simd
inline float vexp(float x) {
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365447505531f ? -87.3365447505531f : x;  // keeps 2^n normal; e^-87.3 ~ 1.2e-38
  float fx = x * 1.44269504088896341f + 0.5f;
  float n = static_cast<float>(static_cast<int32_t>(fx));
  n = n > fx ? n - 1.0f : n;  // floor
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
  float e = vexp(2.0f * (ax > 9.0f ? 9.0f : ax));  // tanh(9) == 1 in fp32
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;
}

// erf via the rational approximation used by Eigen/XLA for fp32 (x clamped to [-4, 4], where erf is +-1 in fp32).
#pragma omp declare simd
inline float verf(float x) {
  x = x > 4.0f ? 4.0f : x;
  x = x < -4.0f ? -4.0f : x;
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  return p / q;
}

}  // namespace bertfit
