// BERT embeddings: LayerNorm(word[ids] + position[s] + token_type[tt]), then dropout.
import { native } from '../../native/index.js';
import type { EmbActs } from '../activations.js';
import type { DropSite } from '../dropout.js';
import type { ModelViews } from '../params.js';
import { dropoutBackwardTo } from './residual.js';

type F32 = Float32Array;

/**
 * Args:
 *   a: embedding activations; reads the ids a.ids, a.typeIds, a.posIds [N] (N = B*S), writes a.out [N, H] last
 *   P: parameter views (wordEmb [V, H], posEmb [P, H], typeEmb [T, H], embLnG/embLnB [H])
 */
export function embeddingsForward(a: EmbActs, P: ModelViews, N: number, H: number, eps: number, drop: DropSite): void {
  native.embeddingForward(a.ids, P.wordEmb, a.sum, N, H, false);
  native.embeddingForward(a.posIds, P.posEmb, a.sum, N, H, true);
  native.embeddingForward(a.typeIds, P.typeEmb, a.sum, N, H, true);
  native.layerNormForward(a.sum, P.embLnG, P.embLnB, a.out, a.mean, a.rstd, N, H, eps);
  if (drop.p > 0) native.dropoutForward(a.out, a.out, N * H, drop.p, drop.seed, drop.offset);
}

/**
 * Accumulates the embedding tables' and LayerNorm's gradients into G.
 *
 * Args:
 *   dout: [N, H] gradient of a.out (clobbered when dropout is on)
 *   tmp: [N, H] scratch
 */
export function embeddingsBackward(dout: F32, tmp: F32, a: EmbActs, P: ModelViews, G: ModelViews, N: number, H: number,
  drop: DropSite): void {
  const dnorm = dropoutBackwardTo(dout, dout, drop);
  native.layerNormBackward(dnorm, a.sum, P.embLnG, a.mean, a.rstd, tmp, G.embLnG, G.embLnB, N, H, false);
  native.embeddingBackward(a.ids, tmp, G.wordEmb, N, H);
  native.embeddingBackward(a.posIds, tmp, G.posEmb, N, H);
  native.embeddingBackward(a.typeIds, tmp, G.typeEmb, N, H);
}
