// Peak memory of a training or inference shape, estimated from the model's config before the first step, and checked
// against the memory the machine has free. Without it, a shape that cannot fit (BERT-large at 64 x 512 needs tens of
// GiB of activations) runs for a minute and is then killed by the OOM killer with no message at all.
//
// The estimate follows what the code allocates (model/activations.ts for activations, the trainer for the rest);
// it is meant to be a little high, never much low. The free memory is src/util/memory.ts's budget:
// BERTFIT_MEMORY_LIMIT (e.g. "12G") caps what the process may use, "off" turns the check off.
import type { BertConfig } from '../model/config.js';
import { UsageError } from '../errors.js';
import { formatBytes, memoryBudget } from '../util/memory.js';

/** The shape does not fit in memory: the message says how much it needs, how much there is, and what would fit. */
export class MemoryLimitError extends UsageError {
  override name = 'MemoryLimitError';
}

export interface MemoryShape {
  /** sequences per forward pass */
  batchSize: number;
  /** padded tokens per sequence (the longest a batch can have) */
  seqLen: number;
  /** training (activations kept for backward, gradients, optimizer moments) or inference */
  training: boolean;
  /** bf16 GEMMs: a bf16 copy of the weights, and bf16 operand copies of the activations */
  bf16?: boolean;
}

export interface MemoryEstimate {
  /** bytes that grow with the batch shape */
  activations: number;
  /** bytes that do not: optimizer moments, copies made to keep the best weights and to save checkpoints */
  fixed: number;
  total: number;
}

/**
 * Bytes this process will allocate beyond the model it already holds (parameters and gradients) to run `shape`.
 *
 * Training: per layer the kept activations (qkv, attention probabilities, context, both LayerNorm inputs and the
 * LayerNorm-1 output, the GELU input, statistics), L + 1 hidden states, the shared scratch; Adam's two moments, the
 * copy of the best weights, and the buffers a save encodes (weights + both moments). Inference: one layer slot, two
 * hidden states and the scratch.
 */
export function estimateMemory(config: BertConfig, shape: MemoryShape): MemoryEstimate {
  const { hidden_size: H, intermediate_size: F, num_attention_heads: NH, num_hidden_layers: L, num_labels: C } = config;
  const B = shape.batchSize, S = shape.seqLen;
  const T = B * S, A = B * NH * S * S;
  const slots = shape.training ? L : 1;
  const hidden = shape.training ? L + 1 : 2;
  const floats = slots * (T * (3 * H + H + H + H + F + H + 4) + A)   // qkv ctx res1 h1 pre res2, LN stats; probs
    + hidden * T * H
    + T * (H + 2) + 3 * T                                              // embeddings: sum, stats, ids
    + A + T * F + T * 3 * H + 3 * T * H                                // scratch: att, ff, dqkv, g, t1, t2
    + B * (4 * H + 3 * C);                                             // head
  let bytes = floats * 4;
  if (shape.bf16 && shape.training) bytes += slots * (2 * (6 * T * H + T * F) + 2 * A);
  const P = parameterCount(config);
  const fixed = shape.training ? (8 * P + 4 * P + 12 * P) : 0;
  const weightsBf16 = shape.bf16 ? 2 * P : 0;
  return { activations: bytes, fixed: fixed + weightsBf16, total: bytes + fixed + weightsBf16 };
}

/** Parameters of a BertForSequenceClassification of this config. */
export function parameterCount(c: BertConfig): number {
  const H = c.hidden_size, F = c.intermediate_size;
  const emb = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * H + 2 * H;
  const layer = 3 * H * H + 3 * H + H * H + H + 2 * H + H * F + F + F * H + H + 2 * H;
  return emb + c.num_hidden_layers * layer + H * H + H + c.num_labels * H + c.num_labels;
}

/**
 * Refuses a shape that does not fit in the free memory, before anything is allocated for it.
 *
 * Args: what: the work, for the message ("training random:large"); config, shape: as for estimateMemory.
 * Throws: MemoryLimitError with the estimate, the free memory, and the largest batch size that would fit.
 */
export function checkMemory(what: string, config: BertConfig, shape: MemoryShape): void {
  const budget = memoryBudget();
  if (budget === null) return;
  const free = budget.bytes;
  const need = estimateMemory(config, shape);
  if (need.total <= free) return;
  // activations grow linearly with the batch size: the largest batch of this length that fits
  const perSeq = need.activations / shape.batchSize;
  const fits = Math.floor((free - need.fixed) / perSeq);
  const advice = fits >= 1
    ? `a batch size of at most ${fits} fits at this length${shape.training ? ' (gradient accumulation keeps the effective batch)' : ''}, ` +
      'or use a shorter max length'
    : 'even one sequence of this length does not fit: use a shorter max length or a smaller model';
  throw new MemoryLimitError(`${what} with batch size ${shape.batchSize} x ${shape.seqLen} tokens needs about ` +
    `${formatBytes(need.total)} more memory (activations ${formatBytes(need.activations)}` +
    (need.fixed ? `, optimizer state and copies ${formatBytes(need.fixed)}` : '') + `), but only ${formatBytes(free)} is free ` +
    `(${budget.source}): ${advice}`);
}
