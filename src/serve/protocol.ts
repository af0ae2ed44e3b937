// Messages between the server's main thread and its inference worker (node:worker_threads). The main thread owns
// HTTP, validation, tokenization and batching; the worker owns the model and does nothing but forward passes.
import type { Dtype } from '../api/options.js';
import type { ScoreFunction } from '../api/classifier.js';

/** workerData of the inference worker: what to load. */
export interface WorkerInit {
  model: string;
  dtype?: Dtype;
  threads?: number;
  maxLen?: number;
  allowUntrainedHead?: boolean;
  /** test hook: sleep this long before every batch (keeps requests in flight deterministically) */
  batchDelayMs?: number;
}

/** What the worker tells the main thread once the model is loaded. */
export interface ModelInfo {
  /** checkpoint directory or random:<shape> */
  source: string;
  labels: string[];
  numLabels: number;
  /** config.json's problem_type, or null when absent */
  problemType: string | null;
  modelType: string;
  maxLen: number;
  dtype: Dtype;
  defaultFunction: ScoreFunction;
  vocabText: string;
  doLowerCase: boolean;
  padId: number;
  /** the model's token types: 1 means it cannot take sentence pairs */
  typeVocabSize: number;
  notices: string[];
}

/**
 * A batch of encoded sequences, packed: row r is inputIds[offsets[r] .. offsets[r + 1]) (and the same slice of
 * tokenTypeIds). The buffers are transferred, not copied.
 */
export interface PackedBatch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** [rows + 1] start of each row, offsets[rows] = total tokens */
  offsets: Int32Array;
}

export type ToWorker =
  | ({ type: 'batch'; id: number } & PackedBatch)
  /** test hook: the next batch throws (an inference failure) or kills the worker (a crash) */
  | { type: 'fail-next'; kind: 'throw' | 'exit' };

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  /** loading failed; `kind` lets the main thread rebuild the error class (usage errors exit the CLI with 2) */
  | { type: 'load-error'; kind: 'option' | 'usage' | 'other'; message: string; option?: string; problem?: string }
  /** logits [rows, C] in row order; computeMs: the forward passes alone */
  | { type: 'result'; id: number; logits: Float32Array; computeMs: number }
  | { type: 'error'; id: number; message: string };
