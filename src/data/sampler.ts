// Which examples go into which batch, epoch after epoch: seeded shuffling, a last-batch policy, optional
// length bucketing, and a JSON state so a resumed run sees exactly the batches the interrupted one would.
//
// An epoch's plan is a pure function of (RNG state at the epoch's start, examples rolled over into it), so
// the state is just those two plus the epoch number and how many of its batches were handed out.
import { Rng, type RngState } from './rng.js';

/**
 * What to do with the examples left over when the epoch's size is not a multiple of the batch size:
 * keep them as a smaller last batch, discard them, or roll them over to the start of the next epoch
 * (MXNet/GluonNLP BatchSampler's 'rollover', as the reference GluonNLP recipe uses).
 */
export type LastBatch = 'keep' | 'discard' | 'rollover';
export const LAST_BATCH_POLICIES: readonly LastBatch[] = ['keep', 'discard', 'rollover'];

export interface BucketingOptions {
  /** sequence length of each example [numExamples] */
  lengths: ArrayLike<number>;
  /**
   * examples are sorted by length within windows of windowBatches * batchSize consecutive examples of
   * the shuffled order (Hugging Face group_by_length's "megabatches"); default 50
   */
  windowBatches?: number;
}

export interface SamplerOptions {
  batchSize: number;
  /** shuffle the examples each epoch (default true) */
  shuffle?: boolean;
  /** seed of the shuffling RNG, an integer in [0, 2^32) (default 0) */
  seed?: number;
  /** default 'keep' */
  lastBatch?: LastBatch;
  /** group examples of similar length into the same batch (less padding); batches stay full */
  bucketing?: BucketingOptions;
}

/** Everything needed to resume; plain JSON. */
export interface SamplerState {
  version: 1;
  /** the settings it was made with, checked on restore */
  numExamples: number;
  batchSize: number;
  shuffle: boolean;
  lastBatch: LastBatch;
  windowBatches: number | null;
  /** current epoch (0-based) */
  epoch: number;
  /** batches of the current epoch already handed out */
  position: number;
  /** RNG state at the start of the current epoch */
  rng: RngState;
  /** examples rolled over into the current epoch (its first batch starts with them) */
  carry: number[];
}

interface EpochPlan {
  batches: number[][];
  /** examples rolled over into the next epoch */
  carryOut: number[];
  /** RNG state for the next epoch */
  rngOut: RngState;
}

export class BatchSampler {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly lastBatch: LastBatch;
  private readonly lengths: ArrayLike<number> | null;
  private readonly windowBatches: number | null;
  private epochNo = 0;
  private pos = 0;
  private rng: RngState;
  private carry: number[] = [];
  private plan: EpochPlan | null = null; // derived from the fields above, computed on demand

  /**
   * Args:
   *   numExamples: size of the dataset; batches hold indices in [0, numExamples).
   *   options: see SamplerOptions.
   */
  constructor(readonly numExamples: number, options: SamplerOptions) {
    const { batchSize, shuffle = true, seed = 0, lastBatch = 'keep', bucketing } = options;
    if (!Number.isInteger(numExamples) || numExamples < 1) throw new RangeError(`numExamples must be a positive integer, got ${numExamples}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!LAST_BATCH_POLICIES.includes(lastBatch)) {
      throw new RangeError(`lastBatch must be one of ${LAST_BATCH_POLICIES.join(', ')}, got ${String(lastBatch)}`);
    }
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.lastBatch = lastBatch;
    this.rng = new Rng(seed).state();
    if (bucketing) {
      if (bucketing.lengths.length !== numExamples) {
        throw new RangeError(`bucketing.lengths has ${bucketing.lengths.length} entries for ${numExamples} examples`);
      }
      const w = bucketing.windowBatches ?? 50;
      if (!Number.isInteger(w) || w < 1) throw new RangeError(`bucketing.windowBatches must be a positive integer, got ${w}`);
      this.lengths = bucketing.lengths;
      this.windowBatches = w;
    } else {
      this.lengths = null;
      this.windowBatches = null;
    }
  }

  get epoch(): number {
    return this.epochNo;
  }

  /** Batches of the current epoch already handed out. */
  get position(): number {
    return this.pos;
  }

  /** All batches (lists of example indices) of the current epoch, in order. */
  epochBatches(): readonly (readonly number[])[] {
    return this.currentPlan().batches;
  }

  /**
   * Yields the batches of the current epoch not handed out yet, then moves to the next epoch. A batch
   * counts as handed out (in state()) as soon as it is yielded, so save state after training on it.
   */
  *remaining(): Generator<readonly number[]> {
    const batches = this.currentPlan().batches;
    while (this.pos < batches.length) yield batches[this.pos++]!;
    this.nextEpoch();
  }

  /** Ends the current epoch (whether or not all its batches were handed out) and starts the next. */
  nextEpoch(): void {
    const plan = this.currentPlan();
    this.epochNo++;
    this.pos = 0;
    this.rng = plan.rngOut;
    this.carry = plan.carryOut;
    this.plan = null;
  }

  state(): SamplerState {
    return {
      version: 1, numExamples: this.numExamples, batchSize: this.batchSize, shuffle: this.shuffle,
      lastBatch: this.lastBatch, windowBatches: this.windowBatches,
      epoch: this.epochNo, position: this.pos, rng: [...this.rng], carry: [...this.carry],
    };
  }

  /** Continues from a state() of a sampler made with the same settings; throws RangeError otherwise. */
  restore(state: SamplerState): void {
    const mine = this.state();
    if (state.version !== 1) throw new RangeError(`unknown batch sampler state version ${String(state.version)}`);
    for (const key of ['numExamples', 'batchSize', 'shuffle', 'lastBatch', 'windowBatches'] as const) {
      if (state[key] !== mine[key]) {
        throw new RangeError(`cannot resume the batch order: the checkpoint has ${key} ${String(state[key])}, this run ${String(mine[key])}`);
      }
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0 ||
        !Array.isArray(state.carry) || !state.carry.every((i) => Number.isInteger(i) && i >= 0 && i < this.numExamples) ||
        state.carry.length >= this.batchSize) {
      throw new RangeError('invalid batch sampler state: ' + JSON.stringify(state).slice(0, 200));
    }
    const rng = Rng.fromState(state.rng).state(); // validates
    this.epochNo = state.epoch;
    this.pos = state.position;
    this.rng = rng;
    this.carry = [...state.carry];
    this.plan = null;
    if (this.pos > this.currentPlan().batches.length) {
      throw new RangeError(`invalid batch sampler state: position ${this.pos} is past the epoch's ${this.currentPlan().batches.length} batches`);
    }
  }

  private currentPlan(): EpochPlan {
    return (this.plan ??= this.makePlan());
  }

  private makePlan(): EpochPlan {
    const rng = Rng.fromState(this.rng);
    const order = Array.from({ length: this.numExamples }, (_, i) => i);
    if (this.shuffle) rng.shuffle(order);
    const seq = this.carry.concat(order);
    const B = this.batchSize;
    const full = seq.length - (seq.length % B);
    const leftover = seq.slice(full);
    const batches = this.lengths === null ? chunk(seq, full, B) : this.bucket(seq, full);
    // Bucketed batches come out sorted by length within each window; shuffling them mixes the lengths.
    if (this.lengths !== null && this.shuffle) rng.shuffle(batches);
    let carryOut: number[] = [];
    if (leftover.length > 0) {
      if (this.lastBatch === 'keep') batches.push(leftover);
      else if (this.lastBatch === 'rollover') carryOut = leftover;
    }
    return { batches, carryOut, rngOut: rng.state() };
  }

  // Full batches of similar lengths: seq[0, full) is cut into windows, each window is sorted by length
  // (stable, so ties keep the shuffled order) and cut into batches.
  private bucket(seq: number[], full: number): number[][] {
    const lengths = this.lengths!;
    const window = this.windowBatches! * this.batchSize;
    const sorted: number[] = [];
    for (let w = 0; w < full; w += window) {
      const part = seq.slice(w, Math.min(w + window, full));
      part.sort((x, y) => lengths[y]! - lengths[x]!);
      for (const i of part) sorted.push(i);
    }
    return chunk(sorted, full, this.batchSize);
  }
}

// seq[0, end) cut into consecutive batches of `size` (end is a multiple of size).
function chunk(seq: readonly number[], end: number, size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < end; i += size) out.push(seq.slice(i, i + size));
  return out;
}
