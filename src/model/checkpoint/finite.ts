// The non-finite guard for weights: a checkpoint with a NaN or infinite parameter predicts NaN ("probs": [null])
// for every input it touches, so it is refused when loaded, naming the tensor and how many values are bad.
import { CheckpointError } from './errors.js';

export interface NonFiniteCount {
  nan: number;
  inf: number;
}

/** NaN and ±Infinity counts of `data`, in one pass (x - x is 0 for every finite x, NaN otherwise). */
export function countNonFinite(data: Float32Array): NonFiniteCount {
  let bad = false;
  for (let i = 0; i < data.length; i++) {
    if (data[i] - data[i] !== 0) { bad = true; break; }
  }
  if (!bad) return { nan: 0, inf: 0 };
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (Number.isNaN(x)) nan++;
    else if (x === Infinity || x === -Infinity) inf++;
  }
  return { nan, inf };
}

/**
 * Throws CheckpointError when `data` holds a NaN or infinite value.
 *
 * Args:
 *   data: the tensor's values.
 *   what: the file and tensor, e.g. "model.safetensors: tensor bert.pooler.dense.weight".
 */
export function assertFinite(data: Float32Array, what: string): void {
  const { nan, inf } = countNonFinite(data);
  if (nan || inf) {
    throw new CheckpointError(`${what} has ${nan} NaN and ${inf} infinite values of ${data.length} ` +
      '(a diverged or corrupt checkpoint; bertfit does not load non-finite weights)');
  }
}
