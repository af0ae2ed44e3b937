// How the worker cuts a batch into forward passes. A batch from the batcher mixes requests in arrival order, so its
// lengths are mixed: padding it all to the longest row would waste much of the compute (MRPC pairs run from ~20 to
// ~100 tokens). Rows sorted by length are cut into contiguous groups minimising padded tokens plus a fixed cost per
// forward pass (exact, by dynamic programming over the sorted rows).

/** Padded width of a row as collate's dynamic padding makes it: the next multiple of 8. */
const width = (len: number): number => Math.ceil(len / 8) * 8;

/**
 * Groups of row indices, one forward pass each.
 *
 * Args:
 *   lengths: tokens of each row.
 *   maxRows: most rows in one forward pass.
 *   overheadTokens: the fixed cost of a forward pass, in padded tokens' worth of compute.
 * Returns: index groups; every row in exactly one, rows of similar length together, each group sorted by length.
 */
export function planGroups(lengths: readonly number[], maxRows: number, overheadTokens: number): number[][] {
  const n = lengths.length;
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const w = width(lengths[order[j - 1]!]!); // the group's widest row is its last
    for (let i = Math.max(0, j - maxRows); i < j; i++) {
      const cost = best[i]! + (j - i) * w + overheadTokens;
      if (cost < best[j]!) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = cut[j]!) groups.push(order.slice(cut[j]!, j));
  return groups.reverse();
}
