// Named fine-tuning recipes. Command-line flags override any value a recipe sets.

export type OptimizerKind = 'adam' | 'adamw';
export type Padding = 'fixed' | 'dynamic';
export type LastBatch = 'keep' | 'discard' | 'rollover';

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  maxLen: number;
  lr: number;
  optimizer: OptimizerKind;
  weightDecay: number;
  adamEps: number;
  beta1: number;
  beta2: number;
  warmupRatio: number;
  schedule: 'constant' | 'linear';
  /** 0 disables clipping */
  clipNorm: number;
  gradAccum: number;
  seed: number;
  logEvery: number;
  padding: Padding;
  bucketing: boolean;
  /** reshuffle the training set every epoch (seeded); false keeps file order */
  shuffle: boolean;
  lastBatch: LastBatch;
  /** stop after this many evaluations without improvement; 0 = off */
  earlyStop: number;
  /** dev metric that picks checkpoint-best (a name in METRIC_NAMES of the problem type; higher is better) */
  metric: string;
  /** multi-label: a label is predicted when its sigmoid is >= this */
  threshold: number;
  dtype: 'fp32' | 'bf16';
  /** 'dev' trains on the task's dev split (the tutorial does); 'train' is the usual */
  trainSplit: 'train' | 'dev';
  /** evaluate on dev after every epoch */
  evalEachEpoch: boolean;
  /** log line format: 'tutorial' = GluonNLP's "[Epoch 1 Batch 4/13] loss=..., lr=..., acc=..." */
  logStyle: 'tutorial' | 'default';
  /** skip up to this many optimizer steps whose loss or gradient norm is NaN/Inf (default 0: stop at the first) */
  skipNonfinite?: number;
}

/** Full-script practice (BERT / transformers run_glue): AdamW, warmup + linear decay, eval every epoch, keep the best. */
export const DEFAULT_RECIPE: TrainSettings = {
  epochs: 3, batchSize: 32, maxLen: 128, lr: 2e-5, optimizer: 'adamw', weightDecay: 0.01, adamEps: 1e-6,
  beta1: 0.9, beta2: 0.999, warmupRatio: 0.1, schedule: 'linear', clipNorm: 1.0, gradAccum: 1, seed: 1,
  logEvery: 10, padding: 'dynamic', bucketing: false, shuffle: true, lastBatch: 'keep', earlyStop: 0, metric: 'accuracy', threshold: 0.5, dtype: 'fp32',
  trainSplit: 'train', evalEachEpoch: true, logStyle: 'default',
};

/** The GluonNLP tutorial "Fine-tuning Sentence Pair Classification with BERT", exactly: it trains on MRPC dev. */
export const TUTORIAL_RECIPE: TrainSettings = {
  ...DEFAULT_RECIPE,
  lr: 5e-6, optimizer: 'adam', weightDecay: 0, adamEps: 1e-9, warmupRatio: 0, schedule: 'constant',
  padding: 'fixed', lastBatch: 'rollover', logEvery: 4, trainSplit: 'dev', evalEachEpoch: false, logStyle: 'tutorial',
};

export const RECIPES: Record<string, TrainSettings> = { default: DEFAULT_RECIPE, tutorial: TUTORIAL_RECIPE };

/** Models up to this hidden size count as small: the default recipe gives them SMALL_MODEL_SETTINGS. */
export const SMALL_MODEL_HIDDEN = 512;

/**
 * The default recipe's learning rate and epochs for small models (MiniLM-L6: hidden 384), found by `bertfit sweep` on
 * MRPC (lr 2e-5 / 5e-5 / 1e-4 x 3 / 5 epochs, bf16): lr 1e-4 x 5 epochs gave 81.29% mean dev accuracy over seeds 1-3
 * against 73.20% for lr 2e-5 x 3 (bench/RESULTS.md, sweep-mrpc). A small model has less capacity to wreck and more
 * to learn per step, so BERT-base's 2e-5 undertrains it; full-size BERT keeps the published 2e-5 x 3.
 */
export const SMALL_MODEL_SETTINGS: Pick<TrainSettings, 'lr' | 'epochs'> = { lr: 1e-4, epochs: 5 };

/**
 * A recipe's settings for a model of the given hidden size: the default recipe with SMALL_MODEL_SETTINGS for a small
 * model, otherwise the recipe as written (the tutorial recipe is always exact).
 *
 * Returns: a fresh copy; undefined for an unknown recipe name.
 */
export function recipeFor(recipe: string, hiddenSize?: number): TrainSettings | undefined {
  const base = Object.hasOwn(RECIPES, recipe) ? RECIPES[recipe] : undefined;
  if (!base) return undefined;
  const small = recipe === 'default' && hiddenSize !== undefined && hiddenSize <= SMALL_MODEL_HIDDEN;
  return small ? { ...base, ...SMALL_MODEL_SETTINGS } : { ...base };
}
