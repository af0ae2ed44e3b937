// The collectives of data-parallel training, as the trainer (src/train/trainer.ts) uses them: each rank runs its
// contiguous shard of every global batch, the gradients are summed over the ranks (each rank having scaled its
// loss by its share of the batch, the sum is the gradient of the mean over the global batch), and the per-batch
// statistics are summed the same way. Alone (LOCAL), every method is the identity and costs nothing.
import { native } from '../native/index.js';
import { anyRank, sameOnEveryRank } from './agree.js';
import { type Comm, LOCAL } from './comm.js';
import { DistributedError } from './errors.js';
import { type RowRange, shardRows } from './shard.js';

/** What the gradient all-reduces cost so far. */
export interface CommStats {
  /** wall time inside the gradient all-reduce (includes waiting for the slowest rank) */
  gradSeconds: number;
  /** bytes of gradient all-reduced (per rank: the buffer size per reduction) */
  gradBytes: number;
  gradReductions: number;
}

export class DataParallel {
  readonly stats: CommStats = { gradSeconds: 0, gradBytes: 0, gradReductions: 0 };

  constructor(readonly comm: Comm = LOCAL) {}

  /** More than one rank. */
  get active(): boolean {
    return this.comm.size > 1;
  }

  /** The rank that logs, evaluates into files and writes checkpoints. */
  get isRoot(): boolean {
    return this.comm.rank === 0;
  }

  /** This rank's rows of a global batch of `total` rows (see shardRows). */
  rows(total: number): RowRange {
    return shardRows(total, this.comm.rank, this.comm.size);
  }

  /**
   * Sums the flat gradient buffer over the ranks, in place (one fp32 all-reduce of the whole buffer: the buffer is
   * already the fused bucket Horovod's tensor fusion builds). Every rank gets the same sum.
   *
   * Args: grads: [P] this rank's gradient, scaled by its share of the global batch (see lossScale).
   */
  reduceGradients(grads: Float32Array): void {
    if (!this.active) return;
    const t0 = performance.now();
    this.comm.allreduce(grads, 'sum');
    this.stats.gradSeconds += (performance.now() - t0) / 1000;
    this.stats.gradBytes += grads.byteLength;
    this.stats.gradReductions++;
  }

  /**
   * The backward scale of a shard: its rows' share of the global batch, over the micro-batches of one step. The
   * loss of a shard is the mean over its rows, so shard rows / global rows turns the ranks' summed gradients into
   * the gradient of the mean over the global batch (uneven shards and a small last batch included).
   */
  static lossScale(rows: number, total: number, gradAccum: number): number {
    return rows / total / gradAccum;
  }

  /**
   * A micro-batch's mean loss and correct count over the global batch, from this rank's shard (a shard of no rows
   * passes 0, 0, 0).
   *
   * Args: meanLoss: the shard's mean loss; rows: its rows; total: the global batch's rows; correct: its correct
   *   predictions.
   */
  batchTotals(meanLoss: number, rows: number, total: number, correct: number): { loss: number; correct: number } {
    if (!this.active) return { loss: meanLoss, correct };
    const buf = new Float64Array([rows > 0 ? (meanLoss * rows) / total : 0, correct]);
    this.comm.allreduce(buf, 'sum');
    return { loss: buf[0]!, correct: buf[1]! };
  }

  /** True on every rank when `flag` is true on any (a stop request, which all ranks must act on together). */
  anyRank(flag: boolean): boolean {
    return anyRank(this.comm, flag);
  }

  /**
   * Throws unless every rank holds bit-identical parameters (their checksums are compared; one tiny all-reduce after
   * a checksum pass over the parameters). Replicas that apply the same averaged gradient stay identical; a difference
   * means a rank computed something else (another build or CPU kernel path, a bug, corrupted memory) and training on
   * would average gradients of different models.
   *
   * Args: params: [P] the flat parameter buffer; step: optimizer steps done, for the message.
   */
  checkReplicas(params: Float32Array, step: number): void {
    if (!this.active) return;
    const sum = native.checksum(params);
    const [hi, lo] = [parseInt(sum.slice(0, 8), 16), parseInt(sum.slice(8), 16)];
    if (sameOnEveryRank(this.comm, [hi, lo]).every(Boolean)) return;
    throw new DistributedError(`the ranks' weights differ after optimizer step ${step} (rank ${this.comm.rank} on ` +
      `${this.comm.host} has parameter checksum ${sum}); data-parallel replicas must stay bit-identical. Every machine ` +
      'must run the same bertfit build (the same native addon) on the same kind of CPU; resume from checkpoint-last.');
  }

  /**
   * Throws unless every rank has the same value of each named fingerprint (settings, data, model), naming those
   * that differ.
   *
   * Args: parts: [what, fingerprint] pairs; the fingerprints are exact doubles (see fingerprint()).
   */
  checkSameRun(parts: ReadonlyArray<readonly [string, number]>): void {
    if (!this.active) return;
    const same = sameOnEveryRank(this.comm, parts.map(([, v]) => v));
    const differ = parts.filter((_, i) => !same[i]).map(([what]) => what);
    if (differ.length === 0) return;
    throw new DistributedError(`the ${this.comm.size} processes disagree on ${differ.join(', ')}: every process must run ` +
      'the same command, and the data files (and the model, unless it is random:*) must hold the same contents at the ' +
      'same paths on every machine.');
  }
}
