// Which part of the work is whose: rows of a training batch and batches of an evaluation, per rank.

/** Rows [start, end) of a batch; empty when start === end. */
export interface RowRange {
  start: number;
  end: number;
}

/**
 * Rank `rank`'s contiguous share of a global batch of `total` rows: the first total % size ranks get one row more.
 * Contiguous (not strided) so a rank's rows are one slice of the collated batch and of every dropout counter range
 * (src/model/dropout.ts). A rank gets no rows when total < size (a small last batch).
 *
 * Args:
 *   total: rows in the global batch (>= 1); rank, size: this rank and the number of ranks.
 * Returns: the row range; the ranges of ranks 0..size-1 tile [0, total) in order.
 */
export function shardRows(total: number, rank: number, size: number): RowRange {
  if (!(Number.isInteger(size) && size >= 1 && Number.isInteger(rank) && rank >= 0 && rank < size)) {
    throw new RangeError(`shardRows: rank ${rank} is not in [0, ${size})`);
  }
  if (!(Number.isInteger(total) && total >= 0)) throw new RangeError(`shardRows: total must be an integer >= 0, got ${total}`);
  const base = Math.floor(total / size), extra = total % size;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/**
 * Whether evaluation batch `index` is this rank's: batches are dealt round-robin, whole, so each keeps the padded
 * width it has in a single-process evaluation (and so the same logits).
 */
export function ownsBatch(index: number, rank: number, size: number): boolean {
  return index % size === rank;
}
