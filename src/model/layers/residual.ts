// The "dropout then add the residual" step that follows both projections of an encoder layer, and its gradient.
import { native } from '../../native/index.js';
import type { DropSite } from '../dropout.js';

type F32 = Float32Array;

/** y = x + dropout(y), in place on y.   y, x: [n] */
export function dropoutResidualForward(y: F32, x: F32, drop: DropSite): void {
  if (drop.p > 0) native.dropoutForward(y, y, y.length, drop.p, drop.seed, drop.offset);
  native.axpy(1, x, y);
}

/**
 * Gradient through the dropout branch of dropoutResidualForward: returns d(pre-dropout y), written to `tmp`,
 * or `dy` itself when the site is off (the residual branch's gradient is dy unchanged, left to the caller).
 */
export function dropoutBackwardTo(dy: F32, tmp: F32, drop: DropSite): F32 {
  if (drop.p <= 0) return dy;
  native.dropoutBackward(dy, tmp, dy.length, drop.p, drop.seed, drop.offset);
  return tmp;
}
