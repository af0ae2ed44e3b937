#include "cpuinfo.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <cstdint>

namespace bertfit {

#if defined(__x86_64__) || defined(__i386__)
namespace {
struct Regs { uint32_t a = 0, b = 0, c = 0, d = 0; };

Regs cpuid(uint32_t leaf, uint32_t sub) {
  Regs r;
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) r = Regs{};
  return r;
}

uint64_t xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t v, int i) { return (v >> i) & 1u; }
}  // namespace

std::vector<std::string> cpu_features() {
  std::vector<std::string> out;
  const Regs l1 = cpuid(1, 0);
  if (bit(l1.c, 19)) out.push_back("sse4_1");
  if (bit(l1.c, 20)) out.push_back("sse4_2");
  // Vector state must be enabled by the OS (XCR0) before AVX / AVX-512 / AMX instructions may run.
  const bool os_xsave = bit(l1.c, 27);
  const uint64_t x = os_xsave ? xcr0() : 0;
  const bool os_avx = (x & 0x6) == 0x6;           // SSE + AVX state
  const bool os_avx512 = os_avx && (x & 0xE0) == 0xE0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  const bool os_amx = (x & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  if (os_avx && bit(l1.c, 28)) out.push_back("avx");
  if (os_avx && bit(l1.c, 12)) out.push_back("fma");
  if (os_avx && bit(l1.c, 29)) out.push_back("f16c");
  const uint32_t max_leaf = cpuid(0, 0).a;
  if (max_leaf < 7) return out;
  const Regs l7 = cpuid(7, 0);
  const Regs l71 = cpuid(7, 1);
  if (os_avx && bit(l7.b, 5)) out.push_back("avx2");
  if (os_avx && bit(l71.a, 4)) out.push_back("avx_vnni");
  if (os_avx512) {
    if (bit(l7.b, 16)) out.push_back("avx512f");
    if (bit(l7.b, 17)) out.push_back("avx512dq");
    if (bit(l7.b, 28)) out.push_back("avx512cd");
    if (bit(l7.b, 30)) out.push_back("avx512bw");
    if (bit(l7.b, 31)) out.push_back("avx512vl");
    if (bit(l7.c, 11)) out.push_back("avx512_vnni");
    if (bit(l71.a, 5)) out.push_back("avx512_bf16");
    if (bit(l7.d, 23)) out.push_back("avx512_fp16");
  }
  if (os_amx) {
    if (bit(l7.d, 24)) out.push_back("amx_tile");
    if (bit(l7.d, 22)) out.push_back("amx_bf16");
    if (bit(l7.d, 25)) out.push_back("amx_int8");
  }
  return out;
}
#else
std::vector<std::string> cpu_features() { return {}; }
#endif

}  // namespace bertfit
