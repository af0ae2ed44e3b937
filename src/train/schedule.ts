// Learning-rate schedules, with the semantics of transformers' get_{constant,linear}_schedule_with_warmup:
// the lr used by optimizer step k (0-based) is baseLr * factor(k), so with warmup the very first step has lr 0.

export type ScheduleKind = 'constant' | 'linear';

export interface ScheduleOptions {
  baseLr: number;
  kind: ScheduleKind;
  /** number of warmup steps (linear ramp from 0) */
  warmupSteps: number;
  /** total optimizer steps of the run (used by 'linear' decay) */
  totalSteps: number;
}

/** lr for optimizer step k (0-based). */
export function learningRate(k: number, o: ScheduleOptions): number {
  if (k < o.warmupSteps) return o.baseLr * (k / Math.max(1, o.warmupSteps));
  if (o.kind === 'constant') return o.baseLr;
  const left = o.totalSteps - k;
  return o.baseLr * Math.max(0, left / Math.max(1, o.totalSteps - o.warmupSteps));
}
