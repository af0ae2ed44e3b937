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
