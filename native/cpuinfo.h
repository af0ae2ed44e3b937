// Runtime CPU feature detection (cpuid + xgetbv), reported by info().cpuFeatures.
#pragma once
#include <string>
#include <vector>

namespace bertfit {

// Features both the CPU reports and the OS has enabled (XCR0), e.g. {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}.
std::vector<std::string> cpu_features();

}  // namespace bertfit
