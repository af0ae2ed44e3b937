// One statement of this machine's peak FLOP rate, shared by `bertfit bench` and `npm run bench:gemm`, so their
// "% of peak" columns mean the same thing.

/**
 * Clock assumed under sustained AVX-512 load: BERTFIT_CPU_GHZ when set, else 1.83 GHz — the all-core AVX-512 clock
 * of the Sapphire Rapids part this project is measured on (the 234 GFLOP/s fp32 peak of 2 cores stated in the speed
 * issue). /proc/cpuinfo's nominal clock (2.1 GHz there) overstates what AVX-512 code can sustain.
 */
export function assumedCpuGhz(): number {
  const env = process.env.BERTFIT_CPU_GHZ;
  if (env !== undefined) {
    const g = Number(env);
    if (!Number.isFinite(g) || g <= 0) throw new Error(`BERTFIT_CPU_GHZ must be a positive number of GHz, got '${env}'`);
    return g;
  }
  return 1.83;
}

/** Peak GFLOP/s: threads x clock x 64 FLOP/cycle for fp32 (two AVX-512 FMA units); bf16 doubles it (AVX512-BF16). */
export function cpuPeakGflops(dtype: 'fp32' | 'bf16', threads: number, ghz = assumedCpuGhz()): { gflops: number; assumption: string } {
  const perCycle = dtype === 'bf16' ? 128 : 64;
  return {
    gflops: threads * ghz * perCycle,
    assumption: `${threads} cores x ${ghz.toFixed(2)} GHz x ${perCycle} FLOP/cycle (set BERTFIT_CPU_GHZ to change)`,
  };
}
